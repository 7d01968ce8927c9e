"""Read-only access to the public area of the store: the only SQL the API runs.

Everything here reads ``public_*`` tables; nothing here writes, and nothing here
names a staging table (tests check the SQL the API emits).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np
from sqlalchemy import Connection, and_, false, func, or_, select, true

from api.errors import bad_request, not_found
from api.formats import DataSetPart, Obs
from api.query import DataQuery, match_code, period_bound, version_key
from store.periods import bounds as period_bounds
from store.schema import (
    DIMENSION_COLUMNS,
    public_observation as o,
    public_release as r,
    public_release_dataflow as rd,
    public_series as s,
    public_state as state,
    public_structure as st,
)


# --- releases and the embargo ----------------------------------------------------------------

@dataclass(frozen=True)
class ReleaseInfo:
    id: int
    status: str
    release_time: datetime  # UTC
    dataflows: frozenset[str]  # AGENCY:ID(VERSION) of the dataflows it carries


@dataclass(frozen=True)
class Releases:
    """Every release of the store and the publisher's change counter: with a moment in
    time, what is public then. A release is public from its release time on (unless it
    is a draft, which has written nothing); a row of the public area is visible at T when
    its release is public at T and the release that superseded it is not (store.schema)."""

    change: int
    all: tuple[ReleaseInfo, ...]  # in release-time order

    def public(self, at: datetime) -> list[ReleaseInfo]:
        return [x for x in self.all if x.status != "draft" and x.release_time <= at]

    def hidden(self, at: datetime, dataflow: str | None = None) -> frozenset[int]:
        """The releases whose rows are not visible at `at` (of `dataflow`'s, if given):
        scheduled for later, so embargoed."""
        return frozenset(x.id for x in self.all if x.status != "draft" and x.release_time > at
                         and (dataflow is None or dataflow in x.dataflows))

    def token(self, at: datetime) -> str:
        """Changes whenever anything is published or becomes public: part of every cache
        key and ETag. The counter changes with every publisher transaction; the number of
        public releases when a release time passes, with no transaction at all."""
        return f"{self.change}.{len(self.public(at))}"

    def next_release(self, at: datetime) -> datetime | None:
        """When the next scheduled release becomes public: what is cached now is stale then."""
        return min((x.release_time for x in self.all if x.status != "draft" and x.release_time > at),
                   default=None)

    def last_published(self, at: datetime) -> datetime | None:
        return max((x.release_time for x in self.public(at)), default=None)

    def updated_after(self, at: datetime, after: datetime) -> list[int]:
        """The public releases published after `after` (SDMX updatedAfter)."""
        return [x.id for x in self.public(at) if x.release_time > after]

    def time_of(self, release_id: int) -> datetime | None:
        return next((x.release_time for x in self.all if x.id == release_id), None)


def as_utc(at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:  # SQLite keeps no zone; releases are in UTC
        at = at.replace(tzinfo=timezone.utc)
    return at


def releases(conn: Connection) -> Releases:
    change = conn.execute(select(func.coalesce(func.max(state.c.change), 0))).scalar_one()
    carried: dict[int, set[str]] = {}
    for release_ref, flow in conn.execute(select(rd.c.release_ref, rd.c.dataflow)):
        carried.setdefault(release_ref, set()).add(flow)
    return Releases(int(change), tuple(
        ReleaseInfo(row.id, row.status, as_utc(row.release_time), frozenset(carried.get(row.id, ())))
        for row in conn.execute(select(r.c.id, r.c.status, r.c.release_time).order_by(r.c.release_time, r.c.id))))


def change_counter(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(state.c.change), 0))).scalar_one())


def visible(hidden: frozenset[int], table=o):
    """The rows of a versioned table visible when the releases `hidden` are not public:
    published by a public release and not superseded by one. With nothing embargoed this
    is "not superseded", which the partial index on current observations serves."""
    if not hidden:
        return table.c.superseded_ref.is_(None)
    h = sorted(hidden)
    return and_(table.c.release_ref.not_in(h),
                or_(table.c.superseded_ref.is_(None), table.c.superseded_ref.in_(h)))


def documents(conn: Connection, hidden: frozenset[int] = frozenset()) -> list[dict]:
    return [json.loads(d) for d in conn.execute(
        select(st.c.document).where(visible(hidden, st)).order_by(st.c.id)).scalars()]


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
    """The dataflow's identity row (its first stored version), which its series reference."""
    return conn.execute(select(func.min(st.c.id)).where(
        st.c.kind == "dataflow", st.c.agency == flow["agency"], st.c.artefact_id == flow["id"],
        st.c.version == flow["version"])).scalar_one()


# --- the series of a dataflow, in memory ----------------------------------------------------

@dataclass(frozen=True)
class SeriesIndex:
    """The current series of one dataflow, in series-key order, with their observation
    counts: read once per snapshot (api.snapshot), so that a data query picks its series
    here, with array operations, rather than by scanning public_series every time."""

    ids: np.ndarray  # public_series.id
    codes: list[np.ndarray]  # per dimension: each series' code, as a position in `values`
    values: list[list[str]]  # per dimension: the codes that occur
    positions: list[dict[str, int]]  # per dimension: code -> position in `values`
    counts: np.ndarray  # current observations per series

    def matching(self, dims: list[str], codelists: dict, q: DataQuery) -> np.ndarray | None:
        """Which series the query's keys and c[DIM] filters keep (a boolean mask), or None
        when it names no dimension (every series)."""
        mask = None
        if q.keys:
            mask = np.zeros(len(self.ids), dtype=bool)
            for key in q.keys:
                one = np.ones(len(self.ids), dtype=bool)
                for i, codes in enumerate(key):
                    if codes is not None:
                        one &= self._isin(i, codes)
                mask |= one
        for comp, groups in q.filters.items():
            if comp in dims:
                i = dims.index(comp)
                for alts in groups:
                    allowed = [c["id"] for c in codelists[comp]["codes"]
                               if any(match_code(c["id"], op, v) for op, v in alts)]
                    keep = self._isin(i, allowed)
                    mask = keep if mask is None else mask & keep
        return mask

    def outline_codes(self, dsd: dict, codelists: dict) -> list[list[str]]:
        """Per dimension, the codes of the series that have observations, in codelist order."""
        present = self.counts > 0
        codes = []
        for i, dim in enumerate(dsd["dimensions"]):
            used = {self.values[i][p] for p in np.unique(self.codes[i][present])}
            codes.append([c["id"] for c in codelists[dim["id"]]["codes"] if c["id"] in used])
        return codes

    def key(self, position: int) -> tuple[str, ...]:
        """The series key of the series at `position`."""
        return tuple(values[codes[position]] for values, codes in zip(self.values, self.codes))

    def positions_of(self, ids: np.ndarray) -> np.ndarray:
        """The positions of series ids (public_series.id) in this index."""
        order = self._order
        return order[np.searchsorted(self.ids, ids, sorter=order)]

    @property
    def _order(self) -> np.ndarray:
        return self.__dict__.setdefault("_sorter", np.argsort(self.ids, kind="stable"))

    def _isin(self, dim: int, codes: Iterable[str]) -> np.ndarray:
        wanted = [self.positions[dim][c] for c in codes if c in self.positions[dim]]
        return np.isin(self.codes[dim], np.asarray(wanted, dtype=self.codes[dim].dtype))


def series_index(conn: Connection, structure_id: int, n_dims: int,
                 hidden: frozenset[int] = frozenset()) -> SeriesIndex:
    """The series with observations visible when the releases `hidden` are not public."""
    dcols = [s.c[c] for c in DIMENSION_COLUMNS[:n_dims]]
    rows = conn.execute(
        select(s.c.id, *dcols, func.count(o.c.id)).select_from(s.join(o, o.c.series_ref == s.c.id))
        .where(s.c.dataflow_ref == structure_id, visible(hidden))
        .group_by(s.c.id, *dcols, s.c.series_key).order_by(s.c.series_key)).all()
    values: list[list[str]] = [[] for _ in range(n_dims)]
    positions: list[dict[str, int]] = [{} for _ in range(n_dims)]
    codes = [np.empty(len(rows), dtype=np.int32) for _ in range(n_dims)]
    for n, row in enumerate(rows):
        for i in range(n_dims):
            code = row[1 + i]
            pos = positions[i].get(code)
            if pos is None:
                pos = positions[i][code] = len(values[i])
                values[i].append(code)
            codes[i][n] = pos
    return SeriesIndex(np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)), codes,
                       values, positions, np.fromiter((row[-1] for row in rows), dtype=np.int64, count=len(rows)))


