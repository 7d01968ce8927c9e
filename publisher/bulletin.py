"""The press bulletin of a release: headline figures in Azerbaijani and English, with charts.

For each release the publisher writes a short summary for journalists, stored with the
release and served by the API at the release time under /releases/{id}/ (the pages refer
to their charts by relative URL, so they sit side by side there). ``build`` is a pure
function of the release and the public figures; it touches no database.

Rules:

* Only public values (after disclosure control) are used. A withheld value (NaN) is
  never a headline, never drawn in a chart and never used to compute a change.
* The headline of a dataflow is its grand-total series: for each dimension its total
  code, that is the code the content marks as the total (``total: true``), else ``_T``,
  else the codelist's single root when every other code descends from it, else for a
  FREQ dimension the dataflow's frequency. A dimension without a total (application
  stage, enforcement measure...) gives the dataflow no headline: its codes do not add up,
  so no single number speaks for it. The figure is the latest period whose value is
  public.
* Changes: on the previous period and on the same period a year earlier (for annual
  data these are the same comparison, stated once), as a difference and a percentage,
  each only when both values are public, otherwise "not available". The percentage is
  left out when the earlier value is not positive (a percentage of zero or of a negative
  balance means nothing).
* Dataflows with a country dimension (codelist CL_AREA: citizenship, destination...)
  also get their three largest countries in the latest period (public values only,
  leaf codes only: not continents, not "unknown").
* One SVG chart per headline: the last 12 public periods of the total series as bars,
  withheld periods in between left as gaps. Charts are shared by both languages, so they
  carry only period codes, numbers, component ids and the dataflow id. The same input
  gives the same bytes.
* Dataflows without a headline (no total, or nothing public) are named at the end.
* Text avoids Azerbaijani case suffixes after numbers ("Dövr: 2024", not "2024-cü il"),
  which would need vowel harmony on the spoken number.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

LANGUAGES = ("az", "en")
CHART_PERIODS = 12
# Codelists whose codes are countries: the "largest groups" line is drawn from these.
COUNTRY_CODELISTS = ("CL_AREA",)
# Codes that are not a group of people one can name in a news story.
NOT_A_GROUP = {"UNK", "_U", "_X", "_Z"}
# Fixed salt: matplotlib otherwise salts SVG element ids with a random UUID, and the same
# release must give the same bytes (stored once, compared, cached).
SVG_SALT = "azmigstat-bulletin"

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        BAKU = ZoneInfo("Asia/Baku")
    except ZoneInfoNotFoundError:  # slim images without a time-zone database
        BAKU = timezone(timedelta(hours=4), "AZT")  # no summer time since 2016
except ImportError:  # pragma: no cover
    BAKU = timezone(timedelta(hours=4), "AZT")


@dataclass
class FlowFigures:
    flow: dict  # the dataflow document
    dsd: dict  # its data structure document
    codelists: dict  # dimension (or attribute) id -> codelist document
    # series_key (codes joined by "."), time_period (SDMX text), value (float, NaN =
    # withheld): the public values of the whole dataflow as they will be after the release
    observations: pd.DataFrame


# --- periods --------------------------------------------------------------------------
# A period is handled as (frequency, ordinal): consecutive periods have consecutive
# ordinals, so "previous" is n - 1 and "a year earlier" n - PER_YEAR[freq].

PER_YEAR = {"A": 1, "Q": 4, "M": 12}

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    # Capitalised as a month stands alone ("İyul 2024"); dates use the lower-case form.
    "az": ["Yanvar", "Fevral", "Mart", "Aprel", "May", "İyun", "İyul", "Avqust",
           "Sentyabr", "Oktyabr", "Noyabr", "Dekabr"],
}
# Lower case by hand: Python's lower() turns "İ" into "i" plus a combining dot.
MONTHS_LOWER_AZ = ["yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avqust",
                   "sentyabr", "oktyabr", "noyabr", "dekabr"]
ROMAN = ["I", "II", "III", "IV"]


def ordinal(period: str, freq: str) -> int | None:
    """The period's ordinal if it is written in frequency `freq`, else None."""
    p = str(period).strip()
    try:
        if freq == "A" and len(p) == 4:
            return int(p)
        if freq == "Q" and len(p) == 7 and p[4:6] == "-Q" and p[6] in "1234":
            return int(p[:4]) * 4 + int(p[6]) - 1
        if freq == "M" and len(p) == 7 and p[4] == "-" and 1 <= int(p[5:]) <= 12:
            return int(p[:4]) * 12 + int(p[5:]) - 1
    except ValueError:
        return None
    return None


