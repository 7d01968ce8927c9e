"""Releases (publisher.releases): the life of a release, the rules that refuse one, the
embargo as the store enforces it, a publisher killed in the middle of a transaction, two
schedulers at once, corrections, and provisional figures becoming final.

Every test controls the clock (`now=`) and runs on both backends (`empty_store`). Only
small dataflows are staged: DF_NET_MIGR (11 observations, no disclosure control, so what
is staged is what is published), DF_LABOUR_QUOTA and DF_NET_MIGR_RATE (likewise small,
for a second or third release at once), and DF_UAM (151 observations under cell
suppression, for a withheld count that is not zero).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from api import store as api_store
from publisher import releases as R
from publisher.extract import read_extract
from publisher.releases import ReleaseRefused
from publisher.staging import ingest
from store.db import make_engine
from store.schema import (
    PUBLIC_TABLES,
    STAGING_TABLES,
    public_observation as o,
    public_series as s,
    public_state,
    public_structure as st,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The clock of every test: a fixed moment, so that nothing depends on when tests run.
NOW = datetime(2030, 1, 15, 6, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


# --- helpers ------------------------------------------------------------------------------------

@pytest.fixture
def engine(empty_store):
    engine = make_engine(empty_store)
    yield engine
    engine.dispose()


def stage(engine, content, demo_files, flow_id, *, periods=None, change=None):
    """Ingest the demonstration extract of `flow_id`: only `periods` if given (data up to
    some period), with the values of `change` ({(series_key, period): value}) replaced.
    Return the staged observations {(series_key, period): value}."""
    flow = content.dataflow(flow_id)
    clean = read_extract(demo_files[flow_id], flow)
    td, measure = flow.structure["time_dimension"]["id"], flow.structure["primary_measure"]["id"]
    obs = clean.observations
    if periods is not None:
        obs = obs[obs[td].isin(periods)]
    obs = obs.reset_index(drop=True).copy()
    for (key, period), value in (change or {}).items():
        hit = (obs["series_key"] == key) & (obs[td] == period)
        assert hit.sum() == 1, (key, period)
        obs.loc[hit, measure] = value
    clean.observations = obs
    ingest(engine, clean)
    return {(k, p): float(v) for k, p, v in zip(obs["series_key"], obs[td], obs[measure])}


def released(engine, content, flow_id, *, at, now, bulletins=False, **kw) -> int:
    """A release of `flow_id` planned for `at` and scheduled at `now`."""
    release_id = R.plan(engine, content, title=f"{flow_id} at {at:%H:%M}", at=at, dataflows=[flow_id],
                        now=now, **kw)
    R.schedule(engine, content, release_id, now=now, bulletins=bulletins)
    return release_id


def dump(engine) -> dict[str, list]:
    """Every row of every public and staging table, in key order: the whole store."""
    with engine.connect() as conn:
        return {t.name: [tuple(row) for row in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in PUBLIC_TABLES + STAGING_TABLES}


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in PUBLIC_TABLES}


def change_counter(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(public_state.c.change)).scalar_one()


def status(engine, release_id: int) -> R.Release:
    with engine.connect() as conn:
        return R.release(conn, release_id)


def visible_cells(engine, content, flow_id, at) -> dict[tuple[str, str], tuple[float | None, str, int]]:
    """What the API may show of `flow_id` at moment `at`: (series_key, period) ->
    (value, OBS_STATUS, release that published the row), through api.store's embargo."""
    flow = content.dataflow(flow_id)
    with engine.connect() as conn:
        hidden = api_store.releases(conn).hidden(at, flow.ref)
        rows = conn.execute(
            select(s.c.series_key, o.c.time_period, o.c.value, o.c.obs_status, o.c.release_ref)
            .join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref)
            .where(st.c.kind == "dataflow", st.c.artefact_id == flow_id, api_store.visible(hidden))).all()
    cells = {(k, p): (v, status, ref) for k, p, v, status, ref in rows}
    assert len(cells) == len(rows), "one visible row per cell at any moment"
    return cells


def current_rows(engine, content, flow_id) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(s.c.series_key, o.c.time_period, o.c.value, o.c.obs_status, o.c.release_ref,
                   o.c.superseded_ref)
            .join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref)
            .where(st.c.kind == "dataflow", st.c.artefact_id == flow_id)
            .order_by(o.c.id)).all()


