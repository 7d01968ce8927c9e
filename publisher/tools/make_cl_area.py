"""Regenerate codelists/CL_AREA.yaml from pycountry and country_converter.

Sources, each for what it keeps best:
- pycountry (ISO 3166-1 and its gettext catalogues): the ids (alpha-2), alpha-3, the
  numeric code (= UN M49 for every country M49 lists) and the English, Russian and
  Azerbaijani names;
- country_converter: the UN M49 geographic region of every country, so the assignment
  is not typed here;
- this module: the M49 regions and sub-regions with their names in az, en and ru, the
  Azerbaijani names pycountry lacks, and the few names pycountry gets wrong.

The hierarchy is _T > M49 region > M49 sub-region > country. The sub-region level is
the one below the five regions ("Sub-Saharan Africa", "Latin America and the
Caribbean"), not M49's intermediate regions ("Eastern Africa", "Caribbean"), so every
country sits at the same depth. The generated file is the one a statistician reviews;
run this again only to pick up a new ISO 3166 release (needs the `tools` extra):

    python -m publisher.tools.make_cl_area
"""

from __future__ import annotations

import csv
import gettext
import re
from importlib import resources
from pathlib import Path

import pycountry
import yaml

TOTAL = "_T"

# The five M49 regions, in M49 order; ids are their M49 codes.
M49_REGIONS = {
    "002": {"az": "Afrika", "en": "Africa", "ru": "Африка"},
    "019": {"az": "Amerika", "en": "Americas", "ru": "Америка"},
    "142": {"az": "Asiya", "en": "Asia", "ru": "Азия"},
    "150": {"az": "Avropa", "en": "Europe", "ru": "Европа"},
    "009": {"az": "Okeaniya", "en": "Oceania", "ru": "Океания"},
}

# M49 sub-region -> (its region, names), in M49 order.
M49_SUB_REGIONS = {
    "015": ("002", {"az": "Şimali Afrika", "en": "Northern Africa", "ru": "Северная Африка"}),
    "202": ("002", {"az": "Saharadan cənubdakı Afrika", "en": "Sub-Saharan Africa",
                    "ru": "Африка к югу от Сахары"}),
    "419": ("019", {"az": "Latın Amerikası və Karib hövzəsi", "en": "Latin America and the Caribbean",
                    "ru": "Латинская Америка и Карибский бассейн"}),
    "021": ("019", {"az": "Şimali Amerika", "en": "Northern America", "ru": "Северная Америка"}),
    "143": ("142", {"az": "Mərkəzi Asiya", "en": "Central Asia", "ru": "Центральная Азия"}),
    "030": ("142", {"az": "Şərqi Asiya", "en": "Eastern Asia", "ru": "Восточная Азия"}),
    "035": ("142", {"az": "Cənub-Şərqi Asiya", "en": "South-eastern Asia", "ru": "Юго-Восточная Азия"}),
    "034": ("142", {"az": "Cənubi Asiya", "en": "Southern Asia", "ru": "Южная Азия"}),
    "145": ("142", {"az": "Qərbi Asiya", "en": "Western Asia", "ru": "Западная Азия"}),
    "151": ("150", {"az": "Şərqi Avropa", "en": "Eastern Europe", "ru": "Восточная Европа"}),
    "154": ("150", {"az": "Şimali Avropa", "en": "Northern Europe", "ru": "Северная Европа"}),
    "039": ("150", {"az": "Cənubi Avropa", "en": "Southern Europe", "ru": "Южная Европа"}),
    "155": ("150", {"az": "Qərbi Avropa", "en": "Western Europe", "ru": "Западная Европа"}),
    "053": ("009", {"az": "Avstraliya və Yeni Zelandiya", "en": "Australia and New Zealand",
                    "ru": "Австралия и Новая Зеландия"}),
    "054": ("009", {"az": "Melaneziya", "en": "Melanesia", "ru": "Меланезия"}),
    "057": ("009", {"az": "Mikroneziya", "en": "Micronesia", "ru": "Микронезия"}),
    "061": ("009", {"az": "Polineziya", "en": "Polynesia", "ru": "Полинезия"}),
}

# country_converter names the lowest M49 level of a country, an intermediate region
# where M49 has one; those belong to the sub-region above them.
INTERMEDIATE_REGIONS = {
    "Eastern Africa": "202", "Middle Africa": "202", "Southern Africa": "202",
    "Western Africa": "202", "Caribbean": "419", "Central America": "419",
    "South America": "419",
}

# Eurostat's geo / citizen codes differ from ISO alpha-2 for these two.
EUROSTAT = {"GR": "EL", "GB": "UK"}