def period_code(freq: str, n: int) -> str:
    if freq == "A":
        return str(n)
    if freq == "Q":
        return f"{n // 4}-Q{n % 4 + 1}"
    return f"{n // 12}-{n % 12 + 1:02d}"


def period_text(freq: str, n: int, lang: str) -> str:
    """2024 Q3 / 2024, III rüb; July 2024 / İyul 2024; 2024."""
    if freq == "A":
        return str(n)
    if freq == "Q":
        year, q = divmod(n, 4)
        return f"{year} Q{q + 1}" if lang == "en" else f"{year}, {ROMAN[q]} rüb"
    year, m = divmod(n, 12)
    return f"{MONTHS[lang][m]} {year}"


# --- numbers --------------------------------------------------------------------------

# az groups thousands with a narrow no-break space (a number never breaks across lines)
# and writes a decimal comma.
SEPARATORS = {"en": (",", "."), "az": ("\u202f", ","), "chart": ("\u2009", ".")}


def number(x: float, lang: str, decimals: int = 0, sign: bool = False) -> str:
    """12,345 / 12 345; with sign: +445, -3, 0 (no sign on what rounds to zero)."""
    x = round(x, decimals)
    group, point = SEPARATORS[lang]
    text = f"{abs(x):,.{decimals}f}".replace(",", "\0").replace(".", point).replace("\0", group)
    if x < 0:
        return "-" + text
    return ("+" + text) if sign and x > 0 else text


def percent(x: float, lang: str) -> str:
    return number(x, lang, 1, sign=True) + "%"


def decimals_of(flow: dict, values: list[float]) -> int:
    """The decimals to show: the dataflow's DECIMALS attribute, else as few as the
    values need (counts: none; rates: one or two)."""
    given = (flow.get("series_attributes") or {}).get("DECIMALS")
    if given is not None and str(given).isdigit():
        return int(given)
    for d in (0, 1, 2):
        if all(abs(v * 10 ** d - round(v * 10 ** d)) < 1e-6 for v in values):
            return d
    return 2


# --- the headline of one dataflow -----------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    period: int  # ordinal
    value: float | None  # None: not public (withheld or absent)
    latest: float

    @property
    def available(self) -> bool:
        return self.value is not None

    @property
    def difference(self) -> float:
        return self.latest - self.value

    @property
    def percent(self) -> float | None:
        # A percentage of zero or of a negative balance means nothing.
        return self.difference / self.value * 100 if self.value and self.value > 0 else None


@dataclass
class Headline:
    figures: FlowFigures
    freq: str
    latest: int  # ordinal of the latest public period
    value: float
    series: list[tuple[int, float | None]]  # the chart: (ordinal, public value or None)
    decimals: int
    previous: Comparison
    year_ago: Comparison | None  # None for annual data: the previous period is the year before
    groups: list[tuple[dict, float]] = field(default_factory=list)  # (names, value), largest first

    @property
    def flow_id(self) -> str:
        return self.figures.flow["id"]


def total_code(dim_id: str, codelist: dict | None, frequency: str | None) -> str | None:
    """The code of a dimension that means "all", or None if the dimension has none."""
    if dim_id == "FREQ":
        return frequency
    if not codelist:
        return None
    codes = codelist.get("codes") or []
    for c in codes:
        if (c.get("annotations") or {}).get("TOTAL") == "true":
            return c["id"]
    ids = {c["id"] for c in codes}
    if "_T" in ids:
        return "_T"
    # A root counts only if it is the sole root: CL_APPL_STAGE's DECIDED is the parent of
    # GRANTED and REFUSED but not of RECEIVED, so it is not a total of the dimension.
    roots = [c["id"] for c in codes if c.get("parent") not in ids]
    parents = {c.get("parent") for c in codes}
    if len(roots) == 1 and roots[0] in parents:
        return roots[0]
    return None


def _total_codes(ff: FlowFigures) -> dict[str, str] | None:
    out = {}
    for dim in ff.dsd.get("dimensions") or []:
        code = total_code(dim["id"], ff.codelists.get(dim["id"]), ff.flow.get("frequency"))
        if code is None:
            return None
        out[dim["id"]] = code
    return out or None