def assert_refused(engine, operation, match: str, *, counted: bool = False) -> None:
    """`operation` is refused with ReleaseRefused and leaves the store exactly as it was;
    `counted`: except for the change counter, which may only go up (a draft it planned
    and removed again was in the calendar meanwhile: cached answers are stale)."""
    before, before_counts = dump(engine), counts(engine)
    with pytest.raises(ReleaseRefused, match=match):
        operation()
    after = dump(engine)
    assert counts(engine) == before_counts
    if counted:
        assert after.pop("public_state")[0][1] >= before.pop("public_state")[0][1]
    assert after == before


# --- 1. the life of a release -------------------------------------------------------------------

def test_a_release_is_planned_scheduled_and_published_once_at_its_time(engine, content, demo_files):
    staged = {f: stage(engine, content, demo_files, f) for f in ("DF_NET_MIGR", "DF_UAM")}
    at = NOW + HOUR

    release_id = R.plan(engine, content, title="Migration 2025", at=at, dataflows=["DF_NET_MIGR", "DF_UAM"],
                        now=NOW)
    with engine.connect() as conn:
        listed = {x.id: x for x in R.releases(conn)}
    assert listed[release_id].status == "draft"
    assert listed[release_id].release_time == at
    assert listed[release_id].title == {"az": "Migration 2025", "en": "Migration 2025", "ru": "Migration 2025"}
    assert [f["dataflow"] for f in listed[release_id].dataflows] == [
        content.dataflow("DF_NET_MIGR").ref, content.dataflow("DF_UAM").ref]
    assert all(f["added"] is None for f in listed[release_id].dataflows), "a draft writes nothing"
    assert counts(engine)["public_observation"] == 0

    summary = R.schedule(engine, content, release_id, now=NOW, bulletins=False)
    rel = status(engine, release_id)
    assert (rel.status, rel.scheduled_at, rel.published_at) == ("scheduled", NOW, None)
    with engine.connect() as conn:
        written = dict(conn.execute(
            select(st.c.artefact_id, func.count()).select_from(o)
            .join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref)
            .where(o.c.release_ref == release_id).group_by(st.c.artefact_id)).all())
        withheld = dict(conn.execute(
            select(st.c.artefact_id, func.count()).select_from(o)
            .join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref)
            .where(o.c.release_ref == release_id, o.c.value.is_(None), o.c.obs_status == "Q")
            .group_by(st.c.artefact_id)).all())
    for flow_id in ("DF_NET_MIGR", "DF_UAM"):
        assert summary[flow_id]["added"] == len(staged[flow_id]) == written[flow_id]
        assert summary[flow_id]["revised"] == summary[flow_id]["withdrawn"] == 0
        assert summary[flow_id]["withheld"] == withheld.get(flow_id, 0)
    assert summary["DF_NET_MIGR"]["withheld"] == 0, "no disclosure control on net migration"
    assert 0 < summary["DF_UAM"]["withheld"] < len(staged["DF_UAM"]), "small counts are suppressed"
    recorded = {f["dataflow"]: f for f in rel.dataflows}
    for flow_id, flow_counts in summary.items():
        assert {k: recorded[content.dataflow(flow_id).ref][k] for k in flow_counts} == flow_counts

    assert R.publish_due(engine, now=at - SECOND) == []
    assert status(engine, release_id).status == "scheduled"
    assert R.publish_due(engine, now=at) == [release_id]
    rel = status(engine, release_id)
    assert (rel.status, rel.published_at) == ("published", at)
    assert R.publish_due(engine, now=at) == []
    assert R.publish_due(engine, now=at + HOUR) == []
    assert status(engine, release_id).published_at == at, "published once: its time is not rewritten"


def test_the_scheduler_reads_the_clock_in_any_time_zone(engine, content, demo_files):
    """A `now` given in Baku time is the same moment as in UTC (SQLite keeps no zone)."""
    stage(engine, content, demo_files, "DF_NET_MIGR")
    at = NOW + HOUR
    release_id = released(engine, content, "DF_NET_MIGR", at=at, now=NOW.astimezone(R.BAKU))
    assert status(engine, release_id).scheduled_at == NOW
    assert R.publish_due(engine, now=(at - SECOND).astimezone(R.BAKU)) == []
    assert R.publish_due(engine, now=at.astimezone(R.BAKU)) == [release_id]
    assert status(engine, release_id).published_at == at


