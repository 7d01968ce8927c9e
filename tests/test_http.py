"""The HTTP layer as a client sees it: gzip, ETag / Last-Modified and 304, Cache-Control and
Vary, CORS (on errors too), and the 413 / 414 limits with SDMX error bodies (api.http)."""

from __future__ import annotations

import gzip
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import orjson
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import event

from api.app import create_app
from api.config import Settings
from tests.xmlvalidation import validate_sdmxml21

DATA = "/sdmx/2.1/data/DF_RESPERM_TEMP"
ONE_SERIES = f"{DATA}/Q.RU.F._T._T"
CSV = "application/vnd.sdmx.data+csv;version=2.0.0"
JSON = "application/vnd.sdmx.data+json;version=2.0.0"
NS = {"m": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
      "c": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"}

# One response of each kind that carries the caching headers.
CACHEABLE = [
    pytest.param(f"{ONE_SERIES}?format=csv", id="data"),
    pytest.param("/sdmx/3.0/structure/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0?references=all", id="structure"),
    pytest.param("/sdmx/2.1/schema/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0", id="schema"),
    pytest.param("/sdmx/3.0/metadata/metadataflow/AZ_SMS/MDF_SIMS/1.0", id="metadata"),
]


def make_client(url: str, tmp_path, **limits) -> TestClient:
    app = create_app(Settings(database_url=url, cache_dir=str(tmp_path / "cache"),
                              cache_size=2**28, cache_max_entry=2**24, **limits))
    return TestClient(app, raise_server_exceptions=False)


def sdmx_error(response) -> tuple[str, str]:
    """(code, text) of an SDMX-ML error message, after checking it against the official schema."""
    assert validate_sdmxml21(response.content) == []
    msg = etree.fromstring(response.content).find("m:ErrorMessage", NS)
    return msg.get("code"), msg.findtext("c:Text", namespaces=NS)


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


# --- gzip ----------------------------------------------------------------------------------

@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_gzip_for_clients_that_ask_and_plain_bytes_for_the_others(published_store, tmp_path, streamed):
    # Answers above BUFFER_OBSERVATIONS are streamed as they are read; smaller ones are
    # sent whole, with a Content-Length. Both are compressed for gzip clients.
    query = f"{DATA}?format=csv&startPeriod=2019-Q3"
    with make_client(published_store, tmp_path, buffer_observations=0 if streamed else 20_000) as client:
        with client.stream("GET", query, headers={"Accept-Encoding": "gzip"}) as r:
            assert r.status_code == 200
            assert r.headers["content-encoding"] == "gzip"
            assert ("content-length" not in r.headers) is streamed  # a streamed response stays streamed
            compressed = b"".join(r.iter_raw())
        with client.stream("GET", query, headers={"Accept-Encoding": "identity"}) as r:
            assert "content-encoding" not in r.headers
            assert r.headers["x-cache"] == "hit"  # kept whole from the first answer
            plain = b"".join(r.iter_raw())
    assert plain.startswith(b"STRUCTURE,STRUCTURE_ID,ACTION,FREQ")
    assert gzip.decompress(compressed) == plain
    assert len(compressed) < len(plain) / 4


# --- ETag, Last-Modified, 304 --------------------------------------------------------------------

@pytest.mark.parametrize("path", CACHEABLE)
def test_every_cacheable_response_has_validators_cache_control_and_vary(api_client, path):
    r = api_client.get(path)
    assert r.status_code == 200
    assert r.headers["etag"].startswith('W/"')
    assert parsedate_to_datetime(r.headers["last-modified"]).tzinfo is not None
    assert r.headers["cache-control"] == "public, max-age=300"
    assert {"accept", "accept-encoding", "accept-language"} <= vary(r)


@pytest.mark.parametrize("path", CACHEABLE)
def test_if_none_match_answers_304_with_no_body(api_client, path):
    etag = api_client.get(path).headers["etag"]
    r = api_client.get(path, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert r.headers["cache-control"] == "public, max-age=300"
    # Several tags, one of them current; weak comparison, as If-None-Match asks.
    bare = etag.removeprefix("W/")
    assert api_client.get(path, headers={"If-None-Match": f'"stale", {bare}'}).status_code == 304
    assert api_client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_the_etag_names_one_representation(api_client):
    first = api_client.get(ONE_SERIES, headers={"Accept": CSV})
    again = api_client.get(ONE_SERIES, headers={"Accept": CSV})
    assert first.headers["etag"] == again.headers["etag"]  # a cache miss, then a hit
    assert api_client.get(f"{ONE_SERIES}?format=csv").headers["etag"] == first.headers["etag"]
    others = {api_client.get(ONE_SERIES, headers={"Accept": JSON}).headers["etag"],
              api_client.get(ONE_SERIES, headers={"Accept": CSV, "Accept-Language": "az"}).headers["etag"],
              api_client.get(f"{ONE_SERIES}?startPeriod=2024-Q1", headers={"Accept": CSV}).headers["etag"],
              api_client.get(f"{DATA}/Q.TR.F._T._T", headers={"Accept": CSV}).headers["etag"]}
    assert first.headers["etag"] not in others and len(others) == 4


@pytest.mark.parametrize("state_ttl", [60.0, 0.0])
def test_a_304_is_answered_without_reading_observations(published_store, tmp_path, state_ttl):
    with make_client(published_store, tmp_path, state_ttl=state_ttl) as client:
        etag = client.get(f"{DATA}?format=jsondata").headers["etag"]
        statements: list[str] = []
        event.listen(client.app.state.engine, "before_cursor_execute",
                     lambda conn, cursor, stmt, *a: statements.append(stmt))
        r = client.get(f"{DATA}?format=jsondata", headers={"If-None-Match": etag})
        assert r.status_code == 304
        if state_ttl:
            # Within STATE_TTL the state of the store is not read again: no round trip at all.
            assert statements == []
        else:
            # Read again on every request: one look at the releases, none at the observations.
            assert statements and not [s for s in statements if "public_observation" in s]
        client.get(f"{DATA}/Q.TR.F._T._T?format=jsondata")  # a new query does read them
    assert [s for s in statements if "public_observation" in s]


def test_if_modified_since(api_client):
    r = api_client.get(ONE_SERIES)
    last_modified = parsedate_to_datetime(r.headers["last-modified"])
    for since, status in ((last_modified, 304), (last_modified + timedelta(days=1), 304),
                          (last_modified - timedelta(seconds=1), 200)):
        asked = api_client.get(ONE_SERIES, headers={"If-Modified-Since": format_datetime(since, usegmt=True)})
        assert asked.status_code == status
    assert api_client.get(ONE_SERIES, headers={"If-Modified-Since": "last Tuesday"}).status_code == 200
    # When both are sent, the ETag decides (RFC 9110).
    both = {"If-Modified-Since": r.headers["last-modified"], "If-None-Match": '"stale"'}
    assert api_client.get(ONE_SERIES, headers=both).status_code == 200


def test_a_new_publication_changes_the_etag_and_last_modified(empty_store, content, demo_files, tmp_path):
    from publisher.extract import read_extract
    from publisher.publish import publish
    from publisher.staging import ingest
    from store.db import make_engine

    engine = make_engine(empty_store)
    flow = content.dataflow("DF_RESPERM_TEMP")
    ingest(engine, read_extract(demo_files["DF_RESPERM_TEMP"], flow))
    publish(engine, content, "first")
    # STATE_TTL=0: the state of the store is read on every request (else within a second).
    with make_client(empty_store, tmp_path, state_ttl=0) as client:
        before = client.get(ONE_SERIES, headers={"Accept": CSV})
        assert before.status_code == 200
        assert client.get(ONE_SERIES, headers={"Accept": CSV, "If-None-Match": before.headers["etag"]}
                          ).status_code == 304

        ingest(engine, read_extract(demo_files["DF_RESPERM_TEMP"], flow))  # published again
        publish(engine, content, "second")
        after = client.get(ONE_SERIES, headers={"Accept": CSV, "If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.text == before.text
        assert after.headers["etag"] != before.headers["etag"]
        assert (parsedate_to_datetime(after.headers["last-modified"])
                >= parsedate_to_datetime(before.headers["last-modified"]))
    engine.dispose()


# --- HEAD ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [*CACHEABLE, pytest.param(f"{DATA}/Q.XX.F._T._T", id="404"),
                                  pytest.param(f"{DATA}/Q.RU?format=csv", id="400")])
def test_head_answers_as_get_without_a_body(api_client, path):
    get = api_client.get(path, headers={"Accept-Encoding": "identity"})
    head = api_client.head(path, headers={"Accept-Encoding": "identity"})
    assert head.status_code == get.status_code
    assert head.content == b"" and get.content
    same = ("content-type", "etag", "last-modified", "cache-control", "vary")
    assert {h: head.headers.get(h) for h in same} == {h: get.headers.get(h) for h in same}
    if "content-length" in head.headers:
        assert int(head.headers["content-length"]) == len(get.content)


# --- CORS --------------------------------------------------------------------------------------

BROWSER = {"Origin": "https://data.example.org"}


def cors_ok(r) -> bool:
    exposed = {h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")}
    return r.headers.get("access-control-allow-origin") == "*" and {"etag", "last-modified"} <= exposed


def test_cors_on_data_and_on_errors(api_client):
    assert cors_ok(api_client.get(ONE_SERIES, headers=BROWSER))
    missing = api_client.get("/sdmx/2.1/data/DF_NOPE", headers=BROWSER)
    assert missing.status_code == 404 and cors_ok(missing)
    bad = api_client.get(f"{DATA}?startPeriod=yesterday", headers=BROWSER)
    assert bad.status_code == 400 and cors_ok(bad)


def test_a_browser_preflight_is_answered(api_client):
    r = api_client.options(ONE_SERIES, headers={**BROWSER, "Access-Control-Request-Method": "GET",
                                                "Access-Control-Request-Headers": "if-none-match"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert "if-none-match" in r.headers["access-control-allow-headers"].lower()


def test_even_an_internal_error_carries_cors_headers(published_store, tmp_path):
    with make_client(published_store, tmp_path) as client:
        def broken():
            raise RuntimeError("a bug")
        client.app.add_api_route("/broken", broken)
        r = client.get("/broken", headers=BROWSER)
    assert r.status_code == 500 and cors_ok(r)
    assert sdmx_error(r)[0] == "500"


# --- limits: 414 and 413 ---------------------------------------------------------------------------

def test_414_for_a_uri_longer_than_the_limit(api_client):
    key = "Q." + "+".join(f"C{i:04d}" for i in range(900)) + ".F._T._T"
    r = api_client.get(f"{DATA}/{key}", headers=BROWSER)
    assert r.status_code == 414 and cors_ok(r)
    code, text = sdmx_error(r)
    assert code == "140" and "4096 bytes" in text
    as_json = api_client.get(f"{DATA}/{key}", headers={"Accept": JSON})
    assert as_json.status_code == 414 and orjson.loads(as_json.content)["errors"][0]["code"] == 140


def test_the_uri_limit_is_a_setting(published_store, tmp_path):
    with make_client(published_store, tmp_path, max_uri_length=60) as client:
        assert client.get(ONE_SERIES).status_code == 200
        assert client.get(f"{ONE_SERIES}?startPeriod=2024-Q1&endPeriod=2025-Q4").status_code == 414


def test_413_names_the_size_asked_and_the_limit(api_client, published_store, tmp_path):
    with make_client(published_store, tmp_path, max_observations=1000) as client:
        small = client.get(f"{ONE_SERIES}?format=csv")
        assert small.status_code == 200  # one series: a few dozen quarters
        r = client.get(f"{DATA}?format=csv", headers=BROWSER)
        assert r.status_code == 413 and cors_ok(r)
        code, text = sdmx_error(r)
    assert code == "510"
    asked = int(text.split(" observations")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert "1,000" in text and "narrow the key" in text.lower()
    # The number asked is the number a service without the limit sends.
    assert asked == len(api_client.get(f"{DATA}?format=csv").text.splitlines()) - 1


def test_an_answer_names_the_host_it_was_asked_under(published_store, tmp_path):
    # The structure-specific message points at its schema by absolute URL: two host names
    # (say, the public name and the internal one) get each their own, cached apart.
    with make_client(published_store, tmp_path) as client:
        for _ in range(2):  # built, then from the caches
            for host in ("stat.example.az", "10.0.0.5:8000"):
                r = client.get(ONE_SERIES, headers={"Host": host, "Accept-Encoding": "identity"})
                assert r.status_code == 200
                assert f"http://{host}/sdmx/2.1/schema/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0".encode() in r.content
