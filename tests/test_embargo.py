"""The embargo as the API serves it: a scheduled release is invisible on every route until
its second, then visible on every route at once; the response cache and HTTP validators
never carry an answer across a release time; and earlier vintages stay readable
(``asOf``, ``includeHistory``, ``updatedAfter``), read back with a real SDMX client.

One store per backend (module scope), written once:

* release A of DF_NET_MIGR (one series, no disclosure control, so what is staged is what
  is published), 2015-2024, public since TA;
* release B of the same dataflow, scheduled for T: it adds 2025 and revises 2023 and 2024.

Every app here reads the clock from ``clock["now"]`` (``create_app(now=...)``), which the
tests move; nothing depends on when the tests run. The publisher-level rules of releases
are tested in tests/test_releases.py; here only what a client of the API sees.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
import sdmx
from fastapi.testclient import TestClient
from lxml import etree

from api.app import create_app
from api.config import Settings
from publisher import releases as R
from publisher.extract import read_extract
from publisher.staging import ingest
from store.db import make_engine
from store.migrate import upgrade

from conftest import BACKENDS, new_database

FLOW = "DF_NET_MIGR"
KEY = "A._T"
TA = datetime(2030, 1, 10, 6, 0, tzinfo=timezone.utc)  # release A (public)
T = datetime(2030, 2, 10, 6, 0, tzinfo=timezone.utc)  # release B (scheduled)
BETWEEN = "2030-01-20T00:00:00Z"  # after A, before B
AFTER_B = "2030-02-11T00:00:00Z"
SECOND = timedelta(seconds=1)
A_PERIODS = [str(y) for y in range(2015, 2025)]
NEW_PERIOD = "2025"
REVISED = {"2023": 2000.0, "2024": 1800.0}  # B's values of two cells A published

# Media types.
ML21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
ML30 = "application/vnd.sdmx.structurespecificdata+xml;version=3.0.0"
JSON20 = "application/vnd.sdmx.data+json;version=2.0.0"
CSV10 = "application/vnd.sdmx.data+csv;version=1.0.0"
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"

V1 = f"/sdmx/2.1/data/{FLOW}"
V2 = f"/sdmx/3.0/data/dataflow/AZ_SMS/{FLOW}/1.0/*"
#: Every data route and format a client may ask for: the embargo must hold on each.
DATA = [(V1, ML21), (V1, JSON20), (V1, CSV10), (V2, ML30), (V2, JSON20), (V2, CSV20)]
AVAILABILITY = [f"/sdmx/2.1/availableconstraint/{FLOW}", f"/sdmx/3.0/availability/dataflow/AZ_SMS/{FLOW}/1.0"]

NS = {"atom": "http://www.w3.org/2005/Atom", "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"}
SS21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific}"


# --- the store and the apps -------------------------------------------------------------------

def _stage(engine, content, demo_files, *, periods=None, change=None) -> dict[str, float]:
    flow = content.dataflow(FLOW)
    clean = read_extract(demo_files[FLOW], flow)
    obs = clean.observations
    if periods is not None:
        obs = obs[obs["TIME_PERIOD"].isin(periods)]
    obs = obs.reset_index(drop=True).copy()
    for period, value in (change or {}).items():
        hit = (obs["series_key"] == KEY) & (obs["TIME_PERIOD"] == period)
        assert hit.sum() == 1, period
        obs.loc[hit, "OBS_VALUE"] = value
    clean.observations = obs
    ingest(engine, clean)
    return {p: float(v) for p, v in zip(obs["TIME_PERIOD"], obs["OBS_VALUE"])}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory, content, demo_files):
    """The store with A public and B scheduled for T, and what each release holds."""
    url, drop = new_database(request.param, tmp_path_factory)
    engine = make_engine(url)
    upgrade(engine)
    a_values = _stage(engine, content, demo_files, periods=A_PERIODS)
    a = R.plan(engine, content, title="Release A", at=TA, dataflows=[FLOW], now=TA - timedelta(days=1))
    R.schedule(engine, content, a, now=TA - timedelta(days=1))
    assert R.publish_due(engine, now=TA) == [a]
    b_values = _stage(engine, content, demo_files, change=REVISED)
    assert set(b_values) == set(A_PERIODS) | {NEW_PERIOD}
    assert all(a_values[p] != v for p, v in REVISED.items()), "B must change the revised cells"
    b = R.plan(engine, content, title="Release B", at=T, dataflows=[FLOW], now=T - timedelta(days=1))
    summary = R.schedule(engine, content, b, now=T - timedelta(days=1))
    assert summary[FLOW] == {"added": 1, "revised": 2, "withdrawn": 0, "withheld": 0}
    engine.dispose()
    yield {"url": url, "a": a, "b": b, "A": a_values, "B": b_values}
    drop()


class Clocked:
    """An app on the world's store whose wall clock the test sets."""

    def __init__(self, url: str, cache_dir, now: datetime, state_ttl: float = 0):
        self.now = now
        self.app = create_app(Settings(database_url=url, cache_dir=str(cache_dir), cache_size=2**30,
                                       cache_max_entry=2**26, state_ttl=state_ttl), now=lambda: self.now)
        self.client = TestClient(self.app, raise_server_exceptions=True)

    def get(self, path: str, accept: str | None = None, **headers):
        if accept:
            headers["Accept"] = accept
        return self.client.get(path, headers=headers)