# --- 2. refusals: each leaves the store as it was -------------------------------------------------

def test_a_release_time_in_the_past_is_refused(engine, content, demo_files):
    stage(engine, content, demo_files, "DF_NET_MIGR")
    assert_refused(engine, lambda: R.plan(engine, content, title="late", at=NOW - SECOND,
                                          dataflows=["DF_NET_MIGR"], now=NOW), "has passed")
    assert_refused(engine, lambda: R.plan(engine, content, title="now", at=NOW,
                                          dataflows=["DF_NET_MIGR"], now=NOW), "has passed")
    # A draft whose time has passed by the time it is scheduled is refused too.
    release_id = R.plan(engine, content, title="soon", at=NOW + SECOND, dataflows=["DF_NET_MIGR"], now=NOW)
    assert_refused(engine, lambda: R.schedule(engine, content, release_id, now=NOW + 2 * SECOND,
                                              bulletins=False), "has passed")
    assert status(engine, release_id).status == "draft"


def test_only_a_draft_can_be_scheduled(engine, content, demo_files):
    stage(engine, content, demo_files, "DF_NET_MIGR")
    release_id = released(engine, content, "DF_NET_MIGR", at=NOW + HOUR, now=NOW)
    assert_refused(engine, lambda: R.schedule(engine, content, release_id, now=NOW, bulletins=False),
                   "only a draft can be scheduled")
    R.publish_due(engine, now=NOW + HOUR)
    assert_refused(engine, lambda: R.schedule(engine, content, release_id, now=NOW + HOUR, bulletins=False),
                   "only a draft can be scheduled")
    assert status(engine, release_id).status == "published"


def test_a_release_of_nothing_staged_is_refused(engine, content, demo_files):
    stage(engine, content, demo_files, "DF_NET_MIGR")
    release_id = R.plan(engine, content, title="quota", at=NOW + HOUR,
                        dataflows=["DF_NET_MIGR", "DF_LABOUR_QUOTA"], now=NOW)
    assert_refused(engine, lambda: R.schedule(engine, content, release_id, now=NOW, bulletins=False),
                   "nothing is staged for DF_LABOUR_QUOTA")
    assert status(engine, release_id).status == "draft"


def test_only_a_published_release_can_be_corrected(engine, content, demo_files):
    stage(engine, content, demo_files, "DF_NET_MIGR")
    draft = R.plan(engine, content, title="draft", at=NOW + HOUR, dataflows=["DF_NET_MIGR"], now=NOW)
    assert_refused(engine, lambda: R.correct(engine, content, draft, now=NOW), "is draft, not published")
    scheduled = released(engine, content, "DF_NET_MIGR", at=NOW + 2 * HOUR, now=NOW)
    assert_refused(engine, lambda: R.correct(engine, content, scheduled, now=NOW), "is scheduled, not published")
    # Nor by planning a correction of it.
    assert_refused(engine, lambda: R.plan(engine, content, title="fix", at=NOW + 3 * HOUR,
                                          dataflows=["DF_NET_MIGR"], corrects=scheduled, now=NOW),
                   "not published")
    assert [status(engine, x).status for x in (draft, scheduled)] == ["draft", "scheduled"]


def test_a_correction_that_cannot_go_out_leaves_nothing_behind(engine, content, demo_files):
    """An immediate correction of release 1 while release 2 of the same data is scheduled
    for later breaks the order rule: refused, and not even its announcement stays."""
    stage(engine, content, demo_files, "DF_NET_MIGR")
    r1 = released(engine, content, "DF_NET_MIGR", at=NOW + HOUR, now=NOW)
    R.publish_due(engine, now=NOW + HOUR)
    r2 = released(engine, content, "DF_NET_MIGR", at=NOW + 5 * HOUR, now=NOW + HOUR)
    assert_refused(engine, lambda: R.correct(engine, content, r1, now=NOW + 2 * HOUR),
                   f"release {r2} already carries", counted=True)
    assert_refused(engine, lambda: R.correct(engine, content, r1, at=NOW + 3 * HOUR, now=NOW + 2 * HOUR),
                   f"release {r2} already carries", counted=True)
    assert [status(engine, x).status for x in (r1, r2)] == ["published", "scheduled"]


