"""Structured logs (api.logs): an access entry per request, with a request id the client
gets back, as one JSON object per line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from api.logs import access_log, json_formatter


@pytest.fixture
def entries():
    """The access entries written while the test runs, as the JSON lines a log platform reads."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    access_log.addHandler(handler)
    level = access_log.level
    access_log.setLevel(logging.INFO)  # setLevel, not .level: it clears the logger's level cache
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    access_log.removeHandler(handler)
    access_log.setLevel(level)


def test_each_request_is_one_json_line_with_its_facts(api_client, entries):
    r = api_client.get("/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR&lang=az")
    assert r.status_code == 200
    (entry,) = [e for e in entries() if e["path"] == "/api/dataflows/DF_WORKPERM_ISSUED/data"]
    assert entry["message"] == "request" and entry["logger"] == "api.access" and entry["level"] == "INFO"
    assert entry["method"] == "GET" and entry["status"] == 200 and entry["query"] == "CITIZENSHIP=TR&lang=az"
    assert entry["cache"] in ("hit", "miss") and entry["bytes"] == r.num_bytes_downloaded and entry["seconds"] >= 0
    assert entry["request_id"] == r.headers["x-request-id"] and len(entry["request_id"]) == 32


def test_a_proxys_request_id_is_kept_and_a_bad_one_replaced(api_client, entries):
    r = api_client.get("/sdmx/2.1/dataflow", headers={"X-Request-ID": "edge-42.abc"})
    assert r.headers["x-request-id"] == "edge-42.abc"
    bad = api_client.get("/sdmx/2.1/dataflow", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert bad.headers["x-request-id"] != "<script>" and len(bad.headers["x-request-id"]) == 32
    ids = [e["request_id"] for e in entries()]
    assert "edge-42.abc" in ids and bad.headers["x-request-id"] in ids


def test_errors_are_logged_with_their_status(api_client, entries):
    assert api_client.get("/sdmx/2.1/data/DF_NOPE").status_code == 404
    assert api_client.delete("/api/dataflows").status_code == 405
    got = {(e["method"], e["path"], e["status"]) for e in entries()}
    assert ("GET", "/sdmx/2.1/data/DF_NOPE", 404) in got and ("DELETE", "/api/dataflows", 405) in got


def test_azerbaijani_text_stays_readable_in_the_log(api_client, entries):
    api_client.get("/api/dataflows?q=Şəki")
    (entry,) = [e for e in entries() if e["path"] == "/api/dataflows"]
    assert entry["query"].startswith("q=")  # the raw query string, percent-encoded as sent
