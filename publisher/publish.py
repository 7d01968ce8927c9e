"""Publish: what is staged goes into the public area as one release, atomically.

Disclosure control sits here, between the staging area (true values) and the public
area (what the API reads): each dataflow is protected under its declared method
(publisher.disclosure), what is about to be public is audited inside the same
transaction, and the release is refused (nothing written) when any unsafe cell could
be worked out. A withheld observation is stored with no value, OBS_STATUS Q and
CONF_STATUS C; whether it was withheld first or second is logged only in the staging
area (staging_protection).

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
    staging_protection,
)
from publisher.disclosure.protect import audit_all, protect_all


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


class PublicationRefused(RuntimeError):
    """The audit found unsafe cells; `findings` says which."""

    def __init__(self, findings: list):
        self.findings = findings
        unsafe = [f for f in findings if not f.safe]
        super().__init__(f"release refused: {len(unsafe)} unsafe cell(s) could be worked out, e.g. "
                         + "; ".join(f"{f.cell} in [{f.low:g}, {f.high:g}]" for f in unsafe[:3]))


def staged_frames(conn, content: Content) -> dict[str, pd.DataFrame]:
    """True values per staged dataflow: series_key, time_period, value, cell_key."""
    s = staging_observation
    out = {}
    for flow_id, flow in content.dataflows.items():
        rows = conn.execute(select(s.c.series_key, s.c.time_period, s.c.value, s.c.cell_key)
                            .where(s.c.dataflow == flow.ref)).all()
        if rows:
            out[flow_id] = pd.DataFrame(rows, columns=["series_key", "time_period", "value", "cell_key"])
    return out


def public_frames(conn, content: Content, staged: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """What the API serves now (current observations), next to the true values."""
    o, s, st = public_observation, public_series, public_structure
    out = {}
    for flow_id, flow in content.dataflows.items():
        doc = flow.document
        rows = conn.execute(
            select(s.c.series_key, o.c.time_period, o.c.value)
            .join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref)
            .where(st.c.kind == "dataflow", st.c.agency == doc["agency"], st.c.artefact_id == doc["id"],
                   st.c.version == doc["version"], o.c.superseded_ref.is_(None))).all()
        if not rows or flow_id not in staged:
            continue
        public = pd.DataFrame(rows, columns=["series_key", "time_period", "public_value"])
        out[flow_id] = public.merge(staged[flow_id][["series_key", "time_period", "value"]],
                                    on=["series_key", "time_period"], how="left")
    return out


def audit(conn, content: Content) -> list:
    """Audit what the public area holds against the true values in staging."""
    staged = staged_frames(conn, content)
    return audit_all(list(content.dataflows.values()), public_frames(conn, content, staged))


def _publish_dataflow(conn, protected: pd.DataFrame, structure_id: int, release_id: int) -> dict[str, int]:
    """`protected`: series_key, time_period, public_value (NaN = withheld)."""
    staged = protected[["series_key", "time_period", "public_value"]].rename(columns={"public_value": "value"})
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
    same = (merged["value"] == merged["old_value"]) | (merged["value"].isna() & merged["old_value"].isna())
    changed = merged[(merged["_merge"] == "both") & ~same]
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
        withheld = pd.isna(value)
        rows.append({"series_ref": series[key], "time_period": period, "period_start": start,
                     "period_end": end, "value": None if withheld else float(value),
                     "obs_status": "Q" if withheld else "A", "conf_status": "C" if withheld else "F",
                     "release_ref": release_id})
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
        staged = staged_frames(conn, content)
        protected = protect_all(list(content.dataflows.values()), staged)
        for flow_id, frame in protected.items():
            flow = content.dataflow(flow_id)
            summary[flow_id] = _publish_dataflow(conn, frame, flow_ids[flow.ref], release_id)
            summary[flow_id]["withheld"] = int(frame["public_value"].isna().sum())
            _log(conn, release_id, flow, frame)
        findings = audit(conn, content)
        if any(not f.safe for f in findings):
            raise PublicationRefused(findings)  # the transaction rolls back: nothing is published
    return release_id, summary


def _log(conn, release_id: int, flow, frame: pd.DataFrame) -> None:
    """The private record of what disclosure control did (never read by the API)."""
    method = flow.document["disclosure"]["method"]
    rows = [{"release_ref": release_id, "dataflow": flow.ref, "series_key": k, "time_period": p,
             "true_value": float(v), "public_value": None if pd.isna(pv) else float(pv), "status": st,
             "method": method}
            for k, p, v, pv, st in zip(frame["series_key"], frame["time_period"], frame["value"],
                                       frame["public_value"], frame["status"])]
    for i in range(0, len(rows), 10_000):
        conn.execute(insert(staging_protection), rows[i:i + 10_000])