def whole_dataflow(q: DataQuery) -> bool:
    """True when the query keeps every current observation of the dataflow (no key, filter,
    period, first/last N or page)."""
    return (not q.keys and not q.filters and q.start is None and q.end is None and q.updated_after is None
            and not q.first_n and not q.last_n and not q.offset and q.limit is None and not q.series_only
            and not q.include_history)


def flow_periods(conn: Connection, structure_id: int, hidden: frozenset[int] = frozenset()) -> list[str]:
    """The periods of a dataflow's current observations, in time order (the outline of a
    whole-dataflow answer, with SeriesIndex.outline_codes)."""
    return [p[0] for p in conn.execute(
        select(o.c.time_period, o.c.period_start, o.c.period_end)
        .select_from(o.join(s, s.c.id == o.c.series_ref))
        .where(s.c.dataflow_ref == structure_id, visible(hidden)).distinct()
        .order_by(o.c.period_start, o.c.period_end))]


#: Up to this many series, a query names them by id (public_series.id IN ...); above it,
#: by their codes (d1 ... dN IN ...), which keeps statements short for wide queries.
MAX_SERIES_BY_ID = 2000


# --- data -----------------------------------------------------------------------------

def _conditions(structure_id: int, dsd: dict, codelists: dict, q: DataQuery,
                series_ids: np.ndarray | None = None) -> list:
    """The WHERE clause of a data query. With `series_ids` (the series the key and the
    c[DIM] filters keep, from the SeriesIndex) the dimension conditions are those ids."""
    dims = [d["id"] for d in dsd["dimensions"]]
    col = {dim: s.c[DIMENSION_COLUMNS[i]] for i, dim in enumerate(dims)}
    # Which vintage: the rows visible now or asOf (q.hidden: the releases not public then),
    # or with includeHistory every row published by a release public then.
    vintage = ((o.c.release_ref.not_in(sorted(q.hidden)) if q.hidden else true()) if q.include_history
               else visible(q.hidden))
    if series_ids is not None:  # the ids imply the dataflow; the planner starts from them
        where = [s.c.id.in_([int(i) for i in series_ids]), vintage]
    else:
        where = [s.c.dataflow_ref == structure_id, vintage]
    if q.keys and series_ids is None:
        alternatives = []
        for key in q.keys:
            parts = [col[dim].in_(sorted(codes)) for dim, codes in zip(dims, key) if codes is not None]
            alternatives.append(and_(*parts) if parts else True)
        where.append(or_(*alternatives))
    td = dsd["time_dimension"]["id"]
    attr_cols = {"OBS_STATUS": o.c.obs_status, "CONF_STATUS": o.c.conf_status}
    for comp, groups in q.filters.items():
        for alts in groups:
            if comp in col and series_ids is not None:
                continue  # in the series ids
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
        if q.updated_in is None:
            raise ValueError("updatedAfter needs the releases published since (DataQuery.updated_in)")
        where.append(o.c.release_ref.in_(q.updated_in) if q.updated_in else false())
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


