"""What operators watch: liveness and readiness, and the Prometheus metrics (api.metrics)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.config import Settings
from api.metrics import family


def samples(client: TestClient) -> dict[tuple, float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(r.text) for s in f.samples}


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def client(published_store, tmp_path):
    app = create_app(Settings(database_url=published_store, cache_dir=str(tmp_path / "cache"), cache_size=2**28,
                              cache_max_entry=2**24, rate_limit=50, rate_limit_burst=20, memory_cache_size=0))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_requests_are_counted_by_family_method_and_status(client):
    before = samples(client)
    for _ in range(3):
        assert client.get("/sdmx/2.1/data/DF_WORKPERM_ISSUED/A.TR.").status_code == 200
    assert client.get("/sdmx/2.1/data/DF_NOPE").status_code == 404
    assert client.post("/api/dataflows").status_code == 405
    after = samples(client)
    key = {"family": "sdmx_data", "method": "GET"}
    assert value(after, "api_requests_total", **key, status="200") - value(before, "api_requests_total", **key,
                                                                            status="200") == 3
    assert value(after, "api_requests_total", **key, status="404") - value(before, "api_requests_total", **key,
                                                                            status="404") == 1
    assert value(after, "api_requests_total", family="friendly_api", method="POST", status="405") == 1
    assert value(after, "api_request_seconds_count", family="sdmx_data") >= 4


def test_cache_hits_and_misses_are_counted(client):
    url = "/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=RU"
    before = samples(client)
    client.get(url), client.get(url), client.get(url)
    after = samples(client)
    assert value(after, "api_cache_total", result="miss") - value(before, "api_cache_total", result="miss") == 1
    assert value(after, "api_cache_total", result="hit") - value(before, "api_cache_total", result="hit") == 2


def test_rate_limited_requests_are_counted(published_store, tmp_path):
    app = create_app(Settings(database_url=published_store, cache_dir=str(tmp_path / "c"), cache_size=2**28,
                              cache_max_entry=2**24, rate_limit=1, rate_limit_burst=2))
    with TestClient(app) as c:
        statuses = [c.get("/releases.json").status_code for _ in range(5)]
        assert statuses.count(429) >= 2
    from prometheus_client import generate_latest  # /metrics itself is limited now: read the registry

    exposition = generate_latest(app.state.metrics.registry).decode()
    assert 'api_requests_total{family="releases",method="GET",status="429"}' in exposition


def test_the_releases_served_are_a_metric(client):
    found = samples(client)
    public = client.get("/releases.json").json()["past"]
    assert value(found, "api_releases_public") == len(public) > 0
    assert value(found, "api_last_release_timestamp_seconds") > 0


@pytest.mark.parametrize("path, name", [("/", "explorer"), ("/sdmx/3.0/data/dataflow/A/B/1.0/*", "sdmx_data"),
                                        ("/sdmx/2.1/dataflow/all", "sdmx_structure"), ("/api/dataflows", "friendly_api"),
                                        ("/../../etc/passwd", "other"), ("/releases/3/bulletin-en.html", "releases")])
def test_families_are_a_fixed_set_whatever_the_path(path, name):
    assert family(path) == name


def test_liveness_holds_while_the_database_is_down_and_readiness_does_not(tmp_path):
    down = "postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=1"  # nothing listens on port 9
    app = create_app(Settings(database_url=down, cache_dir=str(tmp_path / "c"), cache_size=2**26,
                              cache_max_entry=2**20))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/live").json() == {"status": "ok"}
        for path in ("/ready", "/health"):
            r = c.get(path)
            assert r.status_code == 503 and r.json()["database"] == "unreachable"
        r = c.get("/sdmx/2.1/dataflow")
        assert r.status_code == 503 and "unavailable" in r.text
        assert c.get("/metrics").status_code == 200  # the scrape still works, without release figures
        assert "api_releases_public" not in c.get("/metrics").text


def test_readiness_reports_the_current_release(client):
    body = client.get("/ready").json()
    assert body["status"] == "ok" and body["release"] >= 1
