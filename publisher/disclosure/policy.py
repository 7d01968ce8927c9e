"""What a dataflow declares about disclosure control, and the protection it requires.

In the dataflow file::

    disclosure:
      method: suppression      # suppression | rounding | cellkey | none
      threshold: 3             # counts from 1 to threshold-1 are unsafe
      width: 3                 # an attacker's interval for an unsafe count is at least this wide
      base: 5                  # rounding: the base
      max_noise: 2             # cellkey: D, the largest change a count can get
      population: RESPERM      # dataflows with the same population are protected together
      time_additive: true      # a year is the sum of its quarters (flows); false for stocks
      reason: {az: ..., en: ..., ru: ...}   # method none: why no protection is needed
      derived: {from: DF_X, terms: {DIM: {CODE: 1, OTHER: -1}}}   # method none: checked

`none` is for figures that single nobody out (a quota set by decree, a national rate
computed from published totals); its reason is published instead of a rule.

A withheld unsafe count must be protected so that nobody can prove it is small: the
largest value consistent with everything published is at least `threshold`, and the
interval is at least `width` wide.
"""

from __future__ import annotations

from dataclasses import dataclass


METHODS = ("suppression", "rounding", "cellkey", "none")


@dataclass(frozen=True)
class Policy:
    method: str = "suppression"
    threshold: int = 3
    width: int = 3
    zeros_published: bool = True  # zeros are not unsafe: shown as 0 unless withheld as secondaries
    base: int = 5
    max_noise: int = 2
    population: str | None = None
    time_additive: bool = True
    # "threshold": an unsafe count's interval reaches `threshold` and is `width` wide;
    # "interval": it covers [value - margin, value + margin] (tau-Argus's rule for counts).
    rule: str = "threshold"
    margin: int = 1
    reason: dict | None = None  # method none: why, in az, en and ru
    # method none: computed from another dataflow's published counts, checked by the
    # audit (publisher.disclosure.derived): {"from": flow id, "terms": {dim: {code: coef}}}
    derived: dict | None = None

    def __hash__(self) -> int:  # `reason` is a dict; policies are compared, not hashed by it
        return hash((self.method, self.threshold, self.width, self.base, self.max_noise, self.population))

    @classmethod
    def from_content(cls, spec: dict | None) -> "Policy":
        spec = dict(spec or {})
        known = {f: spec.pop(f) for f in list(spec) if f in cls.__dataclass_fields__}
        if spec:
            raise ValueError(f"unknown disclosure settings: {', '.join(sorted(spec))}")
        policy = cls(**known)
        if policy.method not in METHODS:
            raise ValueError(f"disclosure method {policy.method!r} is not one of {', '.join(METHODS)}")
        if policy.method == "none":
            langs = ("az", "en", "ru")
            if not isinstance(policy.reason, dict) or any(not str(policy.reason.get(k) or "").strip()
                                                          for k in langs):
                raise ValueError("method none needs a reason in az, en and ru (it is published)")
        elif policy.reason is not None:
            raise ValueError("a reason is given only with method none")
        if policy.derived is not None and policy.method != "none":
            raise ValueError("derived is declared only with method none")
        return policy

    @property
    def attacker_lower(self) -> int:
        """What an attacker knows a withheld count is at least. Zeros are published as
        zeros and never withheld, and empty cells are left out of extracts, so a
        withheld cell is known not to be empty: 1. (Otherwise 0.)"""
        return 1 if self.zeros_published else 0

    def is_unsafe(self, value: float) -> bool:
        return 0 < value < self.threshold

    def upward_room(self, value: float) -> float:
        """How far above its value an unsafe cell's interval must reach."""
        if self.rule == "interval":
            return self.margin
        low = self.attacker_lower
        return max(self.threshold - value, self.width - (value - low), 0)

    def protected(self, value: float, low: float, high: float) -> bool:
        if self.rule == "interval":
            return low <= value - self.margin and high >= value + self.margin
        return high >= self.threshold and high - low >= self.width and low <= value <= high

    def borderline(self, value: float, low: float, high: float) -> bool:
        """Protected by the LP's bounds, but by less than one unit: integer bounds may
        be tighter, so the integer model decides."""
        if not self.protected(value, low, high):
            return False
        if self.rule == "interval":
            return value - low < self.margin + 1 or high - value < self.margin + 1
        return high - self.threshold < 1 or (high - low) - self.width < 1

    def describe(self, lang: str = "en") -> str:
        """The rule in words a journalist understands (SIMS section 7, Confidentiality)."""
        n = self.threshold
        if self.method == "none":
            return str(self.reason[lang])
        if self.method == "suppression":
            return {
                "en": (f"To protect people's privacy, numbers from 1 to {n - 1} are not published, and "
                       "some other numbers are withheld too, so that the hidden ones cannot be worked out "
                       "from totals. Withheld numbers are shown as 'confidential' (no value). Zeros are "
                       "published. The office checks every release with a computer audit before it goes out."),
                "az": (f"Şəxslərin məxfiliyini qorumaq üçün 1-dən {n - 1}-ə qədər olan rəqəmlər dərc edilmir; "
                       "gizlədilmiş rəqəmlərin cəmlərdən hesablanmaması üçün bəzi digər rəqəmlər də gizlədilir. "
                       "Belə rəqəmlər 'məxfi' kimi göstərilir (dəyərsiz). Sıfırlar dərc edilir. Hər buraxılış "
                       "dərcdən əvvəl kompüter auditi ilə yoxlanılır."),
                "ru": (f"Для защиты конфиденциальности числа от 1 до {n - 1} не публикуются, а некоторые "
                       "другие числа также скрываются, чтобы скрытые значения нельзя было вычислить из итогов. "
                       "Скрытые значения помечены как «конфиденциально». Нули публикуются."),
            }[lang]
        if self.method == "rounding":
            return {
                "en": (f"Every number is rounded to the nearest multiple of {self.base}, totals included: "
                       "totals are rounded on their own, so parts may not add up exactly to the total."),
                "az": (f"Bütün rəqəmlər, cəmlər də daxil olmaqla, {self.base}-ə bölünən ən yaxın ədədə "
                       "yuvarlaqlaşdırılır; cəmlər ayrıca yuvarlaqlaşdırıldığından hissələrin cəmi ümumi "
                       "rəqəmə tam bərabər olmaya bilər."),
                "ru": (f"Все числа, включая итоги, округляются до ближайшего кратного {self.base}; итоги "
                       "округляются отдельно, поэтому сумма частей может не совпадать с итогом."),
            }[lang]
        return {
            "en": (f"Every number has a small, fixed amount of noise added (at most {self.max_noise} either "
                   "way, zero on average), so that no person can be singled out. The same number always gets "
                   "the same noise. Zeros stay zero and no number is negative."),
            "az": (f"Hər rəqəmə kiçik, sabit səs-küy əlavə edilir (hər iki tərəfə ən çoxu {self.max_noise}, "
                   "orta hesabla sıfır); eyni rəqəm həmişə eyni dəyişikliyi alır. Sıfırlar sıfır qalır, "
                   "mənfi rəqəm olmur."),
            "ru": (f"К каждому числу добавляется небольшой фиксированный шум (не более {self.max_noise} в "
                   "любую сторону, в среднем ноль); одно и то же число всегда получает один и тот же шум."),
        }[lang]