def _limited(structure_id: int, dsd: dict, codelists: dict, q: DataQuery,
             series_ids: np.ndarray | None = None) -> list:
    """The WHERE clause of a data query, with firstNObservations / lastNObservations applied
    (per series, the first / last N observations by period among those the other filters
    keep; both given: the union of the two), then offset / limit (a page of what remains,
    in series-key then period order)."""
    where = _conditions(structure_id, dsd, codelists, q, series_ids)
    if q.first_n or q.last_n:
        where = _first_last(where, q)
    if q.offset or q.limit:  # a page of the answer, in its order
        page = (select(o.c.id).select_from(o.join(s, s.c.id == o.c.series_ref)).where(*where)
                .order_by(s.c.series_key, o.c.period_start).offset(q.offset or None).limit(q.limit))
        where = [o.c.id.in_(page)]
    return where


def _first_last(where: list, q: DataQuery) -> list:
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
                       q: DataQuery, series_ids: np.ndarray | None = None) -> int:
    """How many observations the query's result holds (checked against the response limit)."""
    return conn.execute(select(func.count()).select_from(o.join(s, s.c.id == o.c.series_ref))
                        .where(*_limited(structure_id, dsd, codelists, q, series_ids))).scalar_one()


def data_outline(conn: Connection, structure_id: int, dsd: dict, codelists: dict,
                 q: DataQuery, series_ids: np.ndarray | None = None) -> tuple[list[list[str]], list[str]]:
    """The codes per dimension and the periods that the query's result contains."""
    n = len(dsd["dimensions"])
    dcols = [s.c[c] for c in DIMENSION_COLUMNS[:n]]
    where = _limited(structure_id, dsd, codelists, q, series_ids)
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
              q: DataQuery, *, dimension_at_observation: str | None = None,
              series_ids: np.ndarray | None = None) -> Iterator[Obs]:
    """Observations streamed from the database, grouped for the requested view.

    Time series (default, TIME_PERIOD at the observation level): series-key then period
    order. Another dimension at the observation level (a cross-section): ordered by the
    other dimensions, then the period, then that dimension, so that each cross-section's
    rows are adjacent. AllDimensions: series-key then period order (the view is flat).
    With ``q.series_only`` (detail=serieskeysonly / nodata): one row per series that has
    matching observations, in key order, with period and value None."""
    n = len(dsd["dimensions"])
    dcols = [s.c[c] for c in DIMENSION_COLUMNS[:n]]
    where = _limited(structure_id, dsd, codelists, q, series_ids)
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


