"""Scale: query latency on PostgreSQL stores of 1 and 10 million observations.

    .venv/bin/python bench/scale.py                               # 1M and 10M
    .venv/bin/python bench/scale.py --sizes 1000000 5000000       # other sizes
    .venv/bin/python bench/scale.py --database postgresql+psycopg://user@host/db --keep

What runs, per size:

* **The store**: a schema of our own on the PostgreSQL server (``--database``, default the
  test server), migrated, then filled the way bench/bigstore.py fills a store (one
  release, every structure document of the shipped content, synthetic series and
  observations of one dataflow, one value in 97 withheld) but bulk-loaded with COPY:
  the foreign keys and secondary indexes of ``public_series`` and
  ``public_observation`` are dropped first and made again after the load, then ANALYZE.
  The dataflow is DF_RESPERM_TEMP (713,496 possible series), 40 quarters per series
  (2000-Q1 to 2009-Q4): 1M observations are 25,000 series, 10M are 250,000, the first
  series keys in codelist order, so every series of the smaller store is also in the
  larger one. The schema is dropped at the end unless ``--keep``.
* **The API**: ``python -m uvicorn api.app:app`` (one process), with every response
  cache off (``CACHE_MAX_ENTRY=0``, which also turns off the in-memory HotResponses,
  ``MEMORY_CACHE_SIZE=0``) and a fresh ``CACHE_DIR``: every request reads the store.
* **The queries**, each timed on its first request (send to last byte) and as the median
  of ``--repeat`` (default 5) further requests, all uncached: a single series; a slice by
  one dimension (one citizenship: the same 2,600 series and ~100,000 observations at
  every size); availability of the whole dataflow (counts); the friendly API's page of
  the dataflow and its default data view. Before them, one small data query of another
  series is timed separately: the first data request of a release loads the dataflow's
  series index into memory (once per release and process).

Printed: build time per size, then per query the latency at each size and the ratio
largest / smallest. Figures, not assertions: these 2-core machines are noisy.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bigstore import series_keys, synthetic_periods, write_release  # noqa: E402
from bench.load import Api, new_schema  # noqa: E402
from publisher.content import load  # noqa: E402
from store import periods as sdmx_periods  # noqa: E402
from store.db import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.schema import DIMENSION_COLUMNS  # noqa: E402

FLOW = "DF_RESPERM_TEMP"
PERIODS = 40
DEFAULT_DB = os.environ.get("TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHUNK = 200_000  # rows per COPY write


# --- building -----------------------------------------------------------------------------

def _psycopg_conninfo(url: str) -> str:
    """A libpq connection string from a SQLAlchemy URL (postgresql+psycopg://...)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    parts = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "dbname": u.database,
             "user": u.username, "password": u.password}
    info = " ".join(f"{k}={v}" for k, v in parts.items() if v)
    if opts := u.query.get("options"):
        info += f" options='{opts}'"
    return info


def _detach_constraints(cur, table: str) -> list[str]:
    """Drop the foreign keys and non-primary indexes of `table`; return the DDL to make them again."""
    again = []
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')", (table,))
    for name, ddl in cur.fetchall():
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        again.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
    cur.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
                "AND i.schemaname = current_schema() AND i.indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", (table, table))
    for name, ddl in cur.fetchall():
        cur.execute(f'DROP INDEX "{name}"')
        again.append(ddl)
    return again