def test_releases_of_the_same_data_are_scheduled_in_time_order(engine, content, demo_files):
    stage(engine, content, demo_files, "DF_NET_MIGR")
    stage(engine, content, demo_files, "DF_LABOUR_QUOTA")
    later = released(engine, content, "DF_NET_MIGR", at=NOW + 2 * HOUR, now=NOW)
    earlier = R.plan(engine, content, title="earlier", at=NOW + HOUR, dataflows=["DF_NET_MIGR"], now=NOW)
    assert_refused(engine, lambda: R.schedule(engine, content, earlier, now=NOW, bulletins=False),
                   f"release {later} already carries .*DF_NET_MIGR")
    assert status(engine, earlier).status == "draft"
    # Other data may go out earlier; the same data later.
    other = released(engine, content, "DF_LABOUR_QUOTA", at=NOW + HOUR, now=NOW)
    after = released(engine, content, "DF_NET_MIGR", at=NOW + 3 * HOUR, now=NOW)
    assert R.publish_due(engine, now=NOW + 3 * HOUR) == [other, later, after]


# --- 3. the embargo, as the store keeps it ---------------------------------------------------------

def test_a_scheduled_release_is_hidden_until_its_time_then_replaces_the_previous_one(
        engine, content, demo_files):
    flow = content.dataflow("DF_NET_MIGR")
    first = stage(engine, content, demo_files, "DF_NET_MIGR")
    r1 = released(engine, content, "DF_NET_MIGR", at=NOW + HOUR, now=NOW)
    assert R.publish_due(engine, now=NOW + HOUR) == [r1]

    # A revision of two cells and one cell fewer, scheduled for T.
    revised = {("A._T", "2024"): first[("A._T", "2024")] + 100, ("A._T", "2025"): first[("A._T", "2025")] - 50}
    stage(engine, content, demo_files, "DF_NET_MIGR", change=revised)
    at = NOW + 5 * HOUR
    r2 = released(engine, content, "DF_NET_MIGR", at=at, now=NOW + 2 * HOUR)
    assert status(engine, r2).dataflows[0]["revised"] == 2

    with engine.connect() as conn:
        rel = api_store.releases(conn)
    assert r2 in rel.hidden(at - SECOND, flow.ref) and r2 in rel.hidden(at - SECOND)
    assert r2 not in rel.hidden(at, flow.ref) and not rel.hidden(at)
    assert r2 not in rel.hidden(at - SECOND, content.dataflow("DF_LABOUR_QUOTA").ref), \
        "a release hides only the dataflows it carries"
    assert r1 not in rel.hidden(at - SECOND)

    before = visible_cells(engine, content, "DF_NET_MIGR", at - SECOND)
    after = visible_cells(engine, content, "DF_NET_MIGR", at)
    assert set(before) == set(after) == set(first)
    for cell, value in revised.items():
        assert before[cell][0] == first[cell] and before[cell][2] == r1
        assert after[cell][0] == value and after[cell][2] == r2
    unchanged = set(first) - set(revised)
    assert all(before[c] == after[c] and after[c][0] == first[c] and after[c][2] == r1 for c in unchanged)
    # The new rows were in the store all along: the clock alone decides.
    assert {(k, p) for k, p, *_ in current_rows(engine, content, "DF_NET_MIGR")} == set(first)
    assert status(engine, r2).status == "scheduled"


# --- 4. a publisher killed inside its transaction --------------------------------------------------

CRASH = """
import sys
from datetime import datetime
from publisher.content import load
from publisher import releases
from store.db import make_engine
operation, release_id, now = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
engine = make_engine()
if operation == "schedule":
    releases.schedule(engine, load(), release_id, now=now)
else:
    print(releases.publish_due(engine, now=now))
"""


