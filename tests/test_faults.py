"""Faults (issue 9, reliability): the service keeps its promises when things break.

1. PostgreSQL restarts under a running API: cached answers keep coming (200), what needs
   the database gets a clear 503 with an SDMX error message (never a 500, no SQL text),
   /live stays 200 and /ready says 503; when PostgreSQL is back, the same API process
   answers again by itself.
2. A publisher killed (SIGKILL) inside its transaction changes nothing; a rerun completes
   (every backend: tests/test_releases.py; here once more on the private server).
3. A publisher whose database connection is cut inside its transaction
   (pg_terminate_backend while a failpoint holds it there) fails with a clear error and
   changes nothing; a rerun completes.
4. A full disk: under the store (a tablespace on a small tmpfs, filled), the publication
   fails cleanly and a rerun completes once space is back; under the API's response cache,
   answers are computed and sent, only not kept.
5. A corrupt response-cache entry (bytes flipped in diskcache's index or in its file, or
   a file cut short) is detected by its checksum, deleted and computed again: never served.

The PostgreSQL faults run on a PRIVATE cluster (tests/pgserver.py) that the tests may
stop and starve; the machine's shared server is never touched. Each test prints what it
measured (pytest -s); docs/reliability.md (section 1) reports a run.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from api.cache import LAST_STATE
from api.config import Settings
from publisher import releases as R
from publisher.extract import read_extract
from publisher.staging import ingest
from store.db import make_engine
from store.migrate import upgrade
from store.schema import PUBLIC_TABLES, STAGING_TABLES

sys.path.insert(0, os.path.dirname(__file__))
import pgserver  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOW = "DF_NET_MIGR"  # 11 observations, no disclosure control: quick to publish
NOW = datetime(2030, 1, 15, 6, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
CSV = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}  # no message id or time: comparable
DATA = f"/sdmx/3.0/data/dataflow/AZ_SMS/{FLOW}/1.0"


def report(name: str, **figures) -> None:
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                             for k, v in figures.items()))


# --- the private PostgreSQL server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def pg():
    reason = pgserver.unavailable()
    if reason:
        pytest.skip(f"no private PostgreSQL cluster for the fault tests: {reason}")
    server = pgserver.PgServer()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001
        server.cleanup()
        pytest.skip(f"could not start a private PostgreSQL cluster: {exc}")
    yield server
    server.cleanup()


@pytest.fixture(autouse=True)
def _pg_back_up(request):
    """Whatever a test did to the private server, the next one finds it running."""
    yield
    if "pg" in request.fixturenames:
        server = request.getfixturevalue("pg")
        if not server.running():
            server.start()


def new_db(pg, name: str) -> str:
    admin = create_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg.url(name)


def stage(engine, content, demo_files, flow_id: str = FLOW) -> None:
    ingest(engine, read_extract(demo_files[flow_id], content.dataflow(flow_id)))


def dump(engine) -> dict[str, list]:
    """Every row of every public and staging table (releases included), in key order."""
    with engine.connect() as conn:
        return {t.name: [tuple(row) for row in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in PUBLIC_TABLES + STAGING_TABLES}


def status(engine, release_id: int) -> str:
    with engine.connect() as conn:
        return R.release(conn, release_id).status


# --- 1. PostgreSQL restarts under a running API --------------------------------------------------

class Api:
    """The API in a uvicorn thread, as in production (one process, real sockets)."""

    def __init__(self, url: str, cache_dir: Path, port: int | None = None, **settings):
        from api.app import create_app

        self.app = create_app(Settings(database_url=url, cache_dir=str(cache_dir), cache_size=2**28,
                                       cache_max_entry=2**26, **settings))
        self.port = port or pgserver.free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.engine.dispose()

    def get(self, path: str, headers: dict | None = None) -> httpx.Response:
        return self.client.get(path, headers=headers)


#: Answers warmed before the outage: data (two formats), a structure, the dataflow list.
WARM = [(f"{DATA}/A.*", CSV), (f"{DATA}/A.*", {"Accept": "application/vnd.sdmx.data+json;version=2.0.0"}),
        (f"/sdmx/3.0/structure/dataflow/AZ_SMS/{FLOW}/1.0", None), ("/sdmx/2.1/dataflow/AZ_SMS", None)]
#: Never asked before the outage: needs the database.
COLD = (f"{DATA}/A.*?startPeriod=2021", CSV)
STATE_TTL = 0.2


@pytest.fixture(scope="module")
def api_store(pg, content, demo_files):
    url = new_db(pg, "faults_api")
    engine = make_engine(url)
    upgrade(engine)
    stage(engine, content, demo_files)
    R.publish_now(engine, content, "fault tests", dataflows=[FLOW], bulletins=False)
    engine.dispose()
    return url


def assert_sdmx_503(resp: httpx.Response) -> None:
    assert resp.status_code == 503, (resp.status_code, resp.text[:300])
    body = resp.text
    assert "ErrorMessage" in body or '"errors"' in body, body[:300]
    assert "unavailable" in body
    for leak in ("SELECT", "psycopg", "Traceback", "OperationalError", "127.0.0.1"):
        assert leak not in body, f"{leak!r} leaked into the error: {body[:300]}"


def warm(api: Api) -> dict[str, bytes]:
    bodies = {}
    for path, headers in WARM:
        for _ in range(2):  # computed, then from the caches
            r = api.get(path, headers)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
        bodies[path + repr(headers)] = r.content
    return bodies


def test_unreachable_database_answers_503_and_the_api_recovers_by_itself(pg, api_store, tmp_path):
    with Api(api_store, tmp_path / "cache", state_ttl=STATE_TTL) as api:
        warm(api)
        assert api.get("/ready").status_code == 200
        t_stop = time.monotonic()
        stop_s = pg.stop()
        time.sleep(STATE_TTL * 2)  # the state read before the outage is no longer trusted

        cold = api.get(*COLD)
        assert_sdmx_503(cold)
        cold_json = api.get(COLD[0], {"Accept": "application/vnd.sdmx.data+json;version=2.0.0",
                                      "Accept-Language": "ru"})
        assert_sdmx_503(cold_json)
        assert api.get("/live").status_code == 200
        ready = api.get("/ready")
        assert ready.status_code == 503 and ready.json()["database"] == "unreachable"

        t_start = time.monotonic()
        start_s = pg.start()
        # The same API process, not restarted: poll a never-asked query until it answers.
        statuses = []
        while True:
            r = api.get(f"{DATA}/A.*?startPeriod=2022", CSV)
            statuses.append(r.status_code)
            if r.status_code == 200:
                break
            assert r.status_code == 503, (r.status_code, r.text[:300])
            assert time.monotonic() - t_start < 15, f"not recovered 15 s after PostgreSQL came back: {statuses}"
            time.sleep(0.05)
        recovered = time.monotonic() - t_start
        assert api.get(*COLD).status_code == 200
        assert api.get("/ready").status_code == 200
        report("restart: 503 and recovery", pg_stop_s=stop_s, pg_start_s=start_s,
               outage_s=t_start - t_stop + start_s, recovered_after_start_s=recovered,
               polls_503_after_start=statuses.count(503))
        assert statuses.count(503) <= 1, "at most the request racing the restart fails"


def test_cached_answers_keep_coming_while_postgresql_is_down(pg, api_store, tmp_path):
    with Api(api_store, tmp_path / "cache", state_ttl=STATE_TTL) as api:
        before = warm(api)
        t_stop = time.monotonic()
        pg.stop()
        served, failed = 0, []
        t_end = time.monotonic() + max(1.0, STATE_TTL * 5)  # well past STATE_TTL
        while time.monotonic() < t_end:
            for path, headers in WARM:
                r = api.get(path, headers)
                if r.status_code == 200:
                    served += 1
                    assert r.content == before[path + repr(headers)]
                else:
                    failed.append((path, r.status_code))
            time.sleep(0.05)
        down_s = time.monotonic() - t_stop
        pg.start()
        report("restart: cached answers during the outage", down_s=down_s, served_200=served,
               failed=len(failed))
        assert not failed, f"cached answers failed while PostgreSQL was down: {failed[:4]}"


def test_a_worker_that_never_read_the_store_answers_from_the_cache_while_postgresql_is_down(
        pg, api_store, tmp_path):
    """Several worker processes share one response cache (uvicorn --workers): a worker that
    has not read the store before the outage (just started, or never asked: the kernel
    does not share connections out evenly) answers cached queries too, from the last state
    another worker read, and still refuses what needs the database."""
    cache = tmp_path / "cache"
    with Api(api_store, cache, state_ttl=STATE_TTL) as first:
        before = warm(first)
    # A new worker on the same address (the cache key holds the base URL), nothing read.
    with Api(api_store, cache, port=first.port, state_ttl=STATE_TTL) as second:
        pg.stop()
        try:
            for path, headers in WARM:
                r = second.get(path, headers)
                assert r.status_code == 200, (path, r.status_code, r.text[:200])
                assert r.content == before[path + repr(headers)]
            assert_sdmx_503(second.get(*COLD))
        finally:
            pg.start()
        assert second.get(*COLD).status_code == 200


# --- 2. a publisher killed inside its transaction (SIGKILL) ---------------------------------------

CRASH = """
import sys
from datetime import datetime
from publisher.content import load
from publisher import releases
from store.db import make_engine
releases.schedule(make_engine(), load(), int(sys.argv[1]), now=datetime.fromisoformat(sys.argv[2]),
                  bulletins=False)