def _public(obs: pd.DataFrame, key: str, freq: str) -> dict[int, float]:
    """Ordinal -> value of the public observations of one series."""
    rows = obs[obs["series_key"] == key]
    out = {}
    for period, value in zip(rows["time_period"], rows["value"]):
        n = ordinal(period, freq)
        if n is not None and value is not None and not pd.isna(value):
            out[n] = float(value)
    return out


def _groups(ff: FlowFigures, totals: dict[str, str], period: str) -> list[tuple[dict, float]]:
    """The three largest countries in `period`, the other dimensions at their totals."""
    dims = list(totals)
    country_dim = next((d for d in dims if (ff.codelists.get(d) or {}).get("id") in COUNTRY_CODELISTS), None)
    if country_dim is None:
        return []
    codelist = ff.codelists[country_dim]
    parents = {c.get("parent") for c in codelist["codes"]}
    candidates = {}
    for c in codelist["codes"]:
        # Leaves only: a continent is not a "group", and would outrank its countries.
        if c["id"] in parents or c["id"] in NOT_A_GROUP or c["id"] == totals[country_dim]:
            continue
        key = ".".join(c["id"] if d == country_dim else totals[d] for d in dims)
        candidates[key] = c
    obs = ff.observations
    rows = obs[(obs["time_period"] == period) & obs["series_key"].isin(candidates.keys())]
    rows = rows[rows["value"].notna() & (rows["value"] > 0)]
    ranked = sorted(zip(rows["series_key"], rows["value"]), key=lambda kv: (-kv[1], kv[0]))
    return [(candidates[k]["name"], float(v)) for k, v in ranked[:3]]


def headline(ff: FlowFigures) -> Headline | None:
    """The headline of a dataflow, or None (no total series, or nothing public)."""
    freq = ff.flow.get("frequency")
    totals = _total_codes(ff)
    if freq not in PER_YEAR or totals is None:
        return None
    public = _public(ff.observations, ".".join(totals.values()), freq)
    if not public:
        return None
    latest = max(public)
    value = public[latest]
    shown = sorted(public)[-CHART_PERIODS:]
    series = [(n, public.get(n)) for n in range(shown[0], latest + 1)]
    previous = Comparison(latest - 1, public.get(latest - 1), value)
    year_ago = None if freq == "A" else Comparison(latest - PER_YEAR[freq], public.get(latest - PER_YEAR[freq]), value)
    groups = _groups(ff, totals, period_code(freq, latest))
    used = [v for _, v in series if v is not None] + [v for _, v in groups]
    return Headline(ff, freq, latest, value, series, decimals_of(ff.flow, used), previous, year_ago, groups)


# --- text -----------------------------------------------------------------------------

