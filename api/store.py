"""Read-only access to the public area of the store: the only SQL the API runs.

Everything here reads ``public_*`` tables; nothing here writes, and nothing here
names a staging table (tests check the SQL the API emits).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timezone

from sqlalchemy import Connection, and_, false, func, or_, select

from api.errors import bad_request, not_found
from api.formats import Obs
from api.query import DataQuery, match_code, period_bound, version_key
from store.schema import (
    DIMENSION_COLUMNS,
    public_observation as o,
    public_release as r,
    public_series as s,
    public_structure as st,
)


def state_token(conn: Connection) -> str:
    """Changes whenever anything is published: part of every cache key and ETag."""
    return str(conn.execute(select(func.coalesce(func.max(r.c.id), 0))).scalar_one())


def last_published(conn: Connection) -> datetime | None:
    """When the latest release was published (UTC): the Last-Modified of every response."""
    at = conn.execute(select(func.max(r.c.published_at))).scalar_one()
    if at is not None and at.tzinfo is None:  # SQLite keeps no zone; releases are in UTC
        at = at.replace(tzinfo=timezone.utc)
    return at


def documents(conn: Connection) -> list[dict]:
    return [json.loads(d) for d in conn.execute(select(st.c.document).order_by(st.c.id)).scalars()]


def select_versions(docs: list[dict], version: str) -> list[dict]:
    """Apply a version selector to artefacts sharing agency and id."""
    if version in ("*", "all"):
        return docs
    if version in ("latest", "~", "+"):
        best: dict[tuple, dict] = {}
        for d in docs:
            k = (d["agency"], d["id"])
            if k not in best or version_key(d["version"]) > version_key(best[k]["version"]):
                best[k] = d
        return list(best.values())
    if "+" in version:  # 1.2+ : the latest 1.x at or above 1.2 (semantic versioning)
        floor = version_key(version.replace("+", ""))
        ok = [d for d in docs if version_key(d["version"])[0] == floor[0]
              and version_key(d["version"]) >= floor]
        return select_versions(ok, "latest")
    return [d for d in docs if d["version"] == version]


def find(docs: list[dict], kind: str, agency: str, artefact_id: str, version: str) -> list[dict]:
    kinds = {kind} if kind != "structure" else {"datastructure"}
    hits = [d for d in docs if d["kind"] in kinds
            and agency in ("*", d["agency"]) and artefact_id in ("*", "all", d["id"])]
    return select_versions(hits, version)


def dataflow_bundle(docs: list[dict], agency: str, flow_id: str, version: str) -> tuple[dict, dict, dict]:
    """The dataflow, its DSD and its codelists by component id; 404 when not released."""
    flows = find(docs, "dataflow", agency, flow_id, version)
    if not flows:
        raise not_found(f"dataflow {agency}:{flow_id}({version}) is not published")
    if len(flows) > 1:
        raise bad_request("a data query needs one dataflow: give the agency and version")
    flow = flows[0]
    ref = flow["structure"]
    dsd = next(d for d in docs if d["kind"] == "datastructure" and d["agency"] == ref["agency"]
               and d["id"] == ref["id"] and d["version"] == ref["version"])
    by_ref = {(d["agency"], d["id"], d["version"]): d for d in docs if d["kind"] == "codelist"}
    codelists = {}
    for comp in dsd["dimensions"] + dsd["attributes"]:
        cl = comp.get("codelist")
        if cl:
            codelists[comp["id"]] = by_ref[(cl["agency"], cl["id"], cl["version"])]
    return flow, dsd, codelists


def structure_row_id(conn: Connection, flow: dict) -> int:
    return conn.execute(select(st.c.id).where(
        st.c.kind == "dataflow", st.c.agency == flow["agency"], st.c.artefact_id == flow["id"],
        st.c.version == flow["version"])).scalar_one()


# --- data -----------------------------------------------------------------------------

def _conditions(structure_id: int, dsd: dict, codelists: dict, q: DataQuery) -> list:
    dims = [d["id"] for d in dsd["dimensions"]]
    col = {dim: s.c[DIMENSION_COLUMNS[i]] for i, dim in enumerate(dims)}
    where = [s.c.dataflow_ref == structure_id, o.c.superseded_ref.is_(None)]
    if q.keys:
        alternatives = []
        for key in q.keys:
            parts = [col[dim].in_(sorted(codes)) for dim, codes in zip(dims, key) if codes is not None]
            alternatives.append(and_(*parts) if parts else True)
        where.append(or_(*alternatives))
    td = dsd["time_dimension"]["id"]
    attr_cols = {"OBS_STATUS": o.c.obs_status, "CONF_STATUS": o.c.conf_status}
    for comp, groups in q.filters.items():
        for alts in groups:
            if comp in col:
                allowed = [c["id"] for c in codelists[comp]["codes"]
                           if any(match_code(c["id"], op, v) for op, v in alts)]
                where.append(col[comp].in_(allowed) if allowed else false())
            elif comp == td:
                where.append(or_(*[_period_condition(op, v) for op, v in alts]))
            elif comp in attr_cols and comp in codelists:
                allowed = [c["id"] for c in codelists[comp]["codes"]
                           if any(match_code(c["id"], op, v) for op, v in alts)]
                where.append(attr_cols[comp].in_(allowed) if allowed else false())
            elif comp == dsd["primary_measure"]["id"]:
                where.append(or_(*[_value_condition(op, v) for op, v in alts]))
            else:
                raise bad_request(f"c[{comp}]: {comp} is not a component of {dsd['id']}")
    if q.start:
        where.append(o.c.period_end >= q.start)
    if q.end:
        where.append(o.c.period_start <= q.end)
    if q.updated_after:
        where.append(o.c.release_ref.in_(select(r.c.id).where(r.c.published_at > q.updated_after)))
    return where


def _period_condition(op: str, value: str):
    first: date = period_bound(value, end=False, what=f"c[TIME_PERIOD] {op}:")
    last: date = period_bound(value, end=True, what=f"c[TIME_PERIOD] {op}:")
    match op:
        case "eq":
            return and_(o.c.period_start == first, o.c.period_end == last)
        case "ne":
            return or_(o.c.period_start != first, o.c.period_end != last)
        case "ge":
            return o.c.period_start >= first
        case "gt":
            return o.c.period_start > last
        case "le":
            return o.c.period_end <= last
        case "lt":
            return o.c.period_end < first
    raise bad_request(f"c[TIME_PERIOD] does not take the operator {op!r}")


def _value_condition(op: str, value: str):
    try:
        v = float(value)
    except ValueError:
        raise bad_request(f"c[OBS_VALUE] {op}:{value!r} needs a number") from None
    ops = {"eq": o.c.value == v, "ne": o.c.value != v, "lt": o.c.value < v,
           "le": o.c.value <= v, "gt": o.c.value > v, "ge": o.c.value >= v}
    if op not in ops:
        raise bad_request(f"c[OBS_VALUE] does not take the operator {op!r}")
    return ops[op]


def _limited(structure_id: int, dsd: dict, codelists: dict, q: DataQuery) -> list:
    """The WHERE clause of a data query, with firstNObservations / lastNObservations applied:
    per series, the first / last N observations by period among those the other filters
    keep (both given: the union of the two)."""
    where = _conditions(structure_id, dsd, codelists, q)
    if not (q.first_n or q.last_n):
        return where
    ranks = {}
    if q.first_n:
        ranks["rank_first"] = func.row_number().over(
            partition_by=o.c.series_ref, order_by=(o.c.period_start, o.c.period_end))
    if q.last_n:
        ranks["rank_last"] = func.row_number().over(
            partition_by=o.c.series_ref, order_by=(o.c.period_start.desc(), o.c.period_end.desc()))
    ranked = (select(o.c.id, *[r.label(n) for n, r in ranks.items()])
              .select_from(o.join(s, s.c.id == o.c.series_ref)).where(*where).subquery("ranked"))
    keep = []
    if q.first_n:
        keep.append(ranked.c.rank_first <= q.first_n)
    if q.last_n:
        keep.append(ranked.c.rank_last <= q.last_n)
    return [o.c.id.in_(select(ranked.c.id).where(or_(*keep)))]


def count_observations(conn: Connection, structure_id: int, dsd: dict, codelists: dict,
                       q: DataQuery) -> int:
    """How many observations the query's result holds (checked against the response limit)."""
    return conn.execute(select(func.count()).select_from(o.join(s, s.c.id == o.c.series_ref))
                        .where(*_limited(structure_id, dsd, codelists, q))).scalar_one()