def build(url: str, observations: int, content=None) -> dict:
    """Fill the empty store at `url` (PostgreSQL) with `observations` observations of FLOW."""
    import psycopg

    t0 = time.perf_counter()
    content = content or load()
    flow = content.dataflow(FLOW)
    engine = make_engine(url)
    upgrade(engine)
    freq = flow.layout.fixed.get("FREQ") or flow.document.get("frequency") or "A"
    period_ids = synthetic_periods(freq, PERIODS)
    bounds = [tuple(d.isoformat() for d in sdmx_periods.bounds(p)) for p in period_ids]
    keys = series_keys(content, FLOW, math.ceil(observations / PERIODS))
    with engine.begin() as conn:  # the release and the structures, as bench/bigstore.py writes them
        release_id, structure_id = write_release(
            conn, content, flow, f"synthetic: {observations} observations of {FLOW} (bench/scale.py)")
    engine.dispose()

    n_dims = len(keys[0].split("."))
    dim_cols = DIMENSION_COLUMNS[:n_dims]
    t_load = time.perf_counter()
    with psycopg.connect(_psycopg_conninfo(url)) as pg, pg.cursor() as cur:
        again = _detach_constraints(cur, "public_observation") + _detach_constraints(cur, "public_series")
        with cur.copy(f"COPY public_series (id, dataflow_ref, series_key, {', '.join(dim_cols)}) FROM STDIN") as cp:
            buf = io.StringIO()
            for i, key in enumerate(keys, 1):
                buf.write(f"{i}\t{structure_id}\t{key}\t{key.replace('.', chr(9))}\n")
            cp.write(buf.getvalue())
        cols = ("id, series_ref, time_period, period_start, period_end, value, obs_status, conf_status, "
                "release_ref, superseded_ref")
        written = 0
        with cur.copy(f"COPY public_observation ({cols}) FROM STDIN") as cp:
            lines: list[str] = []
            tails = [f"{p}\t{s}\t{e}\t" for p, (s, e) in zip(period_ids, bounds)]
            rel = f"\t{release_id}\t\\N\n"
            for ref in range(1, len(keys) + 1):
                for tail in tails:
                    if written == observations:
                        break
                    if written % 97 == 0:
                        lines.append(f"{written + 1}\t{ref}\t{tail}\\N\tQ\tC{rel}")
                    else:
                        lines.append(f"{written + 1}\t{ref}\t{tail}{(written * 7919) % 5000}\tA\tF{rel}")
                    written += 1
                if len(lines) >= CHUNK:
                    cp.write("".join(lines))
                    lines = []
            if lines:
                cp.write("".join(lines))
        t_index = time.perf_counter()
        for ddl in again:
            cur.execute(ddl)
        for table, n in (("public_series", len(keys)), ("public_observation", written)):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
        pg.commit()
        pg.autocommit = True
        cur.execute("ANALYZE")
        cur.execute("SELECT pg_total_relation_size('public_observation') + pg_total_relation_size('public_series')")
        size = cur.fetchone()[0]
    t1 = time.perf_counter()
    return {"observations": written, "series": len(keys), "seconds": round(t1 - t0, 1),
            "copy_seconds": round(t_index - t_load, 1), "index_seconds": round(t1 - t_index, 1),
            "mb": round(size / 2**20), "keys": keys}




# --- measuring ----------------------------------------------------------------------------