def history(conn: Connection, structure_id: int, dsd: dict, codelists: dict, q: DataQuery,
            time_of) -> list[DataSetPart]:
    """Every vintage of the observations a query selects (includeHistory), as data sets in
    release order: per release, a Replace set with the observations it published (valid
    from its release time) and a Delete set with those it withdrew (valid until then).
    `time_of(release_id)`: the release's time. Releases hidden from the query (embargoed,
    or after asOf) are left out, as are their withdrawals."""
    n = len(dsd["dimensions"])
    dcols = [s.c[c] for c in DIMENSION_COLUMNS[:n]]
    where = _limited(structure_id, dsd, codelists, q)
    join = o.join(s, s.c.id == o.c.series_ref)
    published: dict[int, list[Obs]] = {}
    for row in conn.execute(select(o.c.release_ref, *dcols, o.c.time_period, o.c.value, o.c.obs_status,
                                   o.c.conf_status).select_from(join).where(*where)
                            .order_by(o.c.release_ref, s.c.series_key, o.c.period_start)):
        published.setdefault(row[0], []).append(Obs(tuple(row[1:n + 1]), *row[n + 1:]))
    newer = o.alias("newer")
    withdrawn_by = [o.c.superseded_ref.is_not(None),
                    ~select(newer.c.id).where(newer.c.series_ref == o.c.series_ref,
                                              newer.c.time_period == o.c.time_period,
                                              newer.c.release_ref == o.c.superseded_ref).exists()]
    if q.hidden:
        withdrawn_by.append(o.c.superseded_ref.not_in(sorted(q.hidden)))
    withdrawn: dict[int, list[Obs]] = {}
    for row in conn.execute(select(o.c.superseded_ref, *dcols, o.c.time_period).select_from(join)
                            .where(*where, *withdrawn_by).order_by(o.c.superseded_ref, s.c.series_key, o.c.period_start)):
        withdrawn.setdefault(row[0], []).append(Obs(tuple(row[1:n + 1]), row[n + 1], None, None, None))
    parts = []
    for release in sorted(set(published) | set(withdrawn), key=lambda i: (time_of(i), i)):
        if release in published:
            parts.append(DataSetPart("Replace", published[release], valid_from=time_of(release)))
        if release in withdrawn:
            parts.append(DataSetPart("Delete", withdrawn[release], valid_to=time_of(release)))
    return parts


