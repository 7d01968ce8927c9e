"""The data explorer for journalists (api/static, served at /): a browser walks the journey
"work permits issued to citizens of Türkiye in 2024" in headless Chromium through
Playwright, against the live server over the published demonstration store (SQLite only:
the page reads the same API on every backend, which the API's own tests cover).

Screenshots of every test are kept in var/test-artefacts/explorer/. With
EXPLORER_DOCS_SCREENSHOTS=1 the last test also refreshes docs/img/explorer-*.png.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (set CHROMIUM to a chromium binary): explorer browser tests skipped",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright package is not installed: explorer browser tests skipped")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = ROOT / "var" / "test-artefacts" / "explorer"
DOCS_IMG = ROOT / "docs" / "img"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
FLOW = "DF_WORKPERM_ISSUED"
TIMEOUT = 15_000

pytestmark = pytest.mark.parametrize("published_store", ["sqlite"], indirect=True)


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(request):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown even under -q
        print(f"\nexplorer screenshots: {ARTEFACTS}")


class Session:
    """A page and what its console said."""

    def __init__(self, page, base: str):
        self.page, self.base, self.errors = page, base, []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.set_default_timeout(TIMEOUT)

    def goto(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name: str, full_page: bool = True) -> Path:
        path = ARTEFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_no_errors(self):
        assert self.errors == [], "errors in the browser console:\n" + "\n".join(self.errors)


def new_session(browser, live_server, **context):
    context.setdefault("viewport", {"width": 1280, "height": 900})
    context.setdefault("locale", "en-GB")
    ctx = browser.new_context(accept_downloads=True, **context)
    return ctx, Session(ctx.new_page(), live_server.base)


@pytest.fixture
def session(browser, live_server):
    ctx, s = new_session(browser, live_server)
    yield s
    ctx.close()


# --- helpers ------------------------------------------------------------------------------

def get(live_server, path: str) -> bytes:
    with urllib.request.urlopen(live_server.base + path, timeout=30) as response:
        return response.read()


def sdmx_values(live_server, key: str, **params) -> dict[tuple, float | None]:
    """SDMX-CSV 2.0 from the SDMX API: (series key, period) -> value (None when withheld)."""
    query = urllib.parse.urlencode({"format": "csv", **params})
    text = get(live_server, f"/sdmx/3.0/data/dataflow/AZ_SMS/{FLOW}/1.0/{key}?{query}").decode("utf-8-sig")
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        value = row["OBS_VALUE"]
        out[(row["FREQ"], row["CITIZENSHIP"], row["PERMIT_ACTION"], row["TIME_PERIOD"])] = float(value) if value else None
    return out


def wait_for_data(page, rows: int | None = None):
    """The results have arrived: the status line names observations, the table has rows."""
    page.wait_for_function("() => { const r = document.querySelector('.results');"
                           " return r && !r.hasAttribute('aria-busy'); }")
    expect(page.locator("#status")).to_have_text(re.compile(r"\d+ (observations?|müşahidə|наблюден\w+)"))
    if rows is not None:
        expect(page.locator("#data-table tbody tr")).to_have_count(rows)


def table(page) -> list[dict[str, str]]:
    return page.evaluate("""() => {
        const heads = [...document.querySelectorAll('#data-table thead th')].map(th => th.textContent.trim());
        return [...document.querySelectorAll('#data-table tbody tr')].map(tr =>
            Object.fromEntries([...tr.cells].map((td, i) => [heads[i], td.textContent.trim()])));
    }""")


def chart(page) -> dict:
    """What Chart.js drew: type and datasets (label, points)."""
    return page.evaluate("""() => {
        const c = Chart.getChart(document.getElementById('chart'));
        if (!c) return null;
        const meta = c.data.datasets.map((d, i) => c.getDatasetMeta(i));
        return {type: c.config.type, labels: c.data.labels,
                datasets: c.data.datasets.map((d, i) => ({label: d.label, data: d.data,
                    drawn: meta[i].data.filter(el => !el.skip && Number.isFinite(el.y)).length}))};
    }""")


def checked(page, dim: str) -> list[str]:
    return page.eval_on_selector_all(f'details[data-dim="{dim}"] input[type=checkbox]:checked', "els => els.map(e => e.value)")


def canvas_is_drawn(page) -> bool:
    """Some pixels of the chart's canvas are not transparent."""
    return page.evaluate("""() => {
        const c = document.getElementById('chart');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n > 1000;
    }""")


def server_off(page):
    """From now on the server's search finds nothing: what matches is matched by the page."""
    empty = json.dumps({"lang": "en", "q": "", "categories": [], "dataflows": []})
    page.route(re.compile(r".*/api/dataflows\?.*\bq="),
               lambda route: route.fulfill(status=200, content_type="application/json", body=empty))