# Azerbaijani names pycountry's catalogue does not have (checked against pycountry 26).
AZ_SUPPLIED = {
    "AW": "Aruba", "AX": "Aland adaları", "AD": "Andorra", "AR": "Argentina",
    "TF": "Fransanın Cənub əraziləri", "BI": "Burundi", "BJ": "Benin",
    "BQ": "Boneyr, Sint-Estatius və Saba", "BF": "Burkina-Faso", "BL": "Sen-Bartelemi",
    "BM": "Bermud adaları", "BB": "Barbados", "CD": "Konqo Demokratik Respublikası",
    "CV": "Kabo-Verde", "CW": "Kürasao", "CZ": "Çexiya", "FM": "Mikroneziya",
    "GB": "Birləşmiş Krallıq", "GG": "Gernsi", "GI": "Cəbəllütariq",
    "HM": "Herd və Makdonald adaları", "HN": "Honduras", "HT": "Haiti", "IM": "Men adası",
    "IR": "İran", "JE": "Cersi", "KE": "Keniya", "KI": "Kiribati",
    "KN": "Sent-Kits və Nevis", "LA": "Laos", "LY": "Liviya", "LC": "Sent-Lusiya",
    "MF": "Sen-Marten (Fransa hissəsi)", "MD": "Moldova", "MV": "Maldiv adaları",
    "MK": "Şimali Makedoniya", "ML": "Mali", "MT": "Malta", "MM": "Myanma",
    "ME": "Monteneqro", "MS": "Monserrat", "MU": "Mavriki", "NE": "Niger", "NU": "Niue",
    "NP": "Nepal", "NR": "Nauru", "OM": "Oman", "PK": "Pakistan", "PA": "Panama",
    "PE": "Peru", "PW": "Palau", "PS": "Fələstin", "SD": "Sudan",
    "SH": "Müqəddəs Yelena, Askenson və Tristan-da-Kunya", "SM": "San-Marino",
    "PM": "Sen-Pyer və Mikelon", "RS": "Serbiya", "SS": "Cənubi Sudan", "SZ": "Esvatini",
    "SX": "Sint-Marten (Niderland hissəsi)", "SY": "Suriya", "TC": "Törks və Kaykos adaları",
    "TL": "Şərqi Timor", "TV": "Tuvalu", "TW": "Tayvan", "TZ": "Tanzaniya",
    "VC": "Sent-Vinsent və Qrenadinlər", "VE": "Venesuela", "VN": "Vyetnam",
    "VU": "Vanuatu", "WS": "Samoa",
}

# pycountry's Azerbaijani names that are misspelt or not the usual short name.
AZ_FIXED = {
    "AG": "Antiqua və Barbuda", "AI": "Angilya", "AS": "Amerika Samoası",
    "BO": "Boliviya", "BS": "Baham adaları", "BY": "Belarus",
    "CC": "Kokos (Kilinq) adaları", "CI": "Kot-d'İvuar", "CK": "Kuk adaları",
    "DM": "Dominika", "ER": "Eritreya", "FO": "Farer adaları", "GF": "Fransa Qvianası",
    "GL": "Qrenlandiya", "GW": "Qvineya-Bisau", "IO": "Britaniya Hind Okeanı Ərazisi",
    "KH": "Kamboca", "KM": "Komor adaları", "KP": "Koreya Xalq Demokratik Respublikası",
    "KR": "Koreya Respublikası", "MH": "Marşall adaları", "NF": "Norfolk adası",
    "NL": "Niderland", "NZ": "Yeni Zelandiya", "PF": "Fransa Polineziyası",
    "PN": "Pitkern adaları", "QA": "Qətər", "RO": "Rumıniya", "SA": "Səudiyyə Ərəbistanı",
    "SC": "Seyşel adaları", "SL": "Syerra-Leone", "ST": "San-Tome və Prinsipi",
    "SV": "Salvador", "TK": "Tokelau", "UM": "ABŞ-ın Kiçik Kənar adaları",
    "US": "Amerika Birləşmiş Ştatları", "VA": "Vatikan", "VG": "Britaniya Virgin adaları",
    "VI": "ABŞ Virgin adaları", "WF": "Uollis və Futuna", "EH": "Qərbi Sahara",
}

# English: pycountry's inverted list forms ("Congo, The Democratic Republic of the")
# read badly as labels; the UN short names are used instead.
EN_FIXED = {
    "CD": "Democratic Republic of the Congo", "FM": "Micronesia (Federated States of)",
    "PS": "State of Palestine", "VA": "Holy See", "VG": "British Virgin Islands",
    "VI": "United States Virgin Islands",
}

# Russian: misspellings and lower-case words in pycountry's catalogue, names that
# do not match the English short name (Syria, Laos, Moldova, Venezuela, Taiwan), and
# the names Azerbaijan's official Russian uses (Кыргызстан).
RU_FIXED = {
    "CF": "Центральноафриканская Республика", "DO": "Доминиканская Республика",
    "KG": "Кыргызстан", "LA": "Лаос", "MD": "Молдова", "SY": "Сирия",
    "TW": "Тайвань", "VE": "Венесуэла", "US": "Соединённые Штаты Америки",
    "MP": "Северные Марианские острова", "UM": "Внешние малые острова США",
    "VA": "Святой Престол (Ватикан)", "VG": "Британские Виргинские острова",
    "WF": "Уоллис и Футуна", "HM": "Остров Херд и острова Макдональд",
    "TF": "Французские Южные территории", "SX": "Синт-Мартен (нидерландская часть)",
    "MF": "Сен-Мартен (французская часть)", "IO": "Британская территория в Индийском океане",
    "CC": "Кокосовые (Килинг) острова",
}