@pytest.fixture
def api(world, tmp_path):
    """A factory of clocked apps, each with its own response cache."""
    made = []

    def make(now: datetime, state_ttl: float = 0, cache: str = "cache") -> Clocked:
        made.append(Clocked(world["url"], tmp_path / cache, now, state_ttl))
        return made[-1]

    yield make
    for app in made:
        app.client.close()


# --- reading answers ------------------------------------------------------------------------

def values(response, accept: str) -> dict[str, float]:
    """The observations of a data answer (one series): period -> value, in any format."""
    assert response.status_code == 200, response.text[:500]
    if "csv" in accept:
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert {r["REF_AREA"] for r in rows} == {"_T"}
        out = {r["TIME_PERIOD"]: float(r["OBS_VALUE"]) for r in rows}
        assert len(out) == len(rows)
        return out
    if "json" in accept:
        data = response.json()["data"]
        periods = [v["id"] for v in data["structures"][0]["dimensions"]["observation"][0]["values"]]
        (dataset,) = data["dataSets"]
        (series,) = dataset["series"].values()
        return {periods[int(i)]: float(obs[0]) for i, obs in series["observations"].items()}
    root = etree.fromstring(response.content)
    obs = [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "Obs"]
    out = {e.get("TIME_PERIOD"): float(e.get("OBS_VALUE")) for e in obs}
    assert len(out) == len(obs)
    return out


def time_range(response) -> tuple[str, str]:
    """The TIME_PERIOD range of an availability answer (an actual content constraint)."""
    assert response.status_code == 200, response.text[:500]
    root = etree.fromstring(response.content)
    (kv,) = root.xpath("//com:KeyValue[@id='TIME_PERIOD']", namespaces=NS)
    return (kv.xpath("string(com:TimeRange/com:StartPeriod)", namespaces=NS)[:10],
            kv.xpath("string(com:TimeRange/com:EndPeriod)", namespaces=NS)[:10])


def atom_entries(response) -> list[str]:
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    return [e.rsplit("/", 1)[-1] for e in root.xpath("//atom:entry/atom:id/text()", namespaces=NS)]


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.text[:500]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def listed(calendar: dict, release_id: int) -> tuple[str, dict]:
    """Which list of the calendar JSON holds the release (upcoming/past), and its entry."""
    found = [(part, e) for part in ("upcoming", "past") for e in calendar[part] if e["id"] == release_id]
    assert len(found) == 1, calendar
    return found[0]


def a_view(world) -> dict[str, float]:
    return world["A"]


def b_view(world) -> dict[str, float]:
    return world["B"]


# --- 1. the embargo on every route ------------------------------------------------------------