"""


def test_a_publisher_killed_in_its_transaction_changes_nothing(pg, content, demo_files):
    """The per-backend proof is tests/test_releases.py; this is the same on this server."""
    url = new_db(pg, "faults_kill")
    engine = make_engine(url)
    upgrade(engine)
    stage(engine, content, demo_files)
    rid = R.plan(engine, content, title="killed", at=NOW + HOUR, dataflows=[FLOW], now=NOW)
    before = dump(engine)
    env = {**os.environ, "DATABASE_URL": url, "PUBLISHER_FAILPOINT": "schedule:before-commit"}
    done = subprocess.run([sys.executable, "-c", CRASH, str(rid), NOW.isoformat()], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, (done.returncode, done.stderr[-2000:])
    assert dump(engine) == before
    R.schedule(engine, content, rid, now=NOW, bulletins=False)
    assert R.publish_due(engine, now=NOW + HOUR) == [rid]
    assert status(engine, rid) == "published"
    engine.dispose()


# --- 3. the publisher's connection cut inside its transaction -------------------------------------

def run_paused(monkeypatch, tmp_path, point: str, operation, cut) -> tuple[BaseException | None, float]:
    """Run `operation()` in a thread with failpoint `point` pausing it inside its
    transaction; then `cut()`, resume, and return what it raised and how long after the
    resumption it took to fail."""
    gate = tmp_path / point.replace(":", "-")
    monkeypatch.setenv("PUBLISHER_FAILPOINT", f"{point}@pause={gate}")
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = operation()
        except BaseException as exc:  # noqa: BLE001
            outcome["error"] = exc
        outcome["at"] = time.monotonic()

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    while not Path(f"{gate}.reached").exists():
        assert worker.is_alive(), f"finished before the failpoint: {outcome}"
        assert time.monotonic() < deadline, "the failpoint was never reached"
        time.sleep(0.01)
    cut()
    resumed = time.monotonic()
    gate.touch()
    worker.join(60)
    assert not worker.is_alive()
    monkeypatch.delenv("PUBLISHER_FAILPOINT")
    return outcome.get("error"), outcome["at"] - resumed


def terminate(pg, dbname: str, application: str) -> int:
    admin = create_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        states = c.execute(text("SELECT state FROM pg_stat_activity WHERE datname = :d AND application_name = :a"),
                           {"d": dbname, "a": application}).scalars().all()
        assert "idle in transaction" in states, states  # paused inside its transaction
        n = sum(c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = :d AND application_name = :a"),
                          {"d": dbname, "a": application}).scalars().all())
    admin.dispose()
    return n


def test_a_lost_database_connection_mid_publication_changes_nothing(pg, content, demo_files, monkeypatch,
                                                                    tmp_path):
    url = new_db(pg, "faults_conn")
    engine = make_engine(url)
    upgrade(engine)
    stage(engine, content, demo_files)
    rid = R.plan(engine, content, title="cut", at=NOW + HOUR, dataflows=[FLOW], now=NOW)
    publisher = make_engine(url + "&application_name=publisher-under-test")

    # schedule: protect, write and audit the release, then lose the connection before commit
    before = dump(engine)
    err, took = run_paused(monkeypatch, tmp_path, "schedule:before-commit",
                           lambda: R.schedule(publisher, content, rid, now=NOW, bulletins=False),
                           lambda: terminate(pg, "faults_conn", "publisher-under-test"))
    assert isinstance(err, OperationalError), repr(err)
    message = str(err.orig)
    assert "terminat" in message or "closed" in message, message
    assert dump(engine) == before, "nothing of the interrupted release is in the store"
    assert status(engine, rid) == "draft"
    report("lost connection in schedule", failed_after_s=took, error=message.splitlines()[0][:80])
    summary = R.schedule(publisher, content, rid, now=NOW, bulletins=False)  # the same engine: it reconnects
    assert summary[FLOW]["added"] == 11 and status(engine, rid) == "scheduled"

    # publish (the scheduler): the connection is lost before its commit
    before = dump(engine)
    err, took = run_paused(monkeypatch, tmp_path, "publish:before-commit",
                           lambda: R.publish_due(publisher, now=NOW + HOUR),
                           lambda: terminate(pg, "faults_conn", "publisher-under-test"))
    assert isinstance(err, OperationalError), repr(err)
    assert dump(engine) == before and status(engine, rid) == "scheduled"
    report("lost connection in publish_due", failed_after_s=took, error=str(err.orig).splitlines()[0][:80])
    assert R.publish_due(publisher, now=NOW + HOUR) == [rid]
    assert status(engine, rid) == "published"
    publisher.dispose()
    engine.dispose()


# --- 4. full disks ----------------------------------------------------------------------------------

def mount_tmpfs(path: Path, size: str) -> str | None:
    """Mount a tmpfs of `size` at `path`; None, or why it cannot be done here."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"mount -t tmpfs is not permitted: {done.stderr.strip()}"