def a_confidential_cell(live_server) -> dict:
    """The first withheld cell of the dataflow, found through the friendly API."""
    page = 1
    while True:
        answer = json.loads(get(live_server, f"/api/dataflows/{FLOW}/data?lang=en&page={page}&page_size=1000"))
        for row in answer["rows"]:
            if row["confidential"] and row["CITIZENSHIP"] != "_T":
                return row
        if page >= answer["pages"]:
            pytest.fail(f"no confidential cell in {FLOW}: the demonstration data should have some")
        page += 1


# --- tests --------------------------------------------------------------------------------

def test_home_lists_dataflows_by_topic_with_release_calendar(session, live_server):
    page = session.goto("/?lang=en")
    expect(page.locator("h1")).to_have_text("Data explorer")
    expect(page.locator(".category h3", has_text="Labour migration")).to_be_visible()
    card = page.locator(f'.card[data-flow="{FLOW}"]')
    expect(card.locator("h4")).to_have_text("Work permits issued and extended")
    catalogue = json.loads(get(live_server, "/api/dataflows?lang=en"))
    expect(page.locator(".card")).to_have_count(len(catalogue["dataflows"]))
    # The calendar panel: the latest bulletins link to attachments of past releases.
    calendar = page.locator("aside.calendar")
    expect(calendar.locator("h2")).to_have_text("Release calendar")
    releases = json.loads(get(live_server, "/releases.json"))
    bulletins = calendar.locator("a[href*='/bulletin-']")
    with_bulletins = [r for r in releases["past"] if r["links"].get("bulletins")]
    expect(bulletins).to_have_count(min(5, len(with_bulletins)))
    href = bulletins.first.get_attribute("href")
    assert re.fullmatch(r"/releases/\d+/bulletin-en\.html", href), href
    assert b"<html" in get(live_server, href).lower()
    for release in releases["upcoming"]:
        expect(calendar.get_by_text(release["title"]["en"])).to_be_visible()
    session.shot("home")
    session.assert_no_errors()


def test_search_without_diacritics(session):
    page = session.goto("/?lang=en")
    expect(page.locator(".card")).not_to_have_count(0)
    search = page.get_by_label("Search the data")
    # A country typed without its ü: found in the data (a code label), offered as a shortcut.
    search.press_sequentially("turkiye", delay=20)
    chip = page.locator(f'.card[data-flow="{FLOW}"] .chip', has_text="Citizenship: Türkiye")
    expect(chip).to_be_visible()
    assert "q=turkiye" in page.url
    # Names in all three languages filter as you type, diacritics optional, in the page
    # itself: the server's answers to searches are emptied from here on.
    server_off(page)
    search.fill("")
    search.press_sequentially("verilmis ve muddeti", delay=20)  # "Verilmiş və müddəti", typed in English
    expect(page.locator(f'.card[data-flow="{FLOW}"]')).to_be_visible()
    expect(page.locator('.card[data-flow="DF_REFUGEE"]')).to_have_count(0)
    expect(page.locator(".card")).to_have_count(1)
    search.fill("zzzz-nothing")
    expect(page.locator("#search-count")).to_contain_text("No dataset matches")
    expect(page.locator(".card")).to_have_count(0)
    session.assert_no_errors()


def test_search_in_azerbaijani_without_diacritics(session):
    page = session.goto("/?lang=az")
    search = page.get_by_label("Məlumatlarda axtar")
    search.press_sequentially("seki", delay=20)
    chip = page.locator(".card .chip", has_text="Şəki")
    expect(chip.first).to_be_visible()
    # The shortcut opens the dataflow filtered to that code.
    href = chip.first.get_attribute("href")
    server_off(page)
    search.fill("")
    search.press_sequentially("muveqqeti yasama", delay=20)  # "müvəqqəti yaşama"
    expect(page.locator('.card[data-flow="DF_RESPERM_TEMP"] h4')).to_have_text("Verilmiş müvəqqəti yaşama icazələri")
    expect(page.locator(f'.card[data-flow="{FLOW}"]')).to_have_count(0)
    expect(page.locator("#search-count")).to_have_text(re.compile(r"\d+ məlumat dəsti"))
    page.goto(session.base + href)
    dim, code = re.search(r"&([A-Z_]+)=([A-Z0-9_]+)$", href).groups()
    wait_for_data(page)
    assert all(row for row in table(page))
    assert checked(page, dim) == [code]
    session.assert_no_errors()