def test_nothing_of_a_scheduled_release_is_visible_a_second_before_its_time(world, api):
    app = api(T - SECOND)
    b = world["b"]
    for path, accept in DATA:
        got = values(app.get(path, accept), accept)
        assert got == a_view(world), (path, accept)  # no 2025, and A's 2023 and 2024
        assert NEW_PERIOD not in got
    # Asking for B's new period alone: there is nothing (yet).
    r = app.get(f"{V1}/{KEY}?startPeriod={NEW_PERIOD}", CSV10)
    assert r.status_code == 404
    for path in AVAILABILITY:
        assert time_range(app.get(path)) == ("2015-01-01", "2024-12-31"), path
    # Nothing was updated after A, as far as anyone may know.
    for path, accept in DATA:
        assert app.get(f"{path}?updatedAfter={BETWEEN}", accept).status_code == 404, (path, accept)

    calendar = app.get("/releases.json").json()
    part, entry = listed(calendar, b)
    assert part == "upcoming" and entry["status"] == "scheduled"
    assert entry["release_time"] == "2030-02-10T06:00:00Z"
    assert all(f[k] is None for f in entry["dataflows"] for k in ("added", "revised", "withdrawn", "withheld"))
    assert entry["links"]["bulletins"] == {} and "revisions" not in entry["links"]
    one = app.get(f"/releases/{b}.json")
    assert one.status_code == 200
    part, entry = listed(one.json(), b)
    assert part == "upcoming" and all(f["added"] is None and f["revised"] is None for f in entry["dataflows"])
    assert "bulletin-en.html" not in one.text and "revisions.csv" not in one.text
    for leaf in ("bulletin-en.html", "bulletin-az.html", "revisions.csv", "revisions.json"):
        assert app.get(f"/releases/{b}/{leaf}").status_code == 404, leaf
    assert str(b) not in atom_entries(app.get("/releases.atom"))
    assert atom_entries(app.get("/releases.atom")) == [str(world["a"])]
    page = app.get("/releases")
    assert page.status_code == 200 and f"/releases/{b}/bulletin" not in page.text
    assert f"/releases/{b}/revisions.csv" not in page.text


@pytest.mark.parametrize("after", [timedelta(0), SECOND], ids=["at T", "at T+1s"])
def test_everything_of_a_release_is_visible_from_its_second(world, api, after):
    app = api(T + after)
    b = world["b"]
    for path, accept in DATA:
        got = values(app.get(path, accept), accept)
        assert got == b_view(world), (path, accept)
        assert got[NEW_PERIOD] == world["B"][NEW_PERIOD]
        assert all(got[p] == v for p, v in REVISED.items())
    assert values(app.get(f"{V1}/{KEY}?startPeriod={NEW_PERIOD}", CSV10), CSV10) == {
        NEW_PERIOD: world["B"][NEW_PERIOD]}
    for path in AVAILABILITY:
        assert time_range(app.get(path)) == ("2015-01-01", "2025-12-31"), path

    calendar = app.get("/releases.json").json()
    part, entry = listed(calendar, b)
    assert part == "past" and calendar["upcoming"] == []
    (flow,) = entry["dataflows"]
    assert (flow["added"], flow["revised"], flow["withdrawn"], flow["withheld"]) == (1, 2, 0, 0)
    assert set(entry["links"]["bulletins"]) == {"az", "en"} and entry["links"]["revisions"].endswith(
        f"/releases/{b}/revisions.csv")
    bulletin = app.get(f"/releases/{b}/bulletin-en.html")
    assert bulletin.status_code == 200 and bulletin.headers["content-type"].startswith("text/html")
    assert atom_entries(app.get("/releases.atom")) == [str(b), str(world["a"])]

    revisions = csv_rows(app.get(f"/releases/{b}/revisions.csv"))
    assert {(r["TIME_PERIOD"], r["CHANGE"], float(r["PREVIOUS_VALUE"]), float(r["VALUE"])) for r in revisions} == {
        (p, "revised", world["A"][p], v) for p, v in REVISED.items()}
    # updatedAfter between A and B: exactly what B added or revised, in every format.
    for path, accept in DATA:
        got = values(app.get(f"{path}?updatedAfter={BETWEEN}", accept), accept)
        assert got == {**REVISED, NEW_PERIOD: world["B"][NEW_PERIOD]}, (path, accept)
        assert set(got) == {r["TIME_PERIOD"] for r in revisions} | {NEW_PERIOD}