def outline_of(rows: list[Obs], dsd: dict, codelists: dict) -> tuple[list[list[str]], list[str]]:
    """The outline (codes per dimension in codelist order, periods in time order) of rows
    already read: what data_outline asks the database for, without asking it."""
    present = [set(codes) for codes in zip(*(r.key for r in rows))] if rows else []
    codes = []
    for i, dim in enumerate(dsd["dimensions"]):
        seen = present[i] if present else set()
        codes.append([c["id"] for c in codelists[dim["id"]]["codes"] if c["id"] in seen])
    periods = sorted({r.period for r in rows if r.period is not None}, key=period_bounds)
    return codes, periods


# --- observations as Arrow record batches (large answers) ------------------------------------

class StaleState(Exception):
    """The store moved to another release between the snapshot and this read."""


def arrow_reader(engine_url) -> tuple[str, str] | None:
    """(ADBC driver module, connection URI) for the store, or None when no ADBC driver
    for its database is installed (the rows are then read through SQLAlchemy)."""
    name = engine_url.get_backend_name()
    try:
        if name == "sqlite":
            import adbc_driver_sqlite.dbapi  # noqa: F401
            path = engine_url.database or ""
            path = path.removeprefix("file:").split("?")[0]
            return ("adbc_driver_sqlite.dbapi", f"file:{path}?mode=ro") if path else None
        if name == "postgresql":
            import adbc_driver_postgresql.dbapi  # noqa: F401
            return ("adbc_driver_postgresql.dbapi",
                    engine_url.set(drivername="postgresql").render_as_string(hide_password=False))
    except ImportError:
        return None
    return None


def _positional(stmt, backend: str) -> tuple[str, list]:
    """`stmt` as SQL text with positional parameters in the ADBC driver's style."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = (sqlite.dialect(paramstyle="qmark") if backend == "sqlite"
               else postgresql.psycopg.dialect(paramstyle="numeric_dollar"))
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    values = [params[name] for name in compiled.positiontup]
    if backend == "sqlite":  # SQLAlchemy keeps dates in SQLite as ISO text
        values = [v.isoformat() if isinstance(v, date) else v for v in values]
    return str(compiled), values


def data_batches(reader: tuple[str, str], change: int, structure_id: int, dsd: dict, codelists: dict,
                 q: DataQuery, series_ids: np.ndarray | None = None,
                 batch_rows: int = 65536) -> Iterator:
    """The time-series observations of a data query as Arrow record batches (columns
    series_ref, time_period, value, obs_status, conf_status), in series-key then period
    order: what data_rows yields, read by the database's ADBC driver into columns, several
    times faster than row objects for a large answer.

    The read runs in its own read-only transaction, which must see the store as the
    snapshot the response is built on saw it (the publisher's change counter `change`):
    StaleState is raised, before any batch, when it does not."""
    import importlib

    module, uri = reader
    backend = "sqlite" if "sqlite" in module else "postgresql"
    where = _limited(structure_id, dsd, codelists, q, series_ids)
    stmt = (select(o.c.series_ref, o.c.time_period, o.c.value, o.c.obs_status, o.c.conf_status)
            .select_from(o.join(s, s.c.id == o.c.series_ref)).where(*where)
            .order_by(s.c.series_key, o.c.period_start))
    sql, params = _positional(stmt, backend)
    token_sql, token_params = _positional(select(func.coalesce(func.max(state.c.change), 0)), backend)
    dbapi = importlib.import_module(module)
    conn = dbapi.connect(uri, autocommit=True)
    cur = conn.cursor()
    try:
        if backend == "sqlite":
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
            cur.execute("BEGIN")
        else:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute(token_sql, token_params)
        if int(cur.fetchone()[0]) != change:
            raise StaleState(change)
        cur.execute(sql, params)
        yield from cur.fetch_record_batch()
    finally:
        try:
            cur.close()
        finally:
            conn.close()