def fill(directory: Path) -> int:
    """Fill the file system of `directory` up to its last byte; the bytes written."""
    written = 0
    block = b"\0" * 4096
    with open(directory / "ballast", "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        for size in (1024, 64, 1):  # the crumbs
            try:
                while True:
                    written += f.write(block[:size])
            except OSError:
                pass
    return written


def _small_fs(mnt: Path):
    reason = mount_tmpfs(mnt, "8m")
    if reason:
        pytest.skip(reason)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def small_fs(tmp_path):
    yield from _small_fs(tmp_path / "small")


@pytest.fixture
def small_pg_fs(pg):
    """Under the cluster's own directory: the postgres user can reach it."""
    yield from _small_fs(pg.base / "small")


def test_a_full_disk_under_the_store_fails_the_publication_cleanly(pg, content, demo_files, small_pg_fs):
    """The store's tables live in a tablespace on an 8 MB tmpfs; WAL and catalogs stay on
    the cluster's own disk (a full WAL disk is a PANIC and a crash-restart of PostgreSQL:
    that is fault 1, then fault 2)."""
    small_fs = small_pg_fs
    pg.chown(small_fs)
    admin = create_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text("DROP TABLESPACE IF EXISTS small"))
        c.execute(text(f"CREATE TABLESPACE small LOCATION '{small_fs}'"))
    new_db(pg, "faults_disk")
    url = pg.url("faults_disk", default_tablespace="small")
    engine = make_engine(url)
    upgrade(engine)
    stage(engine, content, demo_files)
    rid = R.plan(engine, content, title="full disk", at=NOW + HOUR, dataflows=[FLOW], now=NOW)
    with engine.connect() as c:
        placed = c.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 'public_observation' "
                                "AND tablespace = 'small'")).scalar_one()
    assert placed == 1, "the store's tables are on the small file system"
    before = dump(engine)
    ballast = fill(small_fs)

    t = time.monotonic()
    with pytest.raises(OperationalError) as caught:
        R.schedule(engine, content, rid, now=NOW, bulletins=False)
    took = time.monotonic() - t
    message = str(caught.value.orig)
    assert "No space left on device" in message, message
    assert dump(engine) == before and status(engine, rid) == "draft"
    report("full disk under the store", ballast_bytes=ballast, failed_after_s=took,
           error=message.splitlines()[0][:90])

    (small_fs / "ballast").unlink()  # space is back
    summary = R.schedule(engine, content, rid, now=NOW, bulletins=False)
    assert summary[FLOW]["added"] == 11
    assert R.publish_due(engine, now=NOW + HOUR) == [rid]
    assert status(engine, rid) == "published"
    engine.dispose()
    with admin.connect() as c:
        c.execute(text('DROP DATABASE "faults_disk"'))
        c.execute(text("DROP TABLESPACE small"))
    admin.dispose()


