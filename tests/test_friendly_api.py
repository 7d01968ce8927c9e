"""The friendly API (/api/...): what a journalist or a spreadsheet gets, and that it agrees
with SDMX on every number.

Read like examples: each test asks what a person would ask, and checks the answer against
the SDMX routes (the reference), never against numbers written into the test.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qsl, urlsplit

import pytest
from openpyxl import load_workbook

from api.friendly import fold

CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"


# --- helpers ------------------------------------------------------------------------------

def sdmx_cells(client, flow: dict, key: str = "*", query: str = "") -> dict[tuple, tuple]:
    """(series key codes..., period) -> (value or None, OBS_STATUS) from SDMX-CSV 2.0."""
    r = client.get(f"/sdmx/3.0/data/dataflow/{flow['agency']}/{flow['id']}/{flow['version']}/{key}{query}",
                   headers={"Accept": CSV20})
    if r.status_code == 404:
        return {}
    assert r.status_code == 200, r.text[:300]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    dims = flow["dims"]
    return {(*[row[d] for d in dims], row["TIME_PERIOD"]):
            (float(row["OBS_VALUE"]) if row["OBS_VALUE"] else None, row["OBS_STATUS"] or None) for row in rows}


def tidy_cells(rows: list[dict], dims: list[str]) -> dict[tuple, tuple]:
    out = {}
    for row in rows:
        value = row["value"]
        value = None if value in (None, "") else float(value)
        out[(*[row[d] for d in dims], row["TIME_PERIOD"])] = (value, row["status"] or None)
    assert len(out) == len(rows), "one row per observation"
    return out


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.text[:300]
    assert response.content.startswith("\ufeff".encode()), "a byte-order mark, for Excel"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def flows(api_client) -> list[dict]:
    listing = api_client.get("/api/dataflows").json()["dataflows"]
    out = []
    for f in listing:
        detail = api_client.get(f["links"]["self"]).json()
        out.append({**f, "dims": [d["id"] for d in detail["dimensions"]], "detail": detail})
    return out


def flow(flows, flow_id: str) -> dict:
    return next(f for f in flows if f["id"] == flow_id)


# --- the same numbers as SDMX ---------------------------------------------------------------

def test_every_number_of_every_dataflow_agrees_with_sdmx(api_client, flows):
    structures = api_client.get("/sdmx/3.0/structure/dataflow/*/*/~", headers={"Accept": "application/json"})
    assert structures.status_code == 200
    assert len(flows) == 18, [f["id"] for f in flows]
    withheld = 0
    for f in flows:
        mine = tidy_cells(csv_rows(api_client.get(f"/api/dataflows/{f['id']}/data.csv")), f["dims"])
        reference = sdmx_cells(api_client, f)
        assert mine == reference, f["id"]
        withheld += sum(v is None for v, _ in mine.values())
    assert withheld > 0, "the demonstration data has withheld cells: they must be compared too"


def test_the_json_pages_add_up_to_the_whole_view(api_client, flows):
    f = flow(flows, "DF_RESPERM_TEMP")
    whole = sdmx_cells(api_client, f)
    seen, url, pages = {}, f"/api/dataflows/{f['id']}/data?page_size=997", 0
    while url:
        body = api_client.get(url).json()
        assert body["total"] == len(whole) and body["page_size"] == 997
        page = tidy_cells(body["rows"], f["dims"])
        assert not set(page) & set(seen), "pages do not overlap"
        seen.update(page)
        url, pages = body["next"], pages + 1
    assert seen == whole
    assert pages == body["pages"] == -(-len(whole) // 997) > 1


def test_a_page_past_the_end_is_empty_not_an_error(api_client):
    body = api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data?page=100000").json()
    assert body["rows"] == [] and body["total"] > 0 and body["next"] is None


def test_filters_by_dimension_and_period_select_what_sdmx_selects(api_client, flows):
    f = flow(flows, "DF_WORKPERM_ISSUED")
    body = api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR,RU&PERMIT_ACTION=ISSUED"
                          "&start=2020&end=2024").json()
    got = tidy_cells(body["rows"], f["dims"])
    reference = sdmx_cells(api_client, f, "A.TR.ISSUED,A.RU.ISSUED", "?c[TIME_PERIOD]=ge:2020%2Ble:2024")
    assert got == reference and len(got) == 10
    assert {r["CITIZENSHIP"] for r in body["rows"]} == {"TR", "RU"}
    assert body["filters"] == {"CITIZENSHIP": ["TR", "RU"], "PERMIT_ACTION": ["ISSUED"], "start": "2020", "end": "2024"}


def test_every_download_link_of_a_view_returns_the_views_numbers(api_client, flows):
    f = flow(flows, "DF_WORKPERM_ISSUED")
    body = api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR,AE&start=2022&end=2024").json()
    view = tidy_cells(body["rows"], f["dims"])
    assert len(view) == 18  # 2 citizenships x 3 actions x 3 years
    links = {d["format"]: d["url"] for d in body["downloads"]}
    assert set(links) == {"csv", "xlsx", "csvdata", "csvdata10", "jsondata", "structurespecificdata",
                          "genericdata", "structurespecificdata30"}
    assert tidy_cells(csv_rows(api_client.get(links["csv"])), f["dims"]) == view
    for fmt in ("csvdata10", "jsondata", "structurespecificdata", "genericdata", "structurespecificdata30"):
        assert links[fmt].startswith("/sdmx/3.0/data/dataflow/AZ_SMS/DF_WORKPERM_ISSUED/1.0/"), links[fmt]
        got = api_client.get(links[fmt])
        assert got.status_code == 200, (fmt, got.text[:300])
    # The SDMX-CSV 2.0 link, read as the reference reads it: the view's numbers exactly.
    sdmx_link = next(d["url"] for d in body["downloads"] if d["label"] == "SDMX-CSV 2.0")
    parts = urlsplit(sdmx_link)
    params = dict(parse_qsl(parts.query))
    assert params["c[CITIZENSHIP]"] == "TR,AE" and params["c[TIME_PERIOD]"] == "ge:2022+le:2024"
    r = api_client.get(sdmx_link)
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert {(row["FREQ"], row["CITIZENSHIP"], row["PERMIT_ACTION"], row["TIME_PERIOD"]): (
        float(row["OBS_VALUE"]) if row["OBS_VALUE"] else None, row["OBS_STATUS"] or None) for row in rows} == view


def test_excel_download_holds_the_same_rows_with_labels(api_client, flows):
    f = flow(flows, "DF_WORKPERM_ISSUED")
    r = api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data.xlsx?CITIZENSHIP=TR&lang=az")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert 'filename="DF_WORKPERM_ISSUED.xlsx"' in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content), read_only=True)["data"]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    ids = [c["id"] for c in api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data?lang=az").json()["columns"]]
    assert "Vətəndaşlıq" in header  # the readable header, in Azerbaijani
    got = tidy_cells([dict(zip(ids, row)) for row in rows], f["dims"])
    assert got == sdmx_cells(api_client, f, "A.TR")
    assert all(isinstance(dict(zip(ids, row))["value"], (int, float)) for row in rows
               if dict(zip(ids, row))["value"] is not None), "numbers are numbers in Excel"
    assert {dict(zip(ids, row))["CITIZENSHIP_label"] for row in rows} == {"Türkiyə"}


# --- withheld cells ---------------------------------------------------------------------------

def test_a_withheld_cell_is_marked_confidential_with_a_reason_never_zero(api_client, flows):
    found = 0
    for f in flows:
        body = api_client.get(f"/api/dataflows/{f['id']}/data?page_size=10000&lang=az").json()
        for row in body["rows"]:
            if row["value"] is None:
                found += 1
                assert row["confidential"] is True and row["status"] == "Q"
                assert row["note"] and "Məxfi" in row["note"]
            else:
                assert row["note"] is None
        for row in csv_rows(api_client.get(f"/api/dataflows/{f['id']}/data.csv")):
            if row["confidential"] == "true":
                assert row["value"] == "" and row["note"]
    assert found > 0


# --- labels and languages ---------------------------------------------------------------------

@pytest.mark.parametrize("lang, total, turkey", [("en", "All countries", "Türkiye"), ("az", "Bütün ölkələr", "Türkiyə"),
                                                 ("ru", "Все страны", "Турция")])
def test_labels_in_the_language_asked_for(api_client, lang, total, turkey):
    detail = api_client.get(f"/api/dataflows/DF_WORKPERM_ISSUED?lang={lang}").json()
    (citizenship,) = [d for d in detail["dimensions"] if d["id"] == "CITIZENSHIP"]
    names = {c["id"]: c["name"] for c in citizenship["codes"]}
    assert names["_T"] == total and names["TR"] == turkey
    rows = csv_rows(api_client.get(f"/api/dataflows/DF_WORKPERM_ISSUED/data.csv?CITIZENSHIP=TR&lang={lang}"))
    assert {r["CITIZENSHIP_label"] for r in rows} == {turkey}
    # Accept-Language chooses when lang= is absent.
    header = api_client.get("/api/dataflows/DF_WORKPERM_ISSUED", headers={"Accept-Language": f"{lang};q=0.9"}).json()
    assert header["name"] == detail["name"]


def test_a_dataflow_shows_only_codes_that_occur_in_its_data(api_client, flows):
    f = flow(flows, "DF_WORKPERM_ISSUED")
    reference = sdmx_cells(api_client, f)
    for i, dim in enumerate(f["detail"]["dimensions"]):
        assert [c["id"] for c in dim["codes"]] and {c["id"] for c in dim["codes"]} == {k[i] for k in reference}
    assert f["detail"]["time_periods"] == sorted({k[-1] for k in reference})
    assert (f["first_period"], f["last_period"]) == (f["detail"]["time_periods"][0], f["detail"]["time_periods"][-1])
    assert f["detail"]["default_filter"] == {"CITIZENSHIP": ["_T"], "PERMIT_ACTION": ["_T"]}
    assert f["detail"]["confidentiality"] and "confidential" in f["detail"]["confidentiality"]
    releases = f["detail"]["releases"]
    assert releases and all(r["public"] and r["url"] == f"/releases/{r['id']}" for r in releases)


def test_the_list_groups_dataflows_by_topic(api_client, flows):
    body = api_client.get("/api/dataflows?lang=az").json()
    grouped = [i for c in body["categories"] for i in c["dataflows"]]
    assert sorted(grouped) == sorted(f["id"] for f in flows)
    labour = next(c for c in body["categories"] if c["id"] == "LABOUR")
    assert labour["name"] == "Əmək miqrasiyası" and "DF_WORKPERM_ISSUED" in labour["dataflows"]


# --- search -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, folded", [("Şəki", "seki"), ("Türkiye", "turkiye"), ("İsmayıllı", "ismayilli"),
                                          ("Ağcabədi", "agcabedi"), ("Göyçay", "goycay"), ("Curaçao", "curacao"),
                                          ("Турция", "турция")])
def test_folding_matches_letters_typed_without_diacritics(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize("typed", ["seki", "ŞƏKİ", "Şəki"])
def test_search_finds_a_place_typed_with_or_without_diacritics(api_client, typed):
    body = api_client.get("/api/dataflows", params={"q": typed, "lang": "az"}).json()
    hits = {m["name"] for f in body["dataflows"] for m in f["matches"]}
    assert "Şəki" in hits or any(h.startswith("Şəki") for h in hits), hits
    assert all(f["matches"] or "şəki" in (f["name"] + f["description"]).lower() for f in body["dataflows"])


def test_search_by_country_in_any_language_and_by_name(api_client):
    for typed in ("turkiye", "Турция", "TÜRKİYƏ"):
        body = api_client.get("/api/dataflows", params={"q": typed}).json()
        assert "DF_WORKPERM_ISSUED" in {f["id"] for f in body["dataflows"]}, typed
        hit = next(f for f in body["dataflows"] if f["id"] == "DF_WORKPERM_ISSUED")
        assert {"dimension": "CITIZENSHIP", "code": "TR"}.items() <= hit["matches"][0].items() or any(
            m["code"] == "TR" for m in hit["matches"])
    by_name = api_client.get("/api/dataflows", params={"q": "is icazeleri", "lang": "az"}).json()
    assert {"DF_WORKPERM_ISSUED", "DF_WORKPERM_VALID"} <= {f["id"] for f in by_name["dataflows"]}
    nothing = api_client.get("/api/dataflows", params={"q": "zzqx"}).json()
    assert nothing["dataflows"] == [] and nothing["categories"] == []


# --- errors: clear, JSON, never a 500 -----------------------------------------------------------

@pytest.mark.parametrize("path, status, words", [
    ("/api/dataflows/DF_NOPE", 404, "no dataflow DF_NOPE"),
    ("/api/dataflows/DF_NOPE/data", 404, "no dataflow DF_NOPE"),
    ("/api/dataflows/DF_WORKPERM_ISSUED/data?COLOUR=red", 400, "COLOUR is not a dimension"),
    ("/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=T%20R", 400, "is not a code"),
    ("/api/dataflows/DF_WORKPERM_ISSUED/data?start=last%20year", 400, "start"),
    ("/api/dataflows/DF_WORKPERM_ISSUED/data?page_size=100001", 400, "page_size"),
    ("/api/dataflows/DF_WORKPERM_ISSUED/data.csv?lang=fr", 400, "lang=fr"),
    ("/api/dataflows?lang=de", 400, "lang=de"),
    ("/api/nothing-here", 404, "no such resource"),
])
def test_a_bad_request_gets_a_clear_json_error(api_client, path, status, words):
    r = api_client.get(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["status"] == status and words.lower() in error["message"].lower(), error


def test_no_match_is_an_empty_table_not_an_error(api_client):
    body = api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR&start=1990&end=1991").json()
    assert body["rows"] == [] and body["total"] == 0 and body["pages"] == 1
    rows = csv_rows(api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data.csv?CITIZENSHIP=ZW,TR&start=1990&end=1991"))
    assert rows == []


# --- caching and documentation ---------------------------------------------------------------

def test_answers_carry_validators_and_revalidate(api_client):
    url = "/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR"
    first = api_client.get(url)
    assert first.status_code == 200 and first.headers["etag"]
    again = api_client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    other_language = api_client.get(url + "&lang=az")
    assert other_language.json()["rows"][0]["CITIZENSHIP_label"] == "Türkiyə"


def test_the_openapi_documents_the_friendly_routes_with_examples(api_client):
    spec = api_client.get("/openapi.json").json()
    for path in ("/api/dataflows", "/api/dataflows/{flow_id}", "/api/dataflows/{flow_id}/data",
                 "/api/dataflows/{flow_id}/data.csv", "/api/dataflows/{flow_id}/data.xlsx"):
        op = spec["paths"][path]["get"]
        assert "friendly API" in op["tags"] and op["summary"], path
    params = {p["name"]: p for p in spec["paths"]["/api/dataflows/{flow_id}/data"]["get"]["parameters"]}
    assert {"start", "end", "page", "page_size", "lang"} <= set(params)
    assert params["start"].get("examples") or params["start"]["schema"].get("examples")
    assert "CITIZENSHIP=TR" in spec["paths"]["/api/dataflows/{flow_id}/data"]["get"]["description"]