def test_every_validator_changes_at_the_release_time(world, api):
    """Two apps, one a second before T and one at T, sharing nothing: each route's ETag
    differs, so no client revalidating a pre-release answer keeps it."""
    routes = [(p, a) for p, a in DATA] + [(p, None) for p in AVAILABILITY] + [
        ("/releases.json", None), ("/releases.atom", None), ("/releases.ics", None), ("/releases", None),
        (f"/releases/{world['b']}.json", None)]
    before, at = api(T - SECOND, cache="before"), api(T, cache="at")
    for path, accept in routes:
        r1, r2 = before.get(path, accept), at.get(path, accept)
        assert r1.status_code == r2.status_code == 200, path
        assert r1.headers["etag"] != r2.headers["etag"], (path, accept)
        # Unchanged if asked again at the same moment (the ETag is not random).
        assert before.get(path, accept).headers["etag"] == r1.headers["etag"], (path, accept)


# --- 2. the cache across the release time -------------------------------------------------------

def test_the_cache_never_serves_an_answer_computed_before_a_release_it_should_include(world, api):
    # One app, one cache; the state is trusted for an hour, so only the release time can
    # make the snapshot expire.
    app = api(T - SECOND, state_ttl=3600)
    etags = {}
    for path, accept in DATA:
        first = app.get(path, accept)
        assert first.headers["x-cache"] == "miss", (path, accept)
        again = app.get(path, accept)
        assert again.headers["x-cache"] == "hit", (path, accept)
        assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
        assert values(again, accept) == a_view(world)
        # A client may keep it for at most the second left before the release.
        max_age = int(again.headers["cache-control"].split("max-age=")[1].split(",")[0])
        assert max_age <= 1, again.headers["cache-control"]
        # Revalidation before the release: still current.
        assert app.get(path, accept, **{"If-None-Match": first.headers["etag"]}).status_code == 304
        etags[path, accept] = first.headers["etag"]

    app.now = T
    for path, accept in DATA:
        r = app.get(path, accept, **{"If-None-Match": etags[path, accept]})
        assert r.status_code == 200, (path, accept, r.status_code)  # not 304: the answer changed
        assert r.headers["x-cache"] == "miss", (path, accept)
        assert r.headers["etag"] != etags[path, accept]
        assert values(r, accept) == b_view(world), (path, accept)
        assert app.get(path, accept).headers["x-cache"] == "hit"
    # The calendar too (it is cached like everything else).
    app.now = T - SECOND
    assert listed(app.get("/releases.json").json(), world["b"])[0] == "upcoming"
    app.now = T
    assert listed(app.get("/releases.json").json(), world["b"])[0] == "past"
    assert app.get(f"/releases/{world['b']}/bulletin-en.html").status_code == 200


# --- 3. earlier vintages through a real client ---------------------------------------------------

@pytest.fixture
def after_b(api):
    return api(T + timedelta(days=2))


@pytest.fixture
def dsd(after_b):
    r = after_b.get(f"/sdmx/2.1/dataflow/AZ_SMS/{FLOW}/latest?references=children")
    assert r.status_code == 200
    return sdmx.read_sdmx(io.BytesIO(r.content)).structure["DSD_NET_MIGR"]


def read(response, dsd):
    assert response.status_code == 200, response.text[:500]
    return sdmx.read_sdmx(io.BytesIO(response.content), structure=dsd)


def cells(dataset) -> dict[str, float]:
    """A data set read by sdmx1: period -> value (its one series)."""
    series = sdmx.to_pandas(dataset)
    assert {idx[:2] for idx in series.index} == {("A", "_T")}
    return {idx[2]: float(v) for idx, v in series.items()}


def test_as_of_reads_each_vintage(world, after_b, dsd):
    msg = read(after_b.get(f"{V1}?asOf={BETWEEN}", ML21), dsd)
    (ds,) = msg.data
    assert cells(ds) == a_view(world)
    msg = read(after_b.get(f"{V1}?asOf={AFTER_B}", ML21), dsd)
    (ds,) = msg.data
    assert cells(ds) == b_view(world)
    # Before A there was nothing.
    assert after_b.get(f"{V1}?asOf=2030-01-01T00:00:00Z", ML21).status_code == 404


def test_as_of_cannot_see_past_the_embargo(world, api, dsd):
    """asOf after T asked a second before T is now: A's values, not B's."""
    app = api(T - SECOND)
    (ds,) = read(app.get(f"{V1}?asOf={AFTER_B}", ML21), dsd).data
    assert cells(ds) == a_view(world)