# --- the API's response cache: full disk, corrupt entries (no PostgreSQL needed) --------------------

@pytest.fixture(scope="module")
def sqlite_store(content, demo_files, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('faultstore') / 'store.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    stage(engine, content, demo_files)
    R.publish_now(engine, content, "fault tests", dataflows=[FLOW], bulletins=False)
    engine.dispose()
    return url


def client(url: str, cache_dir: Path, **settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    # memory_cache_size=0: no in-memory replays, every answer goes to the disk cache.
    app = create_app(Settings(database_url=url, cache_dir=str(cache_dir), cache_size=2**28,
                              cache_max_entry=2**26, memory_cache_size=0, **settings))
    return TestClient(app, raise_server_exceptions=False)


QUERIES = [f"{DATA}/A.*", f"{DATA}/A._T", f"{DATA}/*.*?startPeriod=2021"]


def reference(sqlite_store, tmp_path) -> dict[str, bytes]:
    with client(sqlite_store, tmp_path / "reference-cache") as c:
        return {q: c.get(q, headers=CSV).content for q in QUERIES}


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_full_cache_disk_still_answers(sqlite_store, tmp_path, small_fs, monkeypatch, caplog, streamed):
    """The cache directory on a full tmpfs: every answer is computed and sent; none kept.
    `streamed`: answers streamed and spooled to a file in the cache directory (which fails
    on the full disk) instead of sent whole."""
    import api.cache

    expected = reference(sqlite_store, tmp_path)
    settings = {"buffer_observations": 0} if streamed else {}
    if streamed:
        monkeypatch.setattr(api.cache, "SPOOL_IN_MEMORY", 16)  # roll the spool over to the disk at once
    with client(sqlite_store, small_fs / "cache", **settings) as c:
        ballast = fill(small_fs)
        caplog.set_level(logging.WARNING, "api.cache")
        t = time.monotonic()
        for _ in range(2):
            for q in QUERIES:
                r = c.get(q, headers=CSV)
                assert r.status_code == 200, (q, r.status_code, r.text[:300])
                assert r.content == expected[q]
                assert r.headers["x-cache"] == "miss", "nothing can be kept on a full disk"
        took = (time.monotonic() - t) / (2 * len(QUERIES))
    assert any("answering without it" in m for m in caplog.messages), caplog.messages
    report(f"full cache disk ({'streamed' if streamed else 'whole'})", ballast_bytes=ballast,
           per_request_s=took, logged=caplog.messages[0][:100])


def test_an_unusable_cache_directory_still_answers(sqlite_store, tmp_path, monkeypatch, caplog):
    """Without root (no tmpfs): diskcache failing with ENOSPC on every write and read,
    and a cache directory that cannot even be opened."""
    import diskcache

    expected = reference(sqlite_store, tmp_path)

    def enospc(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    caplog.set_level(logging.WARNING, "api.cache")
    with client(sqlite_store, tmp_path / "cache") as c:
        monkeypatch.setattr(diskcache.Cache, "set", enospc)
        monkeypatch.setattr(diskcache.Cache, "get", enospc)
        for q in QUERIES:
            r = c.get(q, headers=CSV)
            assert (r.status_code, r.content) == (200, expected[q])
    monkeypatch.undo()
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    with client(sqlite_store, blocked / "cache") as c:
        for q in QUERIES:
            r = c.get(q, headers=CSV)
            assert (r.status_code, r.content) == (200, expected[q])
        ready = c.get("/ready")  # ready all the same, and says the cache is off
        assert (ready.status_code, ready.json()["response_cache"]) == (200, "off")
    with client(sqlite_store, tmp_path / "cache") as c:
        assert c.get("/ready").json()["response_cache"] == "on"
    assert len([m for m in caplog.messages if "answering without it" in m]) >= 2, caplog.messages


def corrupt(cache_dir: Path, how: str) -> str:
    """Damage the one response of diskcache's index in `cache_dir` (beside the last state of
    the store, api.cache.LAST_STATE); what was done."""
    db = sqlite3.connect(cache_dir / "cache.db")
    try:
        rows = db.execute("SELECT rowid, filename, value FROM Cache WHERE key != ?", (LAST_STATE,)).fetchall()
        assert len(rows) == 1, rows
        rowid, filename, value = rows[0]
        if how == "inline":
            assert filename is None and isinstance(value, bytes), "kept in the index"
            flipped = bytearray(value)
            flipped[len(flipped) // 2] ^= 0x01
            db.execute("UPDATE Cache SET value = ? WHERE rowid = ?", (bytes(flipped), rowid))
            db.commit()
            return f"one bit flipped in a {len(value)}-byte value in cache.db"
    finally:
        db.close()
    path = cache_dir / filename
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
        return f"file {filename} cut from {len(data)} to {len(data) // 2} bytes"
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return f"one bit flipped in the {len(data)}-byte file {filename}"


@pytest.mark.parametrize("how", ["inline", "file", "streamed-file", "truncated"])
def test_a_corrupt_cache_entry_is_never_served(sqlite_store, tmp_path, monkeypatch, caplog, how):
    """inline: a small body, kept in diskcache's SQLite index; file: kept as a file and
    read into memory; streamed-file: a large one, sent from its file (SPOOL_IN_MEMORY
    lowered so that 1 KB counts as large); truncated: the file cut short."""
    import api.cache

    query = f"{DATA}/*.*"
    cache_dir = tmp_path / "cache"
    with client(sqlite_store, cache_dir) as c:
        if how != "inline":
            c.app.state.cache.cache.reset("disk_min_file_size", 0)  # every body in a file
        if how in ("streamed-file", "truncated"):
            monkeypatch.setattr(api.cache, "SPOOL_IN_MEMORY", 16)
        first = c.get(query, headers=CSV)
        assert first.status_code == 200 and first.headers["x-cache"] == "miss"
        assert c.get(query, headers=CSV).headers["x-cache"] == "hit"
        done = corrupt(cache_dir, how)
        caplog.set_level(logging.ERROR, "api.cache")
        t = time.monotonic()
        again = c.get(query, headers=CSV)
        took = time.monotonic() - t
        assert again.status_code == 200
        assert again.content == first.content, "the corrupt body was served"
        assert again.headers["x-cache"] == "miss", "computed again"
        assert any("corrupt" in m for m in caplog.messages), caplog.messages
        healed = c.get(query, headers=CSV)
        assert (healed.headers["x-cache"], healed.content) == ("hit", first.content), "kept again, intact"
    report(f"corrupt cache entry ({how})", damage=done, recomputed_in_s=took)


def test_checking_a_cached_body_is_cheap():
    """The cost of the checksum on the hot path: a few KB (a typical answer) and 64 MB."""
    import api.cache

    small = os.urandom(4096)
    t = time.perf_counter()
    for _ in range(2000):
        api.cache.checksum(small)
    per_small = (time.perf_counter() - t) / 2000
    big = os.urandom(64 << 20)
    t = time.perf_counter()
    api.cache.checksum(big)
    rate = 64 / (time.perf_counter() - t)
    report("checksum cost", per_4KB_us=per_small * 1e6, MB_per_s=rate)
    assert per_small < 1e-4


def test_the_state_another_worker_read_is_not_used_past_a_release_time(tmp_path):
    """The last state kept for the other workers describes one moment: once a scheduled
    release's time has passed, it no longer says what is public, and a worker that cannot
    read the store answers 503 rather than from it."""
    from api.cache import ResponseCache
    from api.snapshot import Snapshots
    from api.store import ReleaseInfo, Releases

    read_at = datetime(2030, 1, 15, 6, 0, tzinfo=timezone.utc)
    releases = Releases(7, (ReleaseInfo(1, "published", read_at - HOUR, frozenset({"A"})),
                            ReleaseInfo(2, "scheduled", read_at + HOUR, frozenset({"A"}))))
    shelf = ResponseCache(str(tmp_path / "cache"), 2**24, 2**20)
    shelf.keep_state((releases.token(read_at), read_at, releases, [{"id": "doc"}]))
    unreachable = create_engine(f"sqlite:///{tmp_path}/no/such/dir/store.sqlite")
    clock = [read_at + HOUR / 2]
    snaps = Snapshots(unreachable, 0.1, now=lambda: clock[0], shelf=shelf)
    snap = snaps.current()  # before the release: the kept state is still true
    assert (snap.token, snap.documents, snap.hidden()) == ("7.1", [{"id": "doc"}], frozenset({2}))
    clock[0] = read_at + HOUR  # the release's second
    with pytest.raises(OperationalError):
        Snapshots(unreachable, 0.1, now=lambda: clock[0], shelf=shelf).current()
    with pytest.raises(OperationalError):
        snaps.current()  # nor the worker that took it up