def test_journey_turkiye_work_permits_2024(session, live_server):
    """Home -> search -> dataflow -> Türkiye only -> issued only -> chart and table agree."""
    page = session.goto("/?lang=en")
    page.get_by_label("Search the data").press_sequentially("work permits", delay=10)
    page.locator(f'.card[data-flow="{FLOW}"] h4 a').click()
    expect(page.locator("h1")).to_have_text("Work permits issued and extended")
    wait_for_data(page)
    assert checked(page, "CITIZENSHIP") == ["_T"]  # the first view: totals
    # Citizenship: a long list with its own diacritic-insensitive filter.
    citizenship = page.locator('details[data-dim="CITIZENSHIP"]')
    citizenship.locator("summary").click()
    citizenship.get_by_label("Find in “Citizenship”").fill("turk")
    visible = citizenship.locator("li:visible")
    expect(visible).to_have_count(len([c for c in json.loads(get(live_server, f"/api/dataflows/{FLOW}?lang=en"))
                                       ["dimensions"][1]["codes"] if "turk" in c["name"].lower().replace("ü", "u")]))
    citizenship.get_by_role("button", name="Only Türkiye").click()
    page.locator('details[data-dim="PERMIT_ACTION"]').get_by_role("button", name="Only Issued", exact=True).click()
    wait_for_data(page, rows=11)
    expect(page.locator("#status")).to_have_text("11 observations")
    assert "CITIZENSHIP=TR" in page.url and "PERMIT_ACTION=ISSUED" in page.url
    rows = table(page)
    assert {r["Citizenship"] for r in rows} == {"Türkiye"}
    assert {r["Work permit action"] for r in rows} == {"Issued"}
    expected = sdmx_values(live_server, "A.TR.ISSUED")
    value_2024 = next(r["Value"] for r in rows if r["Period"] == "2024")
    assert float(value_2024.replace(",", "")) == expected[("A", "TR", "ISSUED", "2024")]
    # The chart: one line with as many points as the table has rows, drawn on the canvas.
    drawn = chart(page)
    assert drawn["type"] == "line"
    assert len(drawn["datasets"]) == 1 and drawn["datasets"][0]["label"] == "Türkiye · Issued"
    assert sum(len(d["data"]) for d in drawn["datasets"]) == len(rows)
    assert drawn["datasets"][0]["drawn"] == len(rows)
    assert canvas_is_drawn(page)
    # The bar toggle redraws the same numbers as bars.
    page.locator(".toggle label", has_text="Bars").click()
    expect(page.locator(".toggle input[value=bar]")).to_be_checked()
    assert chart(page)["type"] == "bar" and "chart=bar" in page.url
    assert sum(len(d["data"]) for d in chart(page)["datasets"]) == len(rows)
    # The period selects narrow both the table and the chart.
    page.get_by_label("From", exact=True).select_option("2020")
    page.get_by_label("To", exact=True).select_option("2024")
    wait_for_data(page, rows=5)
    assert [r["Period"] for r in table(page)] == ["2020", "2021", "2022", "2023", "2024"]
    assert chart(page)["labels"] == ["2020", "2021", "2022", "2023", "2024"]
    # Metadata: confidentiality, the full metadata page, the release history.
    detail = json.loads(get(live_server, f"/api/dataflows/{FLOW}?lang=en"))
    if detail["confidentiality"]:
        expect(page.locator(".confidentiality p")).to_have_text(detail["confidentiality"])
    expect(page.locator("#metadata-link")).to_have_attribute("href", f"/dataflows/{FLOW}/metadata?lang=en")
    expect(page.locator("#release-history li")).to_have_count(len(detail["releases"]))
    session.shot("journey")
    session.assert_no_errors()


def test_csv_download_matches_sdmx(session, live_server):
    page = session.goto(f"/?lang=en&flow={FLOW}&CITIZENSHIP=TR&PERMIT_ACTION=*")
    wait_for_data(page)
    links = page.locator("#download-links a")
    formats = links.evaluate_all("els => els.map(a => a.dataset.format)")
    assert {"csv", "xlsx"} <= set(formats) and len(formats) >= 4, formats  # CSV, Excel and the SDMX formats
    with page.expect_download() as info:
        page.locator("#download-links a[data-format=csv]").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV for Excel starts with a UTF-8 byte order mark"
    got = {}
    for row in csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))):
        got[(row["FREQ"], row["CITIZENSHIP"], row["PERMIT_ACTION"], row["TIME_PERIOD"])] = \
            float(row["value"]) if row["value"] else None
    expected = sdmx_values(live_server, "A.TR.*")
    assert got == expected
    assert len(got) == len(table(page)) > 0
    # The other links answer (the SDMX ones through the SDMX API).
    for href in links.evaluate_all("els => els.map(a => a.getAttribute('href'))"):
        assert get(live_server, href), href
    session.assert_no_errors()


