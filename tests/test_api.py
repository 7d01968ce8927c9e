"""The web service's behaviour: negotiation, SDMX errors, the cache, and what it may touch."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
from lxml import etree
from sqlalchemy import event, text

from api.config import Settings

DATA = "/sdmx/2.1/data/DF_RESPERM_TEMP"
CSV = "application/vnd.sdmx.data+csv;version=2.0.0"
NS = {"m": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
      "c": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"}


def sdmx_error(response) -> tuple[str, str]:
    """(code, text) of an SDMX-ML error message."""
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{NS['m']}}}Error"
    msg = root.find("m:ErrorMessage", NS)
    return msg.get("code"), msg.findtext("c:Text", namespaces=NS)


# --- content negotiation ---------------------------------------------------------------

@pytest.mark.parametrize("accept, expected", [
    (None, "application/vnd.sdmx.structurespecificdata+xml"),
    ("*/*", "application/vnd.sdmx.structurespecificdata+xml"),
    ("application/vnd.sdmx.genericdata+xml;version=2.1", "application/vnd.sdmx.genericdata+xml"),
    ("application/vnd.sdmx.data+json;version=2.0.0", "application/vnd.sdmx.data+json"),
    ("application/vnd.sdmx.data+csv;version=2.0.0", "application/vnd.sdmx.data+csv"),
    ("text/csv", "application/vnd.sdmx.data+csv"),
    ("image/png, application/json;q=0.5", "application/vnd.sdmx.data+json"),
])
def test_accept_header_chooses_the_format(api_client, accept, expected):
    headers = {"Accept": accept} if accept else {}
    r = api_client.get(f"{DATA}/Q.RU.F._T._T", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == expected


@pytest.mark.parametrize("fmt, expected", [("csv", "application/vnd.sdmx.data+csv"),
                                           ("jsondata", "application/vnd.sdmx.data+json"),
                                           ("genericdata", "application/vnd.sdmx.genericdata+xml")])
def test_format_parameter_overrides_accept(api_client, fmt, expected):
    r = api_client.get(f"{DATA}/Q.RU.F._T._T?format={fmt}", headers={"Accept": "application/xml"})
    assert r.headers["content-type"].split(";")[0] == expected


@pytest.mark.parametrize("accept", ["image/png", "application/vnd.sdmx.data+csv;version=9.9.9"])
def test_406_when_no_format_fits(api_client, accept):
    r = api_client.get(f"{DATA}/Q.RU.F._T._T", headers={"Accept": accept})
    assert r.status_code == 406
    code, message = sdmx_error(r)
    assert code == "406" and "available" in message


# --- errors: SDMX status and body, never a 500 -------------------------------------------

@pytest.mark.parametrize("path, status, code", [
    ("/sdmx/2.1/data/DF_NOPE", 404, "100"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP/Q.XX.F._T._T", 404, "100"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU.F._T._T.X.Y", 400, "140"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP/Q.R%3CU.F", 400, "140"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP?startPeriod=yesterday", 400, "140"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP?startPeriod=2025&endPeriod=2020", 400, "140"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP?updatedAfter=soon", 400, "140"),
    ("/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/*?c[NOPE]=A", 400, "140"),
    ("/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/*?c[SEX]=xx:F", 400, "140"),
    ("/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/*?c[OBS_VALUE]=gt:many", 400, "140"),
    ("/sdmx/2.1/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0?references=cousins", 400, "140"),
    ("/sdmx/2.1/codelist/AZ_SMS/CL_NOPE", 404, "100"),
    ("/sdmx/2.1/codelist/AZ%20SMS/CL_SEX", 400, "140"),
    ("/sdmx/2.1/provisionagreement/AZ_SMS/all/latest", 501, "501"),
    ("/sdmx/3.0/data/datastructure/AZ_SMS/DSD_RESPERM_TEMP/1.0/*", 501, "501"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP?includeHistory=true&format=csvdata", 501, "501"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP?includeHistory=maybe", 400, "140"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP?asOf=yesterday", 400, "140"),
    ("/sdmx/2.1/data/DF_RESPERM_TEMP?lastNObservations=0", 400, "140"),
    ("/nowhere", 404, "100"),
])
def test_bad_queries_get_the_sdmx_status_and_an_sdmx_error_body(api_client, path, status, code):
    r = api_client.get(path)
    assert r.status_code == status, r.text
    assert sdmx_error(r)[0] == code


def test_errors_in_json_when_json_was_asked_for(api_client):
    r = api_client.get("/sdmx/2.1/data/DF_NOPE", headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"})
    assert r.status_code == 404
    body = orjson.loads(r.content)
    assert body["errors"][0]["code"] == 100


def test_azerbaijani_text_in_an_error_message_stays_intact(api_client):
    r = api_client.get("/sdmx/2.1/codelist/AZ_SMS/Şəki")
    assert r.status_code == 400
    assert "Şəki" in sdmx_error(r)[1]


# --- Azerbaijani text in every format that carries text -----------------------------------

AZ = "əğıİöüçş"


def test_azerbaijani_letters_survive_structure_json_and_csv(api_client):
    xml = api_client.get("/sdmx/2.1/codelist/AZ_SMS/CL_REGION").content.decode("utf-8")
    assert "Şəki-Zaqatala" in xml and "Gəncə-Daşkəsən" in xml
    js = orjson.loads(api_client.get(f"{DATA}/Q._T._T._T.SHAKI_ZAGATALA?format=jsondata",
                                     headers={"Accept-Language": "az"}).content)
    region = js["data"]["structures"][0]["dimensions"]["series"][4]["values"][0]
    assert region["name"] == "Şəki-Zaqatala" and region["names"]["ru"] == "Шеки-Загатала"
    body = api_client.get(f"{DATA}/Q._T._T._T.SHAKI_ZAGATALA?format=csv&labels=both",
                          headers={"Accept-Language": "az"}).content.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows[0]["REGION: Qeydiyyat yeri (iqtisadi rayon)"] == "SHAKI_ZAGATALA: Şəki-Zaqatala"
    # All the special letters occur somewhere across these texts.
    every = xml + orjson.dumps(js).decode() + body + api_client.get("/sdmx/2.1/codelist/AZ_SMS/CL_AREA").text
    assert set(AZ) <= set(every)


def test_labels_in_the_language_asked_for(api_client):
    for lang, name in (("en", "Shaki-Zagatala"), ("ru", "Шеки-Загатала"), ("az", "Şəki-Zaqatala")):
        body = api_client.get(f"{DATA}/Q._T._T._T.SHAKI_ZAGATALA?format=csv&labels=name",
                              headers={"Accept-Language": f"{lang},en;q=0.5"}).text
        assert name in body


# --- the cache never hides a new publication ----------------------------------------------

def test_cache_is_keyed_by_the_state_of_the_store(tmp_path, content, demo_files):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from publisher.extract import read_extract
    from publisher.publish import publish
    from publisher.staging import ingest
    from store.db import make_engine
    from tests.conftest import publish_demo

    url = f"sqlite:///{tmp_path}/store.sqlite"
    publish_demo(url, content, demo_files)
    app = create_app(Settings(database_url=url, cache_dir=str(tmp_path / "cache"),
                              cache_size=2**28, cache_max_entry=2**24, state_ttl=5.0))
    now = [1000.0]  # the API's clock for re-reading the state of the store (STATE_TTL)
    app.state.snapshots.clock = lambda: now[0]
    query = f"{DATA}/Q.RU.F._T._T?startPeriod=2025-Q4&format=csv"
    with TestClient(app) as client:
        first = client.get(query)
        again = client.get(query)
        assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
        assert first.content == again.content
        assert "2025-Q4,1109," in first.text or "2025-Q4," in first.text

        # A revised extract for 2025-Q4 is published: the next answer shows it at once.
        flow = content.dataflow("DF_RESPERM_TEMP")
        lines = demo_files["DF_RESPERM_TEMP"].read_text(encoding="utf-8").splitlines()
        header, rows = lines[0], [r for r in lines[1:] if r.startswith("2025-Q4,")]
        old = next(r for r in rows if r.startswith("2025-Q4,RU,Qadın,_T,"))
        old_value = int(old.rsplit(",", 1)[1])

        def bump(r: str) -> str:
            # One woman moves from Türkiye to Russia: every total stays consistent.
            parts = r.split(",")
            if parts[3] == "_T" and parts[4] == "Azərbaycan Respublikası" and parts[2] in ("Qadın", "Cəmi"):
                parts[5] = str(int(parts[5]) + {"RU": 1, "TR": -1}.get(parts[1], 0))
            return ",".join(parts)

        revised = tmp_path / "revised.csv"
        revised.write_text("\n".join([header, *map(bump, rows)]) + "\n", encoding="utf-8")
        engine = make_engine(url)
        ingest(engine, read_extract(revised, flow))
        publish(engine, content, "revision")
        # Within STATE_TTL of the last reading, this process has not looked again...
        now[0] += 4.9
        assert client.get(query).content == first.content
        # ...once it has passed, the next answer shows the revision.
        now[0] += 0.2
        after = client.get(query)
        assert after.headers["x-cache"] == "miss"
        assert f"2025-Q4,{old_value + 1}," in after.text


# --- the API reads only the public area, and cannot write -----------------------------------

def test_the_api_never_touches_staging_and_cannot_write(published_store, tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(Settings(database_url=published_store, cache_dir=str(tmp_path / "c"),
                              cache_size=2**28, cache_max_entry=2**24))
    statements: list[str] = []
    event.listen(app.state.engine, "before_cursor_execute",
                 lambda conn, cursor, stmt, *a: statements.append(stmt))
    with TestClient(app) as client:
        for path in ("/health", "/sdmx/2.1/dataflow/all/all/latest?references=all",
                     f"{DATA}/Q.RU.F._T._T?format=csv", f"{DATA}?format=jsondata",
                     "/sdmx/3.0/data/dataflow/AZ_SMS/DF_WORKPERM_VALID/1.0/*?c[SEX]=F",
                     "/sdmx/2.1/schema/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0",
                     "/api/dataflows?q=seki", "/api/dataflows/DF_RESPERM_TEMP",
                     "/api/dataflows/DF_RESPERM_TEMP/data.xlsx?CITIZENSHIP=RU", "/catalogue.ttl",
                     "/releases.json", "/metrics"):
            assert client.get(path).status_code == 200
    assert statements
    assert not [s for s in statements if "staging" in s.lower()]
    assert all(s.lstrip().upper().startswith(("SELECT", "BEGIN", "SET", "SHOW", "ROLLBACK", "COMMIT"))
               for s in statements)
    with app.state.engine.connect() as conn, pytest.raises(Exception):
        conn.execute(text("DELETE FROM public_observation"))
        conn.commit()
