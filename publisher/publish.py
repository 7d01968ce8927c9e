"""Publish: copy what is staged into the public area as one release, atomically.

Disclosure control will sit here, between the staging area (true values) and the
public area (what the API reads); until it does, values are copied through.

Observations are versioned (see store.schema): a cell whose value changed, or that
is no longer staged, is marked superseded by this release, and the new value is
inserted with this release's id. Unchanged cells keep their original release.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import Engine, insert, select, update

from publisher.content import Content
from store import periods
from store.schema import (
    DIMENSION_COLUMNS,
    public_observation,
    public_release,
    public_series,
    public_structure,
    staging_observation,
)


def _upsert_structures(conn, content: Content, release_id: int) -> dict[str, int]:
    """Write every structure document; return dataflow ref -> public_structure id."""
    existing = {(r.kind, r.agency, r.artefact_id, r.version): (r.id, r.document)
                for r in conn.execute(select(public_structure))}
    flow_ids: dict[str, int] = {}
    for doc in content.documents:
        key = (doc["kind"], doc["agency"], doc["id"], doc["version"])
        text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
        if key in existing:
            sid, old = existing[key]
            if old != text:
                conn.execute(update(public_structure).where(public_structure.c.id == sid)
                             .values(document=text, release_ref=release_id))
        else:
            sid = conn.execute(insert(public_structure).values(
                kind=doc["kind"], agency=doc["agency"], artefact_id=doc["id"],
                version=doc["version"], document=text, release_ref=release_id,
            )).inserted_primary_key[0]
        if doc["kind"] == "dataflow":
            flow_ids[f"{doc['agency']}:{doc['id']}({doc['version']})"] = sid
    return flow_ids


def _publish_dataflow(conn, flow_ref: str, structure_id: int, release_id: int) -> dict[str, int]:
    staged = pd.DataFrame(conn.execute(
        select(staging_observation.c.series_key, staging_observation.c.time_period,
               staging_observation.c.value)
        .where(staging_observation.c.dataflow == flow_ref)).all(),
        columns=["series_key", "time_period", "value"])
    series = {r.series_key: r.id for r in conn.execute(
        select(public_series.c.id, public_series.c.series_key)
        .where(public_series.c.dataflow_ref == structure_id))}
    new_keys = sorted(set(staged["series_key"]) - set(series))
    if new_keys:
        rows = []
        for key in new_keys:
            row = {"dataflow_ref": structure_id, "series_key": key}
            row.update(dict(zip(DIMENSION_COLUMNS, key.split("."))))
            rows.append(row)
        conn.execute(insert(public_series), rows)
        series = {r.series_key: r.id for r in conn.execute(
            select(public_series.c.id, public_series.c.series_key)
            .where(public_series.c.dataflow_ref == structure_id))}

    o, s = public_observation, public_series
    current = pd.DataFrame(conn.execute(
        select(o.c.id, s.c.series_key, o.c.time_period, o.c.value)
        .join(s, s.c.id == o.c.series_ref)
        .where(s.c.dataflow_ref == structure_id, o.c.superseded_ref.is_(None))).all(),
        columns=["id", "series_key", "time_period", "old_value"])
    merged = staged.merge(current, on=["series_key", "time_period"], how="outer", indicator=True)
    # Copy-through: every published cell is free (F) and normal (A).
    changed = merged[(merged["_merge"] == "both") & (merged["value"] != merged["old_value"])]
    added = merged[merged["_merge"] == "left_only"]
    withdrawn = merged[merged["_merge"] == "right_only"]

    superseded = [int(i) for i in pd.concat([changed["id"], withdrawn["id"]])]
    for i in range(0, len(superseded), 5_000):
        conn.execute(update(o).where(o.c.id.in_(superseded[i:i + 5_000]))
                     .values(superseded_ref=release_id))
    to_insert = pd.concat([changed, added])
    rows = []
    bounds_cache: dict[str, tuple] = {}
    for key, period, value in zip(to_insert["series_key"], to_insert["time_period"], to_insert["value"]):
        if period not in bounds_cache:
            bounds_cache[period] = periods.bounds(period)
        start, end = bounds_cache[period]
        rows.append({"series_ref": series[key], "time_period": period, "period_start": start,
                     "period_end": end, "value": float(value), "obs_status": "A",
                     "conf_status": "F", "release_ref": release_id})
    for i in range(0, len(rows), 10_000):
        conn.execute(insert(o), rows[i:i + 10_000])
    return {"added": len(added), "changed": len(changed), "withdrawn": len(withdrawn)}


def publish(engine: Engine, content: Content, description: str = "") -> tuple[int, dict]:
    """Publish structures and every staged dataflow as one release; return its id and counts."""
    summary: dict[str, dict[str, int]] = {}
    with engine.begin() as conn:
        release_id = conn.execute(insert(public_release).values(
            published_at=datetime.now(timezone.utc), description=description,
        )).inserted_primary_key[0]
        flow_ids = _upsert_structures(conn, content, release_id)
        staged_flows = {r[0] for r in conn.execute(select(staging_observation.c.dataflow).distinct())}
        for flow in content.dataflows.values():
            if flow.ref in staged_flows:
                summary[flow.document["id"]] = _publish_dataflow(conn, flow.ref, flow_ids[flow.ref], release_id)
    return release_id, summary