TEXT = {
    "en": {
        "kind": "Press summary of the release",
        "release": "Release No. {id}",
        "published": "Published {when} (Baku time)",
        "corrects": "This release corrects release No. {n}.",
        "period": "Period",
        "unit": "Unit",
        "previous": {"A": "Compared with the previous year", "Q": "Compared with the previous quarter",
                     "M": "Compared with the previous month"},
        "year_ago": {"Q": "Compared with the same quarter a year earlier",
                     "M": "Compared with the same month a year earlier"},
        "na": "not available",
        "groups": "Largest groups by country",
        "chart": "Chart: {name}, {first} to {last}",
        "also": "Also in this release",
        "footer": "Withheld figures (disclosure control) are not shown.",
        "none": "This release has no headline figures.",
    },
    "az": {
        "kind": "Buraxılışın mətbuat üçün xülasəsi",
        "release": "Buraxılış № {id}",
        "published": "Dərc olunma vaxtı: {when} (Bakı vaxtı)",
        "corrects": "Bu buraxılış № {n} buraxılışına düzəlişdir.",
        "period": "Dövr",
        "unit": "Ölçü vahidi",
        "previous": {"A": "Əvvəlki illə müqayisədə", "Q": "Əvvəlki rüblə müqayisədə",
                     "M": "Əvvəlki ayla müqayisədə"},
        "year_ago": {"Q": "Ötən ilin eyni rübü ilə müqayisədə", "M": "Ötən ilin eyni ayı ilə müqayisədə"},
        "na": "məlumat yoxdur",
        "groups": "Ölkələr üzrə ən böyük qruplar",
        "chart": "Diaqram: {name}, {first} – {last}",
        "also": "Bu buraxılışa həmçinin daxildir",
        "footer": "Məxfiliyin qorunması məqsədilə gizlədilmiş rəqəmlər göstərilmir.",
        "none": "Bu buraxılışda əsas göstəricilər yoxdur.",
    },
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;max-width:46rem;
margin:0 auto;padding:1rem;line-height:1.5;color:#1a1a1a;background:#fff}
h1{font-size:1.6rem;line-height:1.25;margin:.3rem 0}
h2{font-size:1.2rem;margin:0 0 .3rem}
.kind,.meta,footer{color:#555}
.kind{text-transform:uppercase;letter-spacing:.05em;font-size:.8rem;margin:0}
.correction{background:#fff4e5;border-left:4px solid #e69500;padding:.5rem .8rem}
section{border-top:1px solid #ddd;padding:1rem 0}
.figure{font-size:2.2rem;font-weight:700;margin:0}
ul{padding-left:1.2rem}
img{max-width:100%;height:auto}
footer{border-top:1px solid #ddd;margin-top:1.5rem;font-size:.9rem}
""".strip()


def name(names: dict | None, lang: str, default: str = "") -> str:
    names = names or {}
    return names.get(lang) or names.get("en") or next(iter(names.values()), default) or default


def when(release_time: datetime, lang: str) -> str:
    """The release time in Baku: 15 July 2025, 10:00 / 15 iyul 2025, 10:00."""
    if release_time.tzinfo is None:  # documented as UTC
        release_time = release_time.replace(tzinfo=timezone.utc)
    t = release_time.astimezone(BAKU)
    month = MONTHS["en"][t.month - 1] if lang == "en" else MONTHS_LOWER_AZ[t.month - 1]
    return f"{t.day} {month} {t.year}, {t:%H:%M}"


def unit_name(ff: FlowFigures, lang: str) -> str | None:
    unit = ff.flow.get("unit")
    if not unit:
        return None
    for c in (ff.codelists.get("UNIT_MEASURE") or {}).get("codes", []):
        if c["id"] == unit:
            return name(c["name"], lang, unit)
    return unit


def comparison_line(label: str, h: Headline, c: Comparison, lang: str) -> str:
    when_ = period_text(h.freq, c.period, lang)
    if not c.available:  # the withheld value is not named, only the period
        return f"{label} ({when_}): {TEXT[lang]['na']}"
    change = number(c.difference, lang, h.decimals, sign=True)
    if c.percent is not None:
        change += f" ({percent(c.percent, lang)})"
    return f"{label} ({when_}: {number(c.value, lang, h.decimals)}): {change}"


def headline_html(h: Headline, lang: str) -> str:
    e = html.escape
    t = TEXT[lang]
    flow = h.figures.flow
    meta = f"{t['period']}: {period_text(h.freq, h.latest, lang)}"
    if (unit := unit_name(h.figures, lang)) is not None:
        meta += f" · {t['unit']}: {unit}"
    lines = [comparison_line(t["previous"][h.freq], h, h.previous, lang)]
    if h.year_ago is not None:
        lines.append(comparison_line(t["year_ago"][h.freq], h, h.year_ago, lang))
    items = "".join(f"<li>{e(line)}</li>" for line in lines)
    parts = [f'<section id="{e(h.flow_id)}">',
             f"<h2>{e(name(flow.get('name'), lang, h.flow_id))}</h2>",
             f'<p class="figure">{e(number(h.value, lang, h.decimals))}</p>',
             f'<p class="meta">{e(meta)}</p>',
             f"<ul>{items}</ul>"]
    if h.groups:
        groups = ", ".join(f"{name(n, lang)} ({number(v, lang, h.decimals)})" for n, v in h.groups)
        parts.append(f"<p>{e(t['groups'])}: {e(groups)}</p>")
    alt = t["chart"].format(name=name(flow.get("name"), lang, h.flow_id),
                            first=period_text(h.freq, h.series[0][0], lang),
                            last=period_text(h.freq, h.latest, lang))
    parts.append(f'<img src="{e(chart_name(h.flow_id))}" alt="{e(alt)}" width="720" height="360">')
    parts.append("</section>")
    return "\n".join(parts)


def page(release: dict, headlines: list[Headline], others: list[FlowFigures], lang: str) -> str:
    e = html.escape
    t = TEXT[lang]
    title = name(release.get("title"), lang, t["release"].format(id=release["id"]))
    body = [f'<p class="kind">{e(t["kind"])} · {e(t["release"].format(id=release["id"]))}</p>',
            f"<h1>{e(title)}</h1>",
            f'<p class="meta">{e(t["published"].format(when=when(release["release_time"], lang)))}</p>']
    if release.get("corrects") is not None:
        body.append(f'<p class="correction">{e(t["corrects"].format(n=release["corrects"]))}</p>')
    body += [headline_html(h, lang) for h in headlines] or [f"<p>{e(t['none'])}</p>"]
    if others:
        names = "".join(f"<li>{e(name(ff.flow.get('name'), lang, ff.flow.get('id', '')))}</li>" for ff in others)
        body.append(f"<section><h2>{e(t['also'])}</h2><ul>{names}</ul></section>")
    body.append(f"<footer><p>{e(t['footer'])}</p></footer>")
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


# --- charts ---------------------------------------------------------------------------

def chart_name(flow_id: str) -> str:
    return f"chart-{flow_id}.svg"


def chart(h: Headline) -> bytes:
    """The headline series as an SVG bar chart; withheld periods are empty slots."""
    codes = [period_code(h.freq, n) for n, _ in h.series]
    xs = [i for i, (_, v) in enumerate(h.series) if v is not None]
    ys = [v for _, v in h.series if v is not None]
    fmt = lambda v: number(v, "chart", h.decimals)  # noqa: E731 - one-line formatter

    # Figure without pyplot: no global figure registry, nothing to close, thread-safe.
    fig = Figure(figsize=(7.2, 3.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(xs, ys, color="#2b6cb0", width=0.7)
    labels = ax.bar_label(bars, labels=[fmt(v) for v in ys], fontsize=7, padding=2)
    for i, label in zip(xs, labels):
        label.set_gid(f"value-{codes[i]}")  # <g id="value-2024-Q3">: findable in the SVG
    ax.set_xticks(range(len(codes)), codes, rotation=45 if len(codes) > 6 else 0,
                  ha="right" if len(codes) > 6 else "center", fontsize=8)
    ax.set_xlim(-0.6, len(codes) - 0.4)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=h.decimals == 0))
    ax.margins(y=0.12)
    ax.autoscale_view()
    # Ticks may need more decimals than the data (0.15 between 0.1 and 0.2).
    tick_decimals = max(h.decimals, decimals_of({}, list(ax.get_yticks())))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number(v, "chart", tick_decimals)))
    ax.axhline(0, color="#444", linewidth=0.8)
    ax.set_title(h.flow_id, fontsize=10)
    ax.set_xlabel((h.figures.dsd.get("time_dimension") or {}).get("id", "TIME_PERIOD"), fontsize=8)
    measure = (h.figures.dsd.get("primary_measure") or {}).get("id", "OBS_VALUE")
    unit = h.figures.flow.get("unit")
    ax.set_ylabel(f"{measure} ({unit})" if unit else measure, fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    out = io.BytesIO()
    # svg.hashsalt: element ids from a fixed salt, not a random one; svg.fonttype none:
    # text as <text> (small, searchable, readable by screen readers) rather than glyph
    # paths. rc_context is a short-lived change of matplotlib's global settings.
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "none"}):
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


# --- the whole bulletin ---------------------------------------------------------------

def build(release: dict, flows: list[FlowFigures]) -> dict[str, tuple[str, bytes]]:
    """name -> (media type, content): "bulletin-az.html", "bulletin-en.html", and
    "chart-{DATAFLOW_ID}.svg" per headline chart. Flows keep the order given."""
    headlines: list[Headline] = []
    others: list[FlowFigures] = []
    for ff in flows:
        h = headline(ff)
        if h is None:
            others.append(ff)
        else:
            headlines.append(h)
    out: dict[str, tuple[str, bytes]] = {}
    for lang in LANGUAGES:
        out[f"bulletin-{lang}.html"] = ("text/html; charset=utf-8",
                                        page(release, headlines, others, lang).encode("utf-8"))
    for h in headlines:
        out[chart_name(h.flow_id)] = ("image/svg+xml", chart(h))
    return out