def queries(keys: list[str]) -> list[tuple[str, str, str]]:
    """(label, path, Accept) of the fixed queries; every key used is in the smallest store."""
    one = keys[min(12_345, len(keys) // 2)]  # the same series at 1M and 10M
    citizenship = keys[0].split(".")[1]
    csv2 = "application/vnd.sdmx.data+csv;version=2.0.0"
    return [
        ("single series (SDMX-CSV 2.0)", f"/sdmx/2.1/data/{FLOW}/{one}", csv2),
        ("single series (SDMX-ML 2.1)", f"/sdmx/2.1/data/{FLOW}/{one}",
         "application/vnd.sdmx.structurespecificdata+xml;version=2.1"),
        (f"slice CITIZENSHIP={citizenship} (CSV)", f"/sdmx/2.1/data/{FLOW}/Q.{citizenship}...", csv2),
        ("availability, whole dataflow", f"/sdmx/3.0/availability/dataflow/AZ_SMS/{FLOW}/1.0/*", "application/json"),
        ("availability, exact counts", f"/sdmx/2.1/availableconstraint/{FLOW}/all?mode=exact", "application/json"),
        ("friendly: dataflow page", f"/api/dataflows/{FLOW}", "application/json"),
        ("friendly: default data view", f"/api/dataflows/{FLOW}/data", "application/json"),
    ]


def timed_get(client: httpx.Client, path: str, accept: str) -> tuple[float, int, int]:
    t = time.perf_counter()
    with client.stream("GET", path, headers={"Accept": accept, "Accept-Encoding": "identity"}) as r:
        size = sum(len(b) for b in r.iter_raw())
        status = r.status_code
    return time.perf_counter() - t, status, size


def measure(url: str, keys: list[str], repeat: int, tmp: Path) -> dict:
    # One process, every response cache off: each request is computed.
    api = Api(url, tmp / f"cache-{uuid.uuid4().hex[:6]}", workers=None,
              env={"CACHE_MAX_ENTRY": "0", "MEMORY_CACHE_SIZE": "0"})
    out = {}
    try:
        with httpx.Client(base_url=api.base, timeout=600) as client:
            warm = keys[min(777, len(keys) // 3)]
            s, status, size = timed_get(client, f"/sdmx/2.1/data/{FLOW}/{warm}",
                                        "application/vnd.sdmx.data+csv;version=2.0.0")
            out["first data request (loads the series index)"] = {"first": s, "median": None,
                                                                   "status": status, "bytes": size}
            for label, path, accept in queries(keys):
                first, status, size = timed_get(client, path, accept)
                again = [timed_get(client, path, accept)[0] for _ in range(repeat)]
                out[label] = {"first": first, "median": statistics.median(again) if again else None,
                              "status": status, "bytes": size, "path": path}
    finally:
        api.stop()
    return out


def size_label(n: int) -> str:
    return f"{n / 10**6:g}M" if n >= 10**6 else f"{n / 1000:g}k"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database", default=DEFAULT_DB, help="PostgreSQL server URL (a schema of our own is "
                                                           "made there per size, dropped at the end)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=5, help="uncached requests after the first (median)")
    ap.add_argument("--keep", action="store_true", help="keep the schemas (their names are printed)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    started = time.time()
    print(f"# migstat scale, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start")
    content = load()
    results: dict[int, dict] = {}
    builds: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="migstat-scale-") as tmpdir:
        for n in sorted(args.sizes):
            schema, url, drop = new_schema(args.database, "scale_")
            try:
                b = build(url, n, content)
                keys = b.pop("keys")
                builds[n] = b
                print(f"store {n:,}: {b['observations']:,} observations, {b['series']:,} series of {FLOW}, "
                      f"PostgreSQL schema {schema}, built in {b['seconds']} s (COPY {b['copy_seconds']} s, "
                      f"indexes and constraints {b['index_seconds']} s), {b['mb']} MB", flush=True)
                results[n] = measure(url, keys, args.repeat, Path(tmpdir))
            finally:
                if args.keep:
                    print(f"  kept: schema {schema} ({url})")
                else:
                    drop()

    sizes = sorted(results)
    lo, hi = sizes[0], sizes[-1]
    labels = list(results[lo])
    print()
    L, H = size_label(lo), size_label(hi)
    print(f"## Uncached latency (ms): first request, and median of {args.repeat} more; ratio {H} / {L}")
    head = f"{'query':<46}" + "".join(f" {size_label(n) + ' first':>10} {size_label(n) + ' med':>9}" for n in sizes)
    print(head + f" {'ratio first':>11} {'ratio med':>9} {'bytes ' + L:>11} {'bytes ' + H:>11}")
    for label in labels:
        line = f"{label:<46}"
        for n in sizes:
            r = results[n][label]
            med = f"{r['median'] * 1000:9.1f}" if r["median"] is not None else f"{'':>9}"
            line += f" {r['first'] * 1000:10.1f} {med}"
        a, b = results[lo][label], results[hi][label]
        rf = b["first"] / a["first"]
        rm = f"{b['median'] / a['median']:9.2f}" if a["median"] else f"{'':>9}"
        bad = "" if a["status"] == b["status"] == 200 else f"  (status {a['status']}/{b['status']})"
        line += f" {rf:11.2f} {rm} {a['bytes']:>11,} {b['bytes']:>11,}{bad}"
        print(line)
    if hi != 10_000_000 or lo != 1_000_000:
        k = math.log(10) / math.log(hi / lo)
        print(f"  sizes measured: {', '.join(f'{n:,}' for n in sizes)}. Extrapolation to 10x the smallest, "
              f"assuming latency ~ size^a (a fitted from these two sizes): ratio_10x = ratio^{k:.2f}")
        for label in labels:
            a, b = results[lo][label], results[hi][label]
            if a["median"]:
                print(f"    {label:<44} {(b['median'] / a['median']) ** k:6.2f}")
    print(f"(scale took {time.time() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end)")
    if args.json:
        args.json.write_text(json.dumps({"builds": builds, "results": {str(k): v for k, v in results.items()}},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
