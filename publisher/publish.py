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
from sqlalchemy import Engine, func, insert, select, update

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


def _upsert_structures(conn, content: Content, release_id: int,
                       release_time: datetime | None = None) -> dict[str, int]:
    """Write every structure document that is new or changed, as a new version stamped
    with the release (the previous version is superseded by it, so it stays visible until
    the release time); return dataflow ref -> its identity row (the first version)."""
    current = {(r.kind, r.agency, r.artefact_id, r.version): (r.id, r.document, r.release_ref)
               for r in conn.execute(select(public_structure).where(public_structure.c.superseded_ref.is_(None)))}
    first = {(r.kind, r.agency, r.artefact_id, r.version): r.id for r in conn.execute(
        select(public_structure.c.kind, public_structure.c.agency, public_structure.c.artefact_id,
               public_structure.c.version, func.min(public_structure.c.id).label("id"))
        .group_by(public_structure.c.kind, public_structure.c.agency, public_structure.c.artefact_id,
                  public_structure.c.version))}
    times = dict(conn.execute(select(public_release.c.id, public_release.c.release_time)).all())
    flow_ids: dict[str, int] = {}
    for doc in content.documents:
        key = (doc["kind"], doc["agency"], doc["id"], doc["version"])
        text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
        if key not in current or current[key][1] != text:
            if key in current:
                sid, _, by = current[key]
                later = times.get(by)
                if release_time is not None and later is not None and _utc(later) > _utc(release_time):
                    raise ReleaseOrder(f"{doc['kind']} {urn(doc)} was changed by release {by}, which goes out "
                                       "later than this one: releases of the same structure go out in order")
                conn.execute(update(public_structure).where(public_structure.c.id == sid)
                             .values(superseded_ref=release_id))
            sid = conn.execute(insert(public_structure).values(
                kind=doc["kind"], agency=doc["agency"], artefact_id=doc["id"],
                version=doc["version"], document=text, release_ref=release_id,
            )).inserted_primary_key[0]
            first.setdefault(key, sid)
        if doc["kind"] == "dataflow":
            flow_ids[urn(doc)] = first[key]
    return flow_ids


def urn(doc: dict) -> str:
    return f"{doc['agency']}:{doc['id']}({doc['version']})"


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


class ReleaseOrder(RuntimeError):
    """Writing this release would supersede a release that goes out later."""


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


def earlier_frames(conn, content: Content, exclude_release: int | None = None) -> dict[str, pd.DataFrame]:
    """Every value the public area holds, in every vintage (earlier releases stay online:
    asOf, includeHistory), but those of `exclude_release`: series_key, time_period, value."""
    o, s, st = public_observation, public_series, public_structure
    out = {}
    for flow_id, flow in content.dataflows.items():
        doc = flow.document
        stmt = (select(s.c.series_key, o.c.time_period, o.c.value).distinct()
                .join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref)
                .where(st.c.kind == "dataflow", st.c.agency == doc["agency"], st.c.artefact_id == doc["id"],
                       st.c.version == doc["version"], o.c.value.is_not(None)))
        if exclude_release is not None:
            stmt = stmt.where(o.c.release_ref != exclude_release)
        rows = conn.execute(stmt).all()
        if rows:
            out[flow_id] = pd.DataFrame(rows, columns=["series_key", "time_period", "value"])
    return out


def audit(conn, content: Content, release_id: int | None = None) -> list:
    """Audit what the public area holds against the true values in staging, with every
    earlier vintage still online (all but `release_id`'s, when auditing that release)."""
    staged = staged_frames(conn, content)
    return audit_all(list(content.dataflows.values()), public_frames(conn, content, staged),
                     earlier_frames(conn, content, exclude_release=release_id))


def _publish_dataflow(conn, protected: pd.DataFrame, structure_id: int, release_id: int,
                      provisional_from: str | None = None) -> dict[str, int]:
    """`protected`: series_key, time_period, public_value (NaN = withheld). Observations
    whose period starts on or after `provisional_from`'s start are provisional (OBS_STATUS
    P), the others final (A); a withheld one is Q whatever its period. A change of value
    or of status (P becoming A when a period is finalised) is a revision."""
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

    bounds_cache: dict[str, tuple] = {}

    def bounds(period: str) -> tuple:
        if period not in bounds_cache:
            bounds_cache[period] = periods.bounds(period)
        return bounds_cache[period]

    first_provisional = periods.bounds(provisional_from)[0] if provisional_from else None
    withheld = staged["value"].isna()
    provisional = (staged["time_period"].map(lambda p: bounds(p)[0] >= first_provisional)
                   if first_provisional else pd.Series(False, index=staged.index))
    staged["status"] = "A"
    staged.loc[provisional.astype(bool), "status"] = "P"
    staged.loc[withheld, "status"] = "Q"

    o, s = public_observation, public_series
    current = pd.DataFrame(conn.execute(
        select(o.c.id, s.c.series_key, o.c.time_period, o.c.value, o.c.obs_status)
        .join(s, s.c.id == o.c.series_ref)
        .where(s.c.dataflow_ref == structure_id, o.c.superseded_ref.is_(None))).all(),
        columns=["id", "series_key", "time_period", "old_value", "old_status"])
    merged = staged.merge(current, on=["series_key", "time_period"], how="outer", indicator=True)
    same = (((merged["value"] == merged["old_value"]) | (merged["value"].isna() & merged["old_value"].isna()))
            & (merged["status"] == merged["old_status"]))
    changed = merged[(merged["_merge"] == "both") & ~same]
    added = merged[merged["_merge"] == "left_only"]
    withdrawn = merged[merged["_merge"] == "right_only"]

    superseded = [int(i) for i in pd.concat([changed["id"], withdrawn["id"]])]
    for i in range(0, len(superseded), 5_000):
        conn.execute(update(o).where(o.c.id.in_(superseded[i:i + 5_000]))
                     .values(superseded_ref=release_id))
    to_insert = pd.concat([changed, added])
    rows = []
    for key, period, value, status in zip(to_insert["series_key"], to_insert["time_period"],
                                          to_insert["value"], to_insert["status"]):
        start, end = bounds(period)
        rows.append({"series_ref": series[key], "time_period": period, "period_start": start,
                     "period_end": end, "value": None if pd.isna(value) else float(value),
                     "obs_status": status, "conf_status": "C" if status == "Q" else "F",
                     "release_ref": release_id})
    for i in range(0, len(rows), 10_000):
        conn.execute(insert(o), rows[i:i + 10_000])
    return {"added": len(added), "revised": len(changed), "withdrawn": len(withdrawn)}


def publish(engine: Engine, content: Content, description: str = "") -> tuple[int, dict]:
    """Publish structures and every staged dataflow as one release, at once: planned,
    protected, audited, written and published now (publisher.releases.publish_now).
    Return its id and, per dataflow, what it added, revised, withdrew and withheld."""
    from publisher.releases import publish_now

    return publish_now(engine, content, description)


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