def test_suppressed_cell_is_shown_as_suppressed_never_zero(session, live_server):
    cell = a_confidential_cell(live_server)
    page = session.goto(f"/?lang=en&flow={FLOW}&CITIZENSHIP={cell['CITIZENSHIP']}&PERMIT_ACTION={cell['PERMIT_ACTION']}")
    wait_for_data(page)
    rows = table(page)
    row = next(r for r in rows if r["Period"] == cell["TIME_PERIOD"])
    assert row["Value"] == "suppressed"
    assert cell["note"] and cell["note"] in row["Status"]
    assert not any(r["Value"] in ("0", "") for r in rows if r["Period"] == cell["TIME_PERIOD"])
    expect(page.locator("td.suppressed").first).to_be_visible()
    # In the chart: a gap (null), never zero.
    drawn = chart(page)
    point = next(p for p in drawn["datasets"][0]["data"] if p["x"] == cell["TIME_PERIOD"])
    assert point["y"] is None
    assert drawn["datasets"][0]["drawn"] == len(rows) - sum(r["Value"] == "suppressed" for r in rows)
    expect(page.locator("#chart-note")).to_contain_text("not zeros")
    # In Russian too.
    page.locator('.langs button[lang="ru"]').click()
    expect(page.locator("td.suppressed").first).to_have_text("скрыто")
    session.shot("suppressed")
    session.assert_no_errors()


def test_permalink_reopens_the_same_view(browser, live_server):
    ctx, s = new_session(browser, live_server)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base)
    page = s.goto(f"/?lang=en&flow={FLOW}")
    wait_for_data(page)
    citizenship = page.locator('details[data-dim="CITIZENSHIP"]')
    citizenship.locator("summary").click()
    citizenship.get_by_label("Türkiye", exact=True).check()
    citizenship.get_by_label("All countries", exact=True).uncheck()
    citizenship.get_by_label("Find in “Citizenship”").fill("rus")
    citizenship.get_by_label("Russia", exact=False).first.check()
    page.locator('details[data-dim="PERMIT_ACTION"]').get_by_role("button", name="All", exact=True).click()
    page.get_by_label("From", exact=True).select_option("2018")
    page.locator(".toggle label", has_text="Bars").click()
    wait_for_data(page)
    page.wait_for_function("() => location.search.includes('start=2018') && location.search.includes('chart=bar')")
    view = {"url": page.url, "table": table(page), "chart": chart(page),
            "CITIZENSHIP": checked(page, "CITIZENSHIP"), "PERMIT_ACTION": checked(page, "PERMIT_ACTION")}
    assert sorted(view["CITIZENSHIP"]) == ["RU", "TR"] and len(view["PERMIT_ACTION"]) == 3
    expect(page.locator("#permalink")).to_have_value(page.url)
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copy-status")).to_have_text("Link copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == view["url"]
    # A new browser (no state) opening the link sees the same view.
    ctx2, s2 = new_session(browser, live_server, locale="ru-RU")
    page2 = s2.page
    page2.goto(copied)
    wait_for_data(page2)
    assert page2.url == view["url"]
    assert table(page2) == view["table"]
    assert chart(page2) == view["chart"]
    assert checked(page2, "CITIZENSHIP") == view["CITIZENSHIP"]
    assert checked(page2, "PERMIT_ACTION") == view["PERMIT_ACTION"]
    expect(page2.get_by_label("From", exact=True)).to_have_value("2018")
    expect(page2.locator(".toggle input[value=bar]")).to_be_checked()
    # Back to the home page and forward again: the browser's history works.
    page2.locator(".crumbs a").click()
    expect(page2.locator(".card").first).to_be_visible()
    page2.go_back()
    wait_for_data(page2)
    assert table(page2) == view["table"]
    s.assert_no_errors()
    s2.assert_no_errors()
    ctx.close()
    ctx2.close()


def test_phone_size_has_no_horizontal_scroll(browser, live_server):
    ctx, s = new_session(browser, live_server, viewport={"width": 390, "height": 844},
                         device_scale_factor=2, is_mobile=True, has_touch=True)
    page = s.goto("/?lang=az")
    expect(page.locator(".card").first).to_be_visible()
    # A phone browser widens its layout viewport to fit wide content: compare with 390 too.
    overflow = "() => Math.max(document.scrollingElement.scrollWidth, innerWidth) - 390"
    assert page.evaluate(overflow) <= 0
    s.shot("phone-home")
    page.goto(f"{s.base}/?lang=az&flow={FLOW}&CITIZENSHIP=TR,RU,_T&PERMIT_ACTION=ISSUED")
    wait_for_data(page, rows=33)
    assert page.evaluate(overflow) <= 0
    box = page.locator("#chart").bounding_box()
    assert box and box["width"] > 300 and box["width"] <= 390
    assert canvas_is_drawn(page)
    expect(page.locator("#data-table")).to_be_visible()
    s.shot("phone-flow")
    s.assert_no_errors()
    ctx.close()