def data_outline(conn: Connection, structure_id: int, dsd: dict, codelists: dict,
                 q: DataQuery) -> tuple[list[list[str]], list[str]]:
    """The codes per dimension and the periods that the query's result contains."""
    n = len(dsd["dimensions"])
    dcols = [s.c[c] for c in DIMENSION_COLUMNS[:n]]
    where = _limited(structure_id, dsd, codelists, q)
    base = select(*dcols).select_from(o.join(s, s.c.id == o.c.series_ref)).where(*where).distinct()
    present: list[set[str]] = [set() for _ in range(n)]
    for row in conn.execute(base):
        for i, code in enumerate(row):
            present[i].add(code)
    codes = []
    for i, dim in enumerate(dsd["dimensions"]):
        order = [c["id"] for c in codelists[dim["id"]]["codes"]]
        codes.append([c for c in order if c in present[i]])
    period_rows = conn.execute(
        select(o.c.time_period, o.c.period_start, o.c.period_end)
        .select_from(o.join(s, s.c.id == o.c.series_ref)).where(*where).distinct()
        .order_by(o.c.period_start, o.c.period_end)).all()
    return codes, [p[0] for p in period_rows]


def data_rows(conn: Connection, structure_id: int, dsd: dict, codelists: dict,
              q: DataQuery, *, dimension_at_observation: str | None = None) -> Iterator[Obs]:
    """Observations streamed from the database, grouped for the requested view.

    Time series (default, TIME_PERIOD at the observation level): series-key then period
    order. Another dimension at the observation level (a cross-section): ordered by the
    other dimensions, then the period, then that dimension, so that each cross-section's
    rows are adjacent. AllDimensions: series-key then period order (the view is flat).
    With ``q.series_only`` (detail=serieskeysonly / nodata): one row per series that has
    matching observations, in key order, with period and value None."""
    n = len(dsd["dimensions"])
    dcols = [s.c[c] for c in DIMENSION_COLUMNS[:n]]
    where = _limited(structure_id, dsd, codelists, q)
    join = o.join(s, s.c.id == o.c.series_ref)
    if q.series_only:
        stmt = (select(*dcols).select_from(join).where(*where).distinct()
                .order_by(*dcols))
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(stmt)
        for row in result:
            yield Obs(tuple(row), None, None, None, None)
        return
    dims = [d["id"] for d in dsd["dimensions"]]
    if dimension_at_observation in dims:
        at = dims.index(dimension_at_observation)
        order = [*[c for i, c in enumerate(dcols) if i != at], o.c.period_start, o.c.period_end, dcols[at]]
    else:
        order = [s.c.series_key, o.c.period_start]
    stmt = (select(*dcols, o.c.time_period, o.c.value, o.c.obs_status, o.c.conf_status)
            .select_from(join).where(*where).order_by(*order))
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(stmt)
    for row in result:
        yield Obs(tuple(row[:n]), row[n], row[n + 1], row[n + 2], row[n + 3])
