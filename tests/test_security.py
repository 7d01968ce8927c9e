"""The public API's door: nothing can be written, nobody can flood it, no response carries
a stack trace or SQL, and every response carries the security headers (api.security)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from api.app import create_app
from api.config import Settings
from api.security import TokenBuckets

ROUTES = ["/sdmx/2.1/data/DF_WORKPERM_ISSUED/A.TR.", "/sdmx/3.0/structure/dataflow/AZ_SMS/*/~",
          "/api/dataflows/DF_WORKPERM_ISSUED", "/releases", "/releases.json", "/dataflows/DF_UAM/metadata",
          "/sdmx/2.1/data/DF_NOPE", "/api/dataflows/DF_NOPE", "/no/such/path"]


def app_with(published_store, tmp_path, **settings) -> TestClient:
    app = create_app(Settings(database_url=published_store, cache_dir=str(tmp_path / "cache"),
                              cache_size=2**28, cache_max_entry=2**24, **settings))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("path", ROUTES)
def test_every_response_carries_the_security_headers(api_client, path):
    r = api_client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


def test_the_interactive_docs_keep_their_cdn_scripts(api_client):
    r = api_client.get("/docs")
    assert r.status_code == 200 and "content-security-policy" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/sdmx/2.1/data/DF_WORKPERM_ISSUED", "/api/dataflows", "/releases", "/anything"])
def test_nothing_can_be_written(api_client, method, path):
    r = api_client.request(method, path, content=b"<x/>")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"
    assert "read-only" in r.text


def test_every_route_of_the_application_is_a_read(api_client):
    for route in api_client.app.routes:
        methods = getattr(route, "methods", None)
        if methods:
            assert methods <= {"GET", "HEAD"}, (route.path, methods)


def test_a_client_over_its_rate_gets_429_and_others_do_not(published_store, tmp_path):
    client = app_with(published_store, tmp_path, rate_limit=2.0, rate_limit_burst=3, trust_forwarded_for=True)
    me = {"X-Forwarded-For": "198.51.100.7", "Origin": "https://news.example"}
    statuses = [client.get("/sdmx/2.1/dataflow", headers=me).status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    limited = client.get("/sdmx/2.1/dataflow", headers=me)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    root = etree.fromstring(limited.content)  # an SDMX error message
    assert etree.QName(root).localname == "Error" and "too many requests" in limited.text
    assert limited.headers["access-control-allow-origin"] == "*"  # a browser can read why
    other = client.get("/sdmx/2.1/dataflow", headers={"X-Forwarded-For": "203.0.113.9"})
    assert other.status_code == 200
    friendly = client.get("/api/dataflows", headers=me)
    assert friendly.status_code == 429 and friendly.json()["error"]["status"] == 429


def test_forwarded_for_is_ignored_unless_trusted(published_store, tmp_path):
    client = app_with(published_store, tmp_path, rate_limit=1.0, rate_limit_burst=2)
    # Posing as a new client on every request does not escape the limit.
    statuses = [client.get("/health", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(5)]
    assert 429 in statuses


def test_no_limit_by_default(api_client):
    assert all(api_client.get("/releases.json").status_code == 200 for _ in range(30))


def test_the_bucket_refills_at_its_rate():
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("b") == 0  # clients are independent


def test_an_unexpected_error_shows_no_stack_trace_or_sql(published_store, tmp_path, monkeypatch):
    from sqlalchemy.exc import ProgrammingError

    from api import store

    def broken(*args, **kwargs):
        raise ProgrammingError("SELECT secret FROM staging_observation WHERE x = 1", {}, Exception("boom"))

    monkeypatch.setattr(store, "data_rows", broken)
    client = app_with(published_store, tmp_path)
    for path in ("/sdmx/2.1/data/DF_WORKPERM_ISSUED/A.TR.", "/api/dataflows/DF_WORKPERM_ISSUED/data"):
        r = client.get(path)
        assert r.status_code == 500, path
        for leak in ("SELECT", "staging", "Traceback", "boom", ".py"):
            assert leak not in r.text, (path, leak)