# Codes beyond ISO 3166-1, with Eurostat's ids for stateless and unknown citizenship.
EXTRA = [
    {"id": "STLS", "parent": TOTAL,
     "name": {"az": "Vətəndaşlığı olmayan şəxslər", "en": "Stateless", "ru": "Лица без гражданства"},
     "eurostat": "STLS"},
    {"id": "UNK", "parent": TOTAL,
     "name": {"az": "Məlum deyil", "en": "Unknown", "ru": "Неизвестно"},
     "eurostat": "UNK"},
]


def coco_regions() -> dict[str, str]:
    """ISO alpha-3 -> the M49 region name country_converter gives ('' when none).

    Read from the package's data file: its CountryConverter class does not load under
    pandas 3, and the table is all this needs.
    """
    data = resources.files("country_converter") / "country_data.tsv"
    with data.open(encoding="utf-8") as f:
        return {row["ISO3"]: row["UNregion"] for row in csv.DictReader(f, delimiter="\t")
                if row["ISO3"] and not row["obsolete"]}


def sub_region(un_region: str) -> str | None:
    """The M49 sub-region code for country_converter's region name, None if it has none."""
    if un_region in INTERMEDIATE_REGIONS:
        return INTERMEDIATE_REGIONS[un_region]
    by_name = {names["en"]: code for code, (_, names) in M49_SUB_REGIONS.items()}
    # Antarctica: M49 puts it in no region (country_converter names it "Antarctica").
    return by_name.get(un_region)


def country_names(country, az: gettext.NullTranslations, ru: gettext.NullTranslations) -> dict:
    code = country.alpha_2
    en = EN_FIXED.get(code) or getattr(country, "common_name", None) or country.name
    az_name = AZ_SUPPLIED.get(code) or AZ_FIXED.get(code) or az.gettext(country.name)
    return {"az": az_name, "en": en, "ru": RU_FIXED.get(code) or ru.gettext(country.name)}


def build() -> dict:
    az = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["az"])
    ru = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ru"])
    regions = coco_regions()
    codes: list[dict] = [{"id": TOTAL, "total": True,
                          "name": {"az": "Bütün ölkələr", "en": "All countries", "ru": "Все страны"}}]
    codes += [{"id": m49, "parent": TOTAL, "name": names, "m49": m49}
              for m49, names in M49_REGIONS.items()]
    codes += [{"id": m49, "parent": region, "name": names, "m49": m49}
              for m49, (region, names) in M49_SUB_REGIONS.items()]
    codes += EXTRA
    for c in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        if c.alpha_3 not in regions:
            raise SystemExit(f"country_converter does not know {c.alpha_2} ({c.name})")
        codes.append({
            "id": c.alpha_2,
            "parent": sub_region(regions[c.alpha_3]) or TOTAL,
            "name": country_names(c, az, ru),
            "alpha3": c.alpha_3,
            "m49": c.numeric,
            "eurostat": EUROSTAT.get(c.alpha_2, c.alpha_2),
        })
    return {
        "id": "CL_AREA",
        "version": "1.0",
        "name": {"az": "Ölkələr və ərazilər", "en": "Countries and areas", "ru": "Страны и территории"},
        "codes": codes,
    }


class _Dumper(yaml.SafeDumper):
    """Quotes numeric-looking strings ('028'), so any YAML reader keeps them strings."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if re.fullmatch(r"[0-9]+", value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def header(codelist: dict) -> str:
    directly = [c for c in codelist["codes"]
                if c.get("parent") == TOTAL and "alpha3" in c]
    lines = [
        "# Generated by `python -m publisher.tools.make_cl_area`: edit the tool, not this file.",
        "# Ids: ISO 3166-1 alpha-2 for countries (as the SDMX global CL_AREA), UN M49 codes for",
        "# the 5 regions and 17 sub-regions (pycountry, country_converter for the M49 regions).",
        "# Annotations: ALPHA3, M49 (ISO numeric = M49), EUROSTAT (geo/citizen code: EL, UK).",
        "# STLS (stateless) and UNK (unknown) sit directly under _T, and so do the areas M49",
        "# puts in no region: " + ", ".join(f"{c['id']} ({c['name']['en']})" for c in directly) + ".",
        "# TW: UN M49 does not list Taiwan; country_converter places it in Eastern Asia, as",
        "# geographic aggregates do.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(__file__).resolve().parents[2] / "codelists" / "CL_AREA.yaml"
    codelist = build()
    body = yaml.dump(codelist, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     width=120, default_flow_style=None)
    out.write_text(header(codelist) + body, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
