"""Ingest a checked extract into the staging area, in one transaction.

Each cell is stored with its true value and, when the dataflow's extract carries one,
its cell key (cell-key method); otherwise the cell key is NULL.

An extract is the complete table for the periods it covers: ingesting it replaces
every staged cell of its dataflow for those periods (a resubmitted 2024-Q3 replaces
2024-Q3). Either all of it is stored or, on any error, nothing is.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from sqlalchemy import Engine, delete, insert

from publisher.content import CELL_KEY
from publisher.extract import CleanExtract
from store.schema import staging_extract, staging_observation


def ingest(engine: Engine, extract: CleanExtract) -> int:
    """Store the extract; return the staging extract id."""
    flow = extract.dataflow
    td = flow.structure["time_dimension"]["id"]
    measure = flow.structure["primary_measure"]["id"]
    obs = extract.observations
    values = obs[measure].astype(float)
    counts = flow.document.get("measure", "count") == "count"
    if not values.map(math.isfinite).all() or (counts and (values < 0).any()):
        # read_extract never lets these through; refuse a hand-made table that would.
        raise ValueError("values must be finite, and counts not negative")
    if CELL_KEY in obs:
        keys = obs[CELL_KEY]
        if keys.isna().any() or not keys.map(lambda k: float(k).is_integer() and 0 <= k <= 255).all():
            raise ValueError("cell keys must be whole numbers from 0 to 255")
        keys = [int(k) for k in keys]
    else:
        keys = [None] * len(obs)
    with engine.begin() as conn:
        extract_id = conn.execute(insert(staging_extract).values(
            dataflow=flow.ref, filename=extract.filename, sha256=extract.sha256,
            row_count=extract.row_count, ingested_at=datetime.now(timezone.utc),
        )).inserted_primary_key[0]
        covered = sorted(obs[td].unique())
        conn.execute(delete(staging_observation).where(
            staging_observation.c.dataflow == flow.ref,
            staging_observation.c.time_period.in_(covered)))
        rows = [{"dataflow": flow.ref, "series_key": k, "time_period": p, "value": float(v),
                 "extract_ref": extract_id, "cell_key": ck}
                for k, p, v, ck in zip(obs["series_key"], obs[td], obs[measure], keys)]
        for i in range(0, len(rows), 10_000):
            conn.execute(insert(staging_observation), rows[i:i + 10_000])
    return extract_id