def run_killed(url: str, failpoint: str, operation: str, release_id: int, now: datetime):
    env = {**os.environ, "DATABASE_URL": url, "PUBLISHER_FAILPOINT": failpoint}
    done = subprocess.run([sys.executable, "-c", CRASH, operation, str(release_id), now.isoformat()],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, (done.returncode, done.stdout, done.stderr)


@pytest.mark.parametrize("failpoint", ["schedule:before-commit", "publish:before-commit"])
def test_a_publisher_killed_inside_its_transaction_changes_nothing(empty_store, engine, content, demo_files,
                                                                    failpoint):
    assert "PUBLISHER_FAILPOINT" not in os.environ
    first = stage(engine, content, demo_files, "DF_NET_MIGR")
    r1 = released(engine, content, "DF_NET_MIGR", at=NOW + HOUR, now=NOW)
    R.publish_due(engine, now=NOW + HOUR)
    # A correction of one value, with a bulletin: it supersedes a row, adds attachments
    # and, once published, marks r1 corrected.
    stage(engine, content, demo_files, "DF_NET_MIGR", change={("A._T", "2020"): first[("A._T", "2020")] + 7})
    at = NOW + 3 * HOUR
    r2 = R.plan(engine, content, title="Correction", at=at, dataflows=["DF_NET_MIGR"], corrects=r1,
                now=NOW + 2 * HOUR)
    if failpoint == "publish:before-commit":
        R.schedule(engine, content, r2, now=NOW + 2 * HOUR)
        operation, now, before_status = "publish", at, "scheduled"
    else:
        operation, now, before_status = "schedule", NOW + 2 * HOUR, "draft"
    before, before_counts, before_change = dump(engine), counts(engine), change_counter(engine)

    run_killed(empty_store, failpoint, operation, r2, now)

    assert counts(engine) == before_counts
    assert dump(engine) == before
    assert change_counter(engine) == before_change
    assert status(engine, r2).status == before_status and status(engine, r1).status == "published"

    # Run again, it completes.
    if operation == "schedule":
        summary = R.schedule(engine, content, r2, now=now)
        assert summary["DF_NET_MIGR"] == {"added": 0, "revised": 1, "withdrawn": 0, "withheld": 0}
        assert status(engine, r2).status == "scheduled"
        assert counts(engine)["public_release_attachment"] > before_counts["public_release_attachment"]
        assert R.publish_due(engine, now=at) == [r2]
    else:
        assert R.publish_due(engine, now=now) == [r2]
    assert change_counter(engine) > before_change
    assert (status(engine, r2).status, status(engine, r2).published_at) == ("published", at)
    assert status(engine, r1).status == "corrected"
    assert visible_cells(engine, content, "DF_NET_MIGR", at)[("A._T", "2020")][:2] == (first[("A._T", "2020")] + 7,
                                                                                        "A")


# --- 5. two schedulers at once ---------------------------------------------------------------------

def test_schedulers_running_at_once_publish_each_release_exactly_once(empty_store, engine, content, demo_files):
    flows = ("DF_NET_MIGR", "DF_LABOUR_QUOTA", "DF_NET_MIGR_RATE")
    for flow_id in flows:
        stage(engine, content, demo_files, flow_id)
    schedulers = 3
    engines = [make_engine(empty_store) for _ in range(schedulers)]
    try:
        for round_ in range(5):
            now = NOW + round_ * 10 * HOUR
            due = [released(engine, content, flow_id, at=now + (i + 1) * HOUR, now=now)
                   for i, flow_id in enumerate(flows)]
            # Each scheduler has its own clock, all past every release time: whoever
            # published a release stamped it with its own time.
            clocks = [now + 5 * HOUR + i * SECOND for i in range(schedulers)]
            results: list[list[int] | BaseException | None] = [None] * schedulers
            barrier = threading.Barrier(schedulers)

            def scheduler(i: int) -> None:
                try:
                    barrier.wait(10)
                    results[i] = R.publish_due(engines[i], now=clocks[i])
                except BaseException as exc:  # noqa: BLE001 - reported below
                    results[i] = exc

            threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(schedulers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            errors = [x for x in results if not isinstance(x, list)]
            assert not errors, errors
            returned = [x for ids in results for x in ids]
            assert sorted(returned) == sorted(due), f"round {round_}: {results}"
            for i, ids in enumerate(results):
                for release_id in ids:
                    rel = status(engine, release_id)
                    assert (rel.status, rel.published_at) == ("published", clocks[i])
            assert R.publish_due(engine, now=now + 6 * HOUR) == []
    finally:
        for e in engines:
            e.dispose()


# --- 6. corrections ------------------------------------------------------------------------------------

def test_a_correction_is_published_at_once_and_supersedes_the_corrected_rows(engine, content, demo_files):
    first = stage(engine, content, demo_files, "DF_NET_MIGR")
    r1 = released(engine, content, "DF_NET_MIGR", at=NOW + HOUR, now=NOW)
    assert R.publish_due(engine, now=NOW + HOUR) == [r1]

    fixed = {("A._T", "2018"): 1600.0, ("A._T", "2019"): 1750.0, ("A._T", "2021"): 1500.0}
    stage(engine, content, demo_files, "DF_NET_MIGR", periods=["2018", "2019", "2021"], change=fixed)
    when = NOW + 2 * HOUR
    r2 = R.correct(engine, content, r1, now=when)

    new, old = status(engine, r2), status(engine, r1)
    assert (new.status, new.corrects, new.release_time, new.published_at) == ("published", r1, when, when)
    assert old.status == "corrected"
    assert new.title["en"] == "Correction: " + old.title["en"]
    assert new.dataflows[0] == {"dataflow": content.dataflow("DF_NET_MIGR").ref, "provisional_from": None,
                                "added": 0, "revised": 3, "withdrawn": 0, "withheld": 0}

    rows = current_rows(engine, content, "DF_NET_MIGR")
    for cell, value in fixed.items():
        versions = [(v, rel, sup) for k, p, v, _, rel, sup in rows if (k, p) == cell]
        assert versions == [(first[cell], r1, r2), (value, r2, None)]
    untouched = [(v, rel, sup) for k, p, v, _, rel, sup in rows if (k, p) not in fixed]
    assert len(untouched) == len(first) - len(fixed)
    assert all(rel == r1 and sup is None for _, rel, sup in untouched)
    now_visible = visible_cells(engine, content, "DF_NET_MIGR", when)
    assert {c: v for c, (v, _, _) in now_visible.items()} == {**first, **fixed}
    before = visible_cells(engine, content, "DF_NET_MIGR", when - SECOND)
    assert {c: v for c, (v, _, _) in before.items()} == first, "asOf before the correction: the old figures"


# --- 7. provisional figures become final -----------------------------------------------------------

def test_provisional_observations_are_revised_to_final(engine, content, demo_files):
    first = stage(engine, content, demo_files, "DF_NET_MIGR")
    provisional = {c for c in first if c[1] >= "2024"}
    assert len(provisional) == 2
    r1 = released(engine, content, "DF_NET_MIGR", at=NOW + HOUR, now=NOW,
                  provisional_from={"DF_NET_MIGR": "2024"})
    assert status(engine, r1).dataflows[0]["provisional_from"] == "2024"
    R.publish_due(engine, now=NOW + HOUR)
    cells = visible_cells(engine, content, "DF_NET_MIGR", NOW + HOUR)
    assert {c for c, (_, obs_status, _) in cells.items() if obs_status == "P"} == provisional
    assert {c for c, (_, obs_status, _) in cells.items() if obs_status == "A"} == set(first) - provisional

    r2 = released(engine, content, "DF_NET_MIGR", at=NOW + 3 * HOUR, now=NOW + 2 * HOUR)
    assert status(engine, r2).dataflows[0] == {
        "dataflow": content.dataflow("DF_NET_MIGR").ref, "provisional_from": None,
        "added": 0, "revised": len(provisional), "withdrawn": 0, "withheld": 0}
    R.publish_due(engine, now=NOW + 3 * HOUR)
    cells = visible_cells(engine, content, "DF_NET_MIGR", NOW + 3 * HOUR)
    assert {c: v for c, (v, _, _) in cells.items()} == first, "the values did not change"
    assert all(obs_status == "A" for _, obs_status, _ in cells.values())
    assert {c for c, (_, _, rel) in cells.items() if rel == r2} == provisional
    assert {c for c, (_, _, rel) in cells.items() if rel == r1} == set(first) - provisional
    rows = current_rows(engine, content, "DF_NET_MIGR")
    assert sorted((k, p, s_, sup) for k, p, _, s_, rel, sup in rows if rel == r1 and (k, p) in provisional) == \
        sorted((k, p, "P", r2) for k, p in provisional)
