"""A store holding N synthetic observations, built in seconds: a benchmark and test fixture.

    .venv/bin/python bench/bigstore.py sqlite:///var/big.sqlite --observations 1000000
    .venv/bin/python bench/bigstore.py postgresql://user@host/db -n 1000000

The figures are synthetic, so disclosure control is irrelevant and skipped: this module
does NOT go through the publisher (staging, protection, audit). It writes the public
tables directly, with SQLAlchemy Core bulk inserts, exactly as publisher.publish writes
them: one ``public_release``; every structure document of the shipped content in
``public_structure`` (``json.dumps(doc, ensure_ascii=False, sort_keys=True)``, as
``_upsert_structures`` does), so the API resolves the dataflow, its DSD and codelists
as it would after a real release; ``public_series`` rows with the key whole and split
into d1..dN; ``public_observation`` rows with the period's bounds (store.periods),
``obs_status`` A / ``conf_status`` F for a value and Q / C for a withheld one (one in
97 is withheld, so both paths of the serialisers are exercised).

Never point this at a production store: the observations it adds are invented.

The dataflow is one of the shipped content (default DF_WORKPERM_VALID: 4 varying
dimensions, 32,032 possible series). Series are the first ``ceil(N / periods)`` keys
of the dimensions' codelists (codes in codelist order, FREQ fixed to the dataflow's
frequency), each with ``periods`` consecutive periods from 2000 on; the last series is
cut so that exactly N observations are stored.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from publisher.content import Content, load  # noqa: E402
from store import periods as sdmx_periods  # noqa: E402
from store.db import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.schema import (  # noqa: E402
    DIMENSION_COLUMNS,
    public_observation,
    public_release,
    public_series,
    public_structure,
)

DEFAULT_FLOW = "DF_WORKPERM_VALID"
BATCH = 50_000


def synthetic_periods(freq: str, count: int, first_year: int = 2000) -> list[str]:
    """`count` consecutive periods of frequency A, Q or M from `first_year`."""
    per_year = {"A": 1, "Q": 4, "M": 12}[freq]
    out = []
    for i in range(count):
        y, k = divmod(i, per_year)
        y += first_year
        out.append(str(y) if freq == "A" else f"{y}-Q{k + 1}" if freq == "Q" else f"{y}-{k + 1:02d}")
    return out


def series_keys(content: Content, flow_id: str, count: int) -> list[str]:
    """The first `count` series keys of the dataflow, codelist order, FREQ fixed."""
    flow = content.dataflow(flow_id)
    fixed = flow.layout.fixed
    axes = []
    for dim in flow.dimension_ids:
        if dim in fixed:
            axes.append([fixed[dim]])
        else:
            axes.append([c["id"] for c in flow.codelists[dim]["codes"]])
    keys = list(itertools.islice((".".join(k) for k in itertools.product(*axes)), count))
    if len(keys) < count:
        raise ValueError(f"{flow_id} has only {len(keys)} series keys; ask for more periods per series")
    return keys



def write_release(conn, content, flow, description: str) -> tuple[int, int]:
    """A synthetic release, published now, with every structure document: (release id,
    the dataflow's structure row id). bench/scale.py writes its stores with it too."""
    release_id = conn.execute(insert(public_release).values(
        release_time=datetime.now(timezone.utc), description=description)).inserted_primary_key[0]
    conn.execute(insert(public_structure), [
        {"kind": d["kind"], "agency": d["agency"], "artefact_id": d["id"], "version": d["version"],
         "document": json.dumps(d, ensure_ascii=False, sort_keys=True), "release_ref": release_id}
        for d in content.documents])
    doc = flow.document
    structure_id = conn.execute(select(public_structure.c.id).where(
        public_structure.c.kind == "dataflow", public_structure.c.agency == doc["agency"],
        public_structure.c.artefact_id == doc["id"], public_structure.c.version == doc["version"])).scalar_one()
    return release_id, structure_id

def build(url: str, observations: int = 1_000_000, *, flow_id: str = DEFAULT_FLOW,
          periods: int = 40, content: Content | None = None, engine: Engine | None = None) -> dict:
    """Create (migrate) the store at `url` and fill it; return what was written and how fast.

    The store should be empty: this writes release 1's structures with plain inserts."""
    t0 = time.perf_counter()
    content = content or load()
    flow = content.dataflow(flow_id)
    own_engine = engine is None
    engine = engine or make_engine(url)
    upgrade(engine)
    freq = flow.layout.fixed.get("FREQ") or flow.document.get("frequency") or "A"
    period_ids = synthetic_periods(freq, periods)
    bounds = [sdmx_periods.bounds(p) for p in period_ids]
    n_series = math.ceil(observations / periods)
    keys = series_keys(content, flow_id, n_series)

    with engine.begin() as conn:
        release_id, structure_id = write_release(
            conn, content, flow, f"synthetic: {observations} observations of {flow_id} (bench/bigstore.py)")
        series_rows = []
        for key in keys:
            row = {"dataflow_ref": structure_id, "series_key": key}
            row.update(dict(zip(DIMENSION_COLUMNS, key.split("."))))
            series_rows.append(row)
        for i in range(0, len(series_rows), BATCH):
            conn.execute(insert(public_series), series_rows[i:i + BATCH])
        ids = dict(conn.execute(select(public_series.c.series_key, public_series.c.id)
                                .where(public_series.c.dataflow_ref == structure_id)).all())
        t_obs = time.perf_counter()
        batch: list[dict] = []
        written = 0
        for key in keys:
            ref = ids[key]
            for p, (start, end) in zip(period_ids, bounds):
                if written == observations:
                    break
                withheld = written % 97 == 0
                batch.append({
                    "series_ref": ref, "time_period": p, "period_start": start, "period_end": end,
                    "value": None if withheld else float((written * 7919) % 5000),
                    "obs_status": "Q" if withheld else "A", "conf_status": "C" if withheld else "F",
                    "release_ref": release_id, "superseded_ref": None,
                })
                written += 1
                if len(batch) == BATCH:
                    conn.execute(insert(public_observation), batch)
                    batch = []
        if batch:
            conn.execute(insert(public_observation), batch)
    if own_engine:
        engine.dispose()
    t1 = time.perf_counter()
    return {"url": url, "dataflow": flow_id, "series": len(keys), "periods": periods,
            "observations": written, "seconds": round(t1 - t0, 2),
            "observation_insert_seconds": round(t1 - t_obs, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="SQLAlchemy URL of an empty store (sqlite:///path or postgresql://...)")
    ap.add_argument("-n", "--observations", type=int, default=1_000_000)
    ap.add_argument("--dataflow", default=DEFAULT_FLOW)
    ap.add_argument("--periods", type=int, default=40, help="periods per series (default 40)")
    args = ap.parse_args()
    print(json.dumps(build(args.url, args.observations, flow_id=args.dataflow, periods=args.periods)))


if __name__ == "__main__":
    main()