def history(response) -> list[tuple[str, str]]:
    root = etree.fromstring(response.content)
    return [(d.get(f"{SS21}action"), d.get(f"{SS21}validFromDate"))
            for d in root.iter("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}DataSet")]


def test_include_history_gives_each_release_in_order(world, after_b, dsd):
    r = after_b.get(f"{V1}?includeHistory=true", ML21)
    msg = read(r, dsd)
    assert len(msg.data) == 2
    assert history(r) == [("Replace", "2030-01-10T06:00:00Z"), ("Replace", "2030-02-10T06:00:00Z")]
    first, second = (cells(ds) for ds in msg.data)
    assert first == a_view(world)
    assert second == {**REVISED, NEW_PERIOD: world["B"][NEW_PERIOD]}
    for period, value in REVISED.items():
        assert first[period] == world["A"][period] != value == second[period]

    # SDMX-JSON: the same data sets, with their action and validFrom.
    data = after_b.get(f"{V1}?includeHistory=true", JSON20).json()["data"]
    assert [(d["action"], d["validFrom"]) for d in data["dataSets"]] == history(r)
    periods = [v["id"] for v in data["structures"][0]["dimensions"]["observation"][0]["values"]]
    got = [{periods[int(i)]: float(o[0]) for s in d["series"].values() for i, o in s["observations"].items()}
           for d in data["dataSets"]]
    assert got == [first, second]


def test_include_history_before_the_release_has_only_what_is_public(world, api, dsd):
    app = api(T - SECOND)
    r = app.get(f"{V1}?includeHistory=true", ML21)
    (ds,) = read(r, dsd).data
    assert cells(ds) == a_view(world)
    assert history(r) == [("Replace", "2030-01-10T06:00:00Z")]
    data = app.get(f"{V1}?includeHistory=true", JSON20).json()["data"]
    assert [(d["action"], d["validFrom"]) for d in data["dataSets"]] == history(r)


def test_updated_after_reads_back_what_the_release_changed(world, after_b, dsd):
    (ds,) = read(after_b.get(f"{V1}?updatedAfter={BETWEEN}", ML21), dsd).data
    revisions = csv_rows(after_b.get(f"/releases/{world['b']}/revisions.csv"))
    expected = {r["TIME_PERIOD"]: float(r["VALUE"]) for r in revisions}
    expected[NEW_PERIOD] = world["B"][NEW_PERIOD]
    assert cells(ds) == expected
    # After B, nothing more.
    assert after_b.get(f"{V1}?updatedAfter={AFTER_B}", ML21).status_code == 404
    # Before A, everything visible now.
    (ds,) = read(after_b.get(f"{V1}?updatedAfter=2030-01-01T00:00:00Z", ML21), dsd).data
    assert cells(ds) == b_view(world)


# --- the friendly API and the explorer read the same snapshot ---------------------------------

def friendly_values(app: Clocked) -> dict[str, float]:
    rows = csv_rows(app.get(f"/api/dataflows/{FLOW}/data.csv?REF_AREA=_T"))
    return {r["TIME_PERIOD"]: float(r["value"]) for r in rows}


def test_the_friendly_api_follows_the_embargo(world, api):
    before, at = api(T - SECOND), api(T, cache="at")
    assert friendly_values(before) == a_view(world) and friendly_values(at) == b_view(world)
    for app, last, public in ((before, "2024", False), (at, "2025", True)):
        detail = app.get(f"/api/dataflows/{FLOW}").json()
        assert detail["last_period"] == last and detail["time_periods"][-1] == last
        b = next(r for r in detail["releases"] if r["id"] == world["b"])
        assert b["public"] is public and b["release_time"] == "2030-02-10T06:00:00Z"
        listed_flow = next(f for f in app.get("/api/dataflows").json()["dataflows"] if f["id"] == FLOW)
        assert listed_flow["last_update"] == ("2030-02-10T06:00:00Z" if public else "2030-01-10T06:00:00Z")
    paged = before.get(f"/api/dataflows/{FLOW}/data?REF_AREA=_T&start={NEW_PERIOD}").json()
    assert paged["rows"] == [] and paged["total"] == 0