def test_language_switch_to_azerbaijani(session):
    page = session.goto(f"/?lang=en&flow={FLOW}&CITIZENSHIP=TR&PERMIT_ACTION=ISSUED")
    wait_for_data(page, rows=11)
    page.get_by_role("button", name="Azərbaycanca").click()
    expect(page.locator("h1")).to_have_text("Verilmiş və müddəti uzadılmış iş icazələri")
    expect(page.locator("html")).to_have_attribute("lang", "az")
    wait_for_data(page, rows=11)
    assert "lang=az" in page.url and "CITIZENSHIP=TR" in page.url
    expect(page.locator("#filters-title")).to_have_text("Məlumatları seçin")
    expect(page.locator('details[data-dim="CITIZENSHIP"] .dim-name')).to_have_text("Vətəndaşlıq")
    rows = table(page)
    assert {r["Vətəndaşlıq"] for r in rows} == {"Türkiyə"}
    assert [r["Dövr"] for r in rows][-1] == "2025"
    text = page.locator("body").inner_text()
    assert "ə" in text and "ş" in text and "ı" in text
    expect(page.get_by_role("button", name="Linki kopyala")).to_be_visible()
    session.shot("azerbaijani")
    session.assert_no_errors()


def test_default_language_comes_from_the_browser(browser, live_server):
    ctx, s = new_session(browser, live_server, locale="az-AZ")
    page = s.goto("/")
    expect(page.locator("h1")).to_have_text("Məlumat bələdçisi")
    expect(page.locator(".langs button[lang=az]")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => location.search.includes('lang=az')")
    s.assert_no_errors()
    ctx.close()


def test_keyboard_only(session):
    """Search, open a dataflow and change a filter with the keyboard alone."""
    page = session.goto("/?lang=en")
    expect(page.locator(".card").first).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.locator("#search").focus()
    page.keyboard.type("work permits issued")
    link = page.locator(f'.card[data-flow="{FLOW}"] h4 a')
    expect(link).to_be_visible()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('.card')?.dataset.flow") == FLOW:
            break
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_be_focused()
    wait_for_data(page)
    issued = page.locator('details[data-dim="PERMIT_ACTION"] input[value=ISSUED]')
    issued.focus()
    page.keyboard.press("Space")
    expect(issued).to_be_checked()
    page.wait_for_function("() => location.search.includes('PERMIT_ACTION=_T,ISSUED')")
    wait_for_data(page, rows=22)
    session.assert_no_errors()


def test_every_control_has_a_label(session):
    page = session.goto(f"/?lang=en&flow={FLOW}")
    wait_for_data(page)
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, button')]
        .filter(el => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()
                        || el.getAttribute('aria-labelledby')))
        .map(el => el.outerHTML)""")
    assert unlabelled == []
    session.assert_no_errors()


@pytest.mark.skipif(not os.environ.get("EXPLORER_DOCS_SCREENSHOTS"),
                    reason="set EXPLORER_DOCS_SCREENSHOTS=1 to refresh docs/img/explorer-*.png")
def test_docs_screenshots(browser, live_server):
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    view = f"/?lang=en&flow={FLOW}&CITIZENSHIP=TR&PERMIT_ACTION=ISSUED,EXTENDED"
    ctx, s = new_session(browser, live_server, viewport={"width": 1280, "height": 1100})
    page = s.goto(view)
    wait_for_data(page, rows=22)
    page.locator('details[data-dim="CITIZENSHIP"] summary').click()
    page.locator('details[data-dim="CITIZENSHIP"] .find').fill("turk")
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS_IMG / "explorer-journey.png"))
    s.assert_no_errors()
    ctx.close()
    ctx, s = new_session(browser, live_server, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                         is_mobile=True, has_touch=True)
    page = s.goto(view)
    wait_for_data(page, rows=22)
    page.locator(".chart-section").scroll_into_view_if_needed()
    page.evaluate("document.querySelector('#status').scrollIntoView()")
    page.screenshot(path=str(DOCS_IMG / "explorer-phone.png"))
    s.assert_no_errors()
    ctx.close()
