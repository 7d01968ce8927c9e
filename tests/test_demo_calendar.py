"""The demonstration calendar (publisher.demo.calendar): past releases published, one
scheduled under embargo, one planned; what `make serve` shows at /releases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import Settings
from publisher import releases
from publisher.demo import LATER_QUARTER, calendar
from store.db import make_engine
from store.migrate import upgrade

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, content, demo_files):
    url = f"sqlite:///{tmp_path_factory.mktemp('calendar') / 'store.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    ids = calendar(engine, content, demo_files, now=NOW)
    with engine.connect() as conn:
        found = releases.releases(conn)
    engine.dispose()
    return url, ids, found


def client(url, cache, at):
    app = create_app(Settings(database_url=url, cache_dir=str(cache), cache_size=2**28, cache_max_entry=2**24),
                     now=lambda: at)
    return TestClient(app)


def test_two_past_releases_one_scheduled_one_planned(demo_store):
    _, ids, found = demo_store
    assert [x.id for x in found] == ids
    assert [x.status for x in found] == ["published", "published", "scheduled", "draft"]
    assert [x.release_time < NOW for x in found] == [True, True, False, False]
    for x in found:  # announced at 10:00 Baku time
        assert x.release_time.astimezone(releases.BAKU).strftime("%H:%M") == "10:00"


def test_the_scheduled_quarter_is_embargoed_until_its_release(demo_store, tmp_path):
    url, ids, found = demo_store
    scheduled = found[2]
    period = LATER_QUARTER["DF_WORKPERM_VALID"]
    path = f"/sdmx/2.1/data/DF_WORKPERM_VALID?startPeriod={period}&endPeriod={period}&format=csv"
    before = client(url, tmp_path / "a", scheduled.release_time - timedelta(seconds=1))
    assert before.get(path).status_code == 404
    upcoming = before.get("/releases.json").json()["upcoming"]
    assert [r["id"] for r in upcoming] == ids[2:]
    after = client(url, tmp_path / "b", scheduled.release_time)
    r = after.get(path)
    assert r.status_code == 200 and period in r.text


def test_the_second_release_made_2025_final_and_says_so(demo_store, tmp_path):
    url, ids, _ = demo_store
    c = client(url, tmp_path, NOW)
    report = c.get(f"/releases/{ids[1]}/revisions.json").json()["revisions"]
    assert report, "finalising 2025 revises its provisional observations"
    changes = {(r["PREVIOUS_OBS_STATUS"], r["OBS_STATUS"]) for r in report}
    # Provisional (P) becomes final (A), in 2025 only. The table is protected again as a
    # whole, so a cell withheld (Q) before may now be published, in any period: the audit
    # takes the earlier release in (tests/test_disclosure_publish.py).
    assert ("P", "A") in changes and changes <= {("P", "A"), ("Q", "A")}
    assert all(r["TIME_PERIOD"].startswith("2025") for r in report if r["PREVIOUS_OBS_STATUS"] == "P")
    assert c.get(f"/releases/{ids[1]}/bulletin-az.html").status_code == 200
