"""The press bulletin of a release (publisher.bulletin): what a journalist reads.

Each test builds the public figures of a real dataflow (real documents from the content
files, numbers chosen by hand), runs build() and reads the bulletin back as a journalist
would: the figure, the changes, the periods in words, the charts. Expected numbers are
computed here from the frame and formatted by hand in both languages, not by the module.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import datetime, timezone

import lxml.etree
import lxml.html
import numpy as np
import pandas as pd
import pytest

from publisher.bulletin import FlowFigures, build, total_code
from publisher.demo import generate
from publisher.extract import read_extract

SVG = "{http://www.w3.org/2000/svg}"
NNBSP = "\u202f"  # az groups thousands with a narrow no-break space

RELEASE = {
    "id": 41,
    "title": {"az": "Miqrasiya statistikası: əcnəbilərə və vətəndaşlığı olmayan şəxslərə verilmiş icazələr, "
                    "2024-cü ilin III rübü",
              "en": "Migration statistics: permits issued to foreigners, 2024 Q3",
              "ru": "Миграционная статистика: разрешения, выданные иностранцам, III квартал 2024"},
    "release_time": datetime(2024, 10, 15, 6, 0, tzinfo=timezone.utc),  # 10:00 in Baku
    "corrects": None,
}


# --- helpers (the real documents come from conftest's `content`: publisher.content.load()) --

def figures(content, flow_id: str, series: dict[str, dict[str, float]]) -> FlowFigures:
    """The FlowFigures of a real dataflow with the given {series_key: {period: value}}."""
    flow = content.dataflow(flow_id)
    rows = [(key, period, value) for key, values in series.items() for period, value in values.items()]
    return FlowFigures(flow.document, flow.structure, flow.codelists,
                       pd.DataFrame(rows, columns=["series_key", "time_period", "value"]))


def total_key(content, flow_id: str, **codes: str) -> str:
    """The grand-total series key, with some dimensions set to other codes."""
    flow = content.dataflow(flow_id)
    freq = flow.document["frequency"]
    return ".".join(codes.get(d, freq if d == "FREQ" else "_T") for d in flow.dimension_ids)


def page(out: dict, lang: str) -> lxml.html.HtmlElement:
    media_type, body = out[f"bulletin-{lang}.html"]
    assert media_type == "text/html; charset=utf-8"
    return lxml.html.document_fromstring(body.decode("utf-8"))


def section(out: dict, lang: str, flow_id: str) -> lxml.html.HtmlElement:
    (found,) = page(out, lang).xpath(f'//section[@id="{flow_id}"]')
    return found


def text(element) -> str:
    """The visible text, blanks collapsed (a narrow no-break space is not a blank)."""
    return re.sub(r"[ \t\r\n]+", " ", element.text_content()).strip()


def body(out: dict, lang: str) -> str:
    return text(page(out, lang).body)


def also(out: dict, lang: str) -> list[str]:
    """The names under "Also in this release" (the last section)."""
    return [text(li) for li in page(out, lang).xpath("//section[last()][not(@id)]//li")]


def lines(out: dict, lang: str, flow_id: str) -> list[str]:
    """The change lines under a headline."""
    return [text(li) for li in section(out, lang, flow_id).xpath(".//ul/li")]


def en(x: float, decimals: int = 0) -> str:
    return f"{x:,.{decimals}f}"


def az(x: float, decimals: int = 0) -> str:
    return f"{x:,.{decimals}f}".replace(",", NNBSP).replace(".", ",")


def change(x: float, previous: float, lang: str) -> str:
    """'+445 (+3.7%)' in en, '+445 (+3,7%)' in az."""
    diff, pct = x - previous, (x - previous) / previous * 100
    fmt = en if lang == "en" else az
    sign = "+" if diff > 0 else ""
    return f"{sign}{fmt(diff)} ({'+' if pct > 0 else ''}{fmt(pct, 1)}%)"


def svg(out: dict, flow_id: str) -> lxml.etree._Element:
    media_type, body = out[f"chart-{flow_id}.svg"]
    assert media_type == "image/svg+xml"
    return lxml.etree.fromstring(body)


def bar_labels(root) -> dict[str, str]:
    """Period code -> the value written on its bar."""
    return {g.get("id")[len("value-"):]: " ".join(g.itertext()).strip()
            for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("value-")}


def svg_texts(root) -> list[str]:
    return [" ".join(t.itertext()) for t in root.iter(f"{SVG}text")]


# --- a quarterly headline ---------------------------------------------------------------

QUARTERS = [f"{y}-Q{q}" for y in (2022, 2023, 2024) for q in (1, 2, 3, 4)][:-1]  # to 2024-Q3
PERMITS = dict(zip(QUARTERS, [9_020, 9_480, 9_710, 9_905, 10_230, 10_480, 10_100, 10_390,
                              11_050, 11_900, 12_345]))


@pytest.fixture(scope="module")
def permits(content):
    """Temporary residence permits, the grand total by quarter plus some citizenships."""
    key = lambda country: total_key(content, "DF_RESPERM_TEMP", CITIZENSHIP=country)  # noqa: E731
    series = {total_key(content, "DF_RESPERM_TEMP"): PERMITS,
              key("RU"): {"2024-Q3": 3_100, "2024-Q2": 4_000},
              key("TR"): {"2024-Q3": 2_950},
              key("GE"): {"2024-Q3": 1_200},
              key("IN"): {"2024-Q3": 1_150},
              key("UNK"): {"2024-Q3": 2_000},   # unknown citizenship: not a "group"
              key("150"): {"2024-Q3": 5_000},   # Europe, a continent: not a country
              key("CN"): {"2024-Q3": math.nan}}  # withheld
    ff = figures(content, "DF_RESPERM_TEMP", series)
    return ff, build(RELEASE, [ff])


def test_the_headline_is_the_latest_grand_total(permits):
    _, out = permits
    assert text(section(out, "en", "DF_RESPERM_TEMP").xpath('.//p[@class="figure"]')[0]) == "12,345"
    assert text(section(out, "az", "DF_RESPERM_TEMP").xpath('.//p[@class="figure"]')[0]) == f"12{NNBSP}345"
    assert "Period: 2024 Q3" in text(section(out, "en", "DF_RESPERM_TEMP"))
    assert "Dövr: 2024, III rüb" in text(section(out, "az", "DF_RESPERM_TEMP"))
    assert "Unit: Persons" in text(section(out, "en", "DF_RESPERM_TEMP"))
    assert "Ölçü vahidi: Nəfər" in text(section(out, "az", "DF_RESPERM_TEMP"))


def test_changes_on_the_previous_quarter_and_a_year_earlier(permits):
    _, out = permits
    latest, previous, year_ago = PERMITS["2024-Q3"], PERMITS["2024-Q2"], PERMITS["2023-Q3"]
    assert lines(out, "en", "DF_RESPERM_TEMP") == [
        f"Compared with the previous quarter (2024 Q2: {en(previous)}): {change(latest, previous, 'en')}",
        f"Compared with the same quarter a year earlier (2023 Q3: {en(year_ago)}): {change(latest, year_ago, 'en')}",
    ]
    assert lines(out, "az", "DF_RESPERM_TEMP") == [
        f"Əvvəlki rüblə müqayisədə (2024, II rüb: {az(previous)}): {change(latest, previous, 'az')}",
        f"Ötən ilin eyni rübü ilə müqayisədə (2023, III rüb: {az(year_ago)}): {change(latest, year_ago, 'az')}",
    ]
    # The numbers themselves, worked out once by hand: 12,345 - 11,900 = 445 = 3.7%.
    assert "+445 (+3.7%)" in lines(out, "en", "DF_RESPERM_TEMP")[0]
    assert "+445 (+3,7%)" in lines(out, "az", "DF_RESPERM_TEMP")[0]


def test_largest_groups_are_countries_with_public_values(permits, content):
    _, out = permits
    names = {c["id"]: c["name"] for c in content.dataflow("DF_RESPERM_TEMP").codelists["CITIZENSHIP"]["codes"]}
    en_text, az_text = text(section(out, "en", "DF_RESPERM_TEMP")), text(section(out, "az", "DF_RESPERM_TEMP"))
    expected_en = ", ".join(f"{names[c]['en']} ({en(v)})" for c, v in [("RU", 3_100), ("TR", 2_950), ("GE", 1_200)])
    expected_az = ", ".join(f"{names[c]['az']} ({az(v)})" for c, v in [("RU", 3_100), ("TR", 2_950), ("GE", 1_200)])
    assert f"Largest groups by country: {expected_en}" in en_text
    assert f"Ölkələr üzrə ən böyük qruplar: {expected_az}" in az_text
    # Not the continent, not "unknown", not the fourth country.
    for code in ("150", "UNK", "IN"):
        assert names[code]["en"] not in en_text


def test_the_chart_shows_the_last_twelve_quarters(permits):
    _, out = permits
    root = svg(out, "DF_RESPERM_TEMP")
    assert root.tag == f"{SVG}svg"
    labels = bar_labels(root)
    assert list(labels) == QUARTERS[-12:]
    assert labels["2024-Q3"].replace("\u2009", "") == "12345"
    assert "DF_RESPERM_TEMP" in svg_texts(root)


# --- withheld values --------------------------------------------------------------------

def test_a_withheld_value_is_never_a_headline_a_comparison_or_a_bar(content):
    # What the office computed, and what disclosure control lets out: 2024-Q4 and 2024-Q2
    # are withheld. 987,654 stands for their true values: it must appear nowhere.
    computed = {"2023-Q1": 8_811, "2023-Q2": 8_822, "2023-Q3": 8_833, "2023-Q4": 8_844,
                "2024-Q1": 7_777, "2024-Q2": 987_654, "2024-Q3": 9_123, "2024-Q4": 987_654}
    withheld = {"2024-Q2", "2024-Q4"}
    public = {p: (math.nan if p in withheld else v) for p, v in computed.items()}
    ff = figures(content, "DF_WORK_NOPERMIT", {total_key(content, "DF_WORK_NOPERMIT"): public})
    out = build(RELEASE, [ff])

    # The headline falls back to the latest public quarter.
    assert text(section(out, "en", "DF_WORK_NOPERMIT").xpath('.//p[@class="figure"]')[0]) == "9,123"
    assert "Period: 2024 Q3" in text(section(out, "en", "DF_WORK_NOPERMIT"))
    # The previous quarter is withheld: no change, and no jump back to 2024-Q1 (7,777).
    assert lines(out, "en", "DF_WORK_NOPERMIT") == [
        "Compared with the previous quarter (2024 Q2): not available",
        f"Compared with the same quarter a year earlier (2023 Q3: 8,833): {change(9_123, 8_833, 'en')}",
    ]
    assert lines(out, "az", "DF_WORK_NOPERMIT")[0] == "Əvvəlki rüblə müqayisədə (2024, II rüb): məlumat yoxdur"
    for lang, number in (("en", "7,777"), ("az", f"7{NNBSP}777")):
        assert number not in body(out, lang)
    # The chart: a gap at 2024-Q2 (its period still on the axis), nothing after 2024-Q3.
    root = svg(out, "DF_WORK_NOPERMIT")
    assert list(bar_labels(root)) == ["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4", "2024-Q1", "2024-Q3"]
    assert "2024-Q2" in svg_texts(root)
    assert "2024-Q4" not in svg_texts(root)
    # The withheld number is nowhere, in any form.
    everything = " ".join([body(out, "en"), body(out, "az"), *svg_texts(root)])
    for form in ("987", "nan", "NaN"):
        assert form not in everything


def test_a_dataflow_with_nothing_public_is_only_named(content):
    nothing = figures(content, "DF_WORK_NOPERMIT", {total_key(content, "DF_WORK_NOPERMIT"): {"2024-Q3": math.nan}})
    out = build(RELEASE, [nothing])
    assert set(out) == {"bulletin-az.html", "bulletin-en.html"}
    assert page(out, "en").xpath('//section[@id="DF_WORK_NOPERMIT"]') == []
    assert also(out, "en") == ["Foreigners working without the need of a work permit"]


def test_a_dataflow_without_a_total_is_only_named(content):
    # Enforcement measures do not add up (one person fined and expelled), so no total.
    ff = figures(content, "DF_ENFORCEMENT", {total_key(content, "DF_ENFORCEMENT", ENFORCEMENT="EXPULSION"):
                                             {"2024-Q3": 310.0}})
    out = build(RELEASE, [ff])
    assert "chart-DF_ENFORCEMENT.svg" not in out
    name = content.dataflow("DF_ENFORCEMENT").document["name"]
    assert also(out, "az") == [name["az"]]
    assert "Bu buraxılışa həmçinin daxildir" in body(out, "az")


def test_total_codes(content):
    codelists = {cl["id"]: cl for cl in content.documents if cl["kind"] == "codelist"}
    assert total_code("SEX", codelists["CL_SEX"], "Q") == "_T"
    assert total_code("FREQ", codelists["CL_FREQ"], "Q") == "Q"
    # DECIDED is the parent of GRANTED and REFUSED, but RECEIVED is beside it: no total.
    assert total_code("APPL_STAGE", codelists["CL_APPL_STAGE"], "M") is None
    assert total_code("ASYL_DECISION", codelists["CL_ASYL_DECISION"], "A") is None
    tree = {"id": "CL_X", "codes": [{"id": "ALL"}, {"id": "A", "parent": "ALL"}, {"id": "B", "parent": "ALL"}]}
    assert total_code("X", tree, "A") == "ALL"


# --- other frequencies and measures -----------------------------------------------------

def test_monthly_periods_in_words(content):
    months = {f"2023-{m:02d}": 150_000.0 + m for m in range(1, 13)}
    months.update({"2024-06": 310_000.0, "2024-07": 364_804.0})
    ff = figures(content, "DF_BORDER_ARR", {total_key(content, "DF_BORDER_ARR"): months})
    out = build(RELEASE, [ff])
    assert lines(out, "en", "DF_BORDER_ARR") == [
        f"Compared with the previous month (June 2024: 310,000): {change(364_804, 310_000, 'en')}",
        f"Compared with the same month a year earlier (July 2023: 150,007): {change(364_804, 150_007, 'en')}",
    ]
    assert lines(out, "az", "DF_BORDER_ARR") == [
        f"Əvvəlki ayla müqayisədə (İyun 2024: {az(310_000)}): {change(364_804, 310_000, 'az')}",
        f"Ötən ilin eyni ayı ilə müqayisədə (İyul 2023: {az(150_007)}): {change(364_804, 150_007, 'az')}",
    ]
    assert "Dövr: İyul 2024" in text(section(out, "az", "DF_BORDER_ARR"))
    # The last twelve public months, 2023-03 to 2024-07: 2024-01 to 2024-05 are gaps.
    shown = [f"2023-{m:02d}" for m in range(3, 13)] + ["2024-06", "2024-07"]
    assert list(bar_labels(svg(out, "DF_BORDER_ARR"))) == shown


def test_annual_data_compares_with_the_previous_year_once(content):
    years = {str(y): 1_000.0 + 10 * y - 20_000 for y in range(2010, 2025)}  # 15 years
    ff = figures(content, "DF_CITIZENSHIP", {total_key(content, "DF_CITIZENSHIP"): years})
    out = build(RELEASE, [ff])
    assert lines(out, "en", "DF_CITIZENSHIP") == [
        f"Compared with the previous year (2023: {en(years['2023'])}): {change(years['2024'], years['2023'], 'en')}"]
    assert lines(out, "az", "DF_CITIZENSHIP") == [
        f"Əvvəlki illə müqayisədə (2023: {az(years['2023'])}): {change(years['2024'], years['2023'], 'az')}"]
    assert list(bar_labels(svg(out, "DF_CITIZENSHIP"))) == [str(y) for y in range(2013, 2025)]


def test_a_balance_from_a_negative_year_has_no_percentage(content):
    ff = figures(content, "DF_NET_MIGR", {total_key(content, "DF_NET_MIGR"): {"2023": -200.0, "2024": 1_150.0}})
    out = build(RELEASE, [ff])
    assert lines(out, "en", "DF_NET_MIGR") == ["Compared with the previous year (2023: -200): +1,350"]
    assert lines(out, "az", "DF_NET_MIGR") == [f"Əvvəlki illə müqayisədə (2023: -200): +1{NNBSP}350"]


def test_a_rate_has_the_decimals_of_its_dataflow(content):
    assert content.dataflow("DF_NET_MIGR_RATE").document["series_attributes"]["DECIMALS"] == "1"
    ff = figures(content, "DF_NET_MIGR_RATE", {total_key(content, "DF_NET_MIGR_RATE"): {"2023": 1.8, "2024": 2.3}})
    out = build(RELEASE, [ff])
    assert text(section(out, "az", "DF_NET_MIGR_RATE").xpath('.//p[@class="figure"]')[0]) == "2,3"
    assert lines(out, "en", "DF_NET_MIGR_RATE") == ["Compared with the previous year (2023: 1.8): +0.5 (+27.8%)"]
    assert lines(out, "az", "DF_NET_MIGR_RATE") == ["Əvvəlki illə müqayisədə (2023: 1,8): +0,5 (+27,8%)"]


# --- the pages as pages -----------------------------------------------------------------

def test_pages_are_complete_utf8_html_with_their_charts(permits):
    _, out = permits
    assert set(out) == {"bulletin-az.html", "bulletin-en.html", "chart-DF_RESPERM_TEMP.svg"}
    for lang in ("az", "en"):
        raw = out[f"bulletin-{lang}.html"][1]
        doc = page(out, lang)
        assert doc.get("lang") == lang
        assert doc.xpath("//meta[@charset='utf-8']") and doc.xpath("//meta[@name='viewport']")
        assert doc.xpath("//script") == [] and doc.xpath("//style")
        assert text(doc.xpath("//h1")[0]) == RELEASE["title"][lang]
        for img in doc.xpath("//img"):
            assert img.get("src") in out and img.get("alt")
        assert b"<script" not in raw
    assert "ə".encode() in out["bulletin-az.html"][1]  # UTF-8 bytes, not entities
    az_text = body(out, "az")
    for letter in "əğıöüçş":
        assert letter in az_text
    assert "Müvəqqəti" in az_text or "müvəqqəti" in az_text  # the dataflow's own Azerbaijani name
    assert "Withheld figures (disclosure control) are not shown." in body(out, "en")
    assert "Məxfiliyin qorunması məqsədilə gizlədilmiş rəqəmlər göstərilmir." in az_text


def test_release_time_in_baku(permits):
    _, out = permits
    assert "Published 15 October 2024, 10:00 (Baku time)" in body(out, "en")
    assert "Dərc olunma vaxtı: 15 oktyabr 2024, 10:00 (Bakı vaxtı)" in body(out, "az")


def test_text_is_escaped(content):
    release = {**RELEASE, "title": {"az": "A & B <i>", "en": "A & B <i>", "ru": "x"}}
    ff = figures(content, "DF_WORK_NOPERMIT", {total_key(content, "DF_WORK_NOPERMIT"): {"2024-Q3": 5.0}})
    out = build(release, [ff])
    assert b"A &amp; B &lt;i&gt;" in out["bulletin-en.html"][1]
    assert page(out, "en").xpath("//i") == []


def test_a_correction_names_the_corrected_release(permits):
    ff, out = permits
    assert "corrects" not in body(out, "en") and "düzəliş" not in body(out, "az")
    corrected = build({**RELEASE, "id": 42, "corrects": 41}, [ff])
    assert "This release corrects release No. 41." in body(corrected, "en")
    assert "Bu buraxılış № 41 buraxılışına düzəlişdir." in body(corrected, "az")


def test_the_same_input_gives_the_same_bytes(permits):
    ff, out = permits
    again = build(copy.deepcopy(RELEASE), [copy.deepcopy(ff)])
    assert again == out


# --- the demonstration data -------------------------------------------------------------

# Dataflows with a total for every dimension, and two without (arrivals and departures
# are not added; the quota and its use are not added).
WITH_TOTALS = ["DF_WORK_NOPERMIT", "DF_BORDER_ARR", "DF_CITIZENSHIP", "DF_NET_MIGR", "DF_NET_MIGR_RATE"]
WITHOUT = ["DF_MIGR_PERM", "DF_LABOUR_QUOTA"]


@pytest.fixture(scope="module")
def demo_figures(content, tmp_path_factory) -> list[FlowFigures]:
    """A few dataflows of the demonstration data, with counts of 1 and 2 withheld as a
    stand-in for disclosure control."""
    files = dict(generate(content, tmp_path_factory.mktemp("demo")))
    out = []
    for flow_id in WITH_TOTALS + WITHOUT:
        flow = content.dataflow(flow_id)
        obs = read_extract(files[flow_id], flow).observations
        frame = pd.DataFrame({"series_key": obs["series_key"], "time_period": obs["TIME_PERIOD"],
                              "value": obs["OBS_VALUE"]})
        if flow.document["measure"] == "count":
            frame.loc[frame["value"].isin([1, 2]), "value"] = np.nan
        out.append(FlowFigures(flow.document, flow.structure, flow.codelists, frame))
    return out


def test_demonstration_data(content, demo_figures):
    out = build(RELEASE, demo_figures)
    assert set(out) == {"bulletin-az.html", "bulletin-en.html"} | {f"chart-{f}.svg" for f in WITH_TOTALS}
    for ff in demo_figures:
        flow_id = ff.flow["id"]
        if flow_id in WITHOUT:
            assert ff.flow["name"]["en"] in also(out, "en")
            continue
        # The figure is the latest public value of the grand total.
        series = ff.observations[ff.observations["series_key"] == total_key(content, flow_id)].dropna()
        latest = series.sort_values("time_period").iloc[-1]["value"]
        decimals = 0 if latest == int(latest) else 1
        assert text(section(out, "en", flow_id).xpath('.//p[@class="figure"]')[0]) == en(latest, decimals)
        assert svg(out, flow_id).tag == f"{SVG}svg"
