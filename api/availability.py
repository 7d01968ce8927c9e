"""Data availability: which codes the data matching a query hold (REST v2 `/availability`,
REST v1.5 `/availableconstraint`), answered as an Actual content constraint.

Two modes (SDMX REST, doc/availability.md):

* ``exact``: per dimension, the codes that occur in the data the query selects;
* ``available``: per dimension, the codes still worth selecting: those that occur in the
  data selected by the query *without its own constraint on that dimension* (keys and
  ``c[...]`` filters on the other dimensions, time, attributes and values still apply).

Both carry the time range and the number of series and observations of the data the
query itself selects, as .Stat Suite's NSI web service does (``series_count`` and
``obs_count`` annotations of type ``sdmx_metrics``). Withheld observations are public
rows without a value: they count, as they are in every data response.

Like api.store, this reads the ``public_*`` tables only; the conditions are api.store's,
so an availability answer and a data response to the same query always agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, func, select

from api import query as q
from api.errors import bad_request, not_found, not_implemented
from api.store import _conditions
from store.documents import urn_ref
from store.schema import DIMENSION_COLUMNS, public_observation as o, public_series as s

MODES = ("exact", "available")
#: references= values for availability (sdmx-rest: dataproviderscheme and valuelist are not modelled).
REFERENCES = ("none", "all", "dataflow", "datastructure", "codelist", "conceptscheme")


@dataclass
class Availability:
    """What a constraint message needs; plain data."""

    dataflow: dict
    dsd: dict
    codelists: dict[str, dict]
    mode: str
    # (dimension id, codes in codelist order), for the dimensions asked for (componentId)
    regions: list[tuple[str, list[str]]]
    time_range: tuple[date, date] | None  # None when componentId leaves time out
    series_count: int
    obs_count: int
    references: str = "none"
    lang: str = "en"
    extra: dict = field(default_factory=dict)


def check_mode(mode: str | None) -> str:
    mode = mode or "exact"
    if mode not in MODES:
        raise bad_request(f"mode={mode} is not one of {', '.join(MODES)}")
    return mode


def check_references(references: str | None) -> str:
    references = references or "none"
    for r in references.split(","):
        if r in ("dataproviderscheme", "valuelist"):
            raise not_implemented(f"references={r}: this service models no {r}s")
        if r not in REFERENCES:
            raise bad_request(f"references={r} is not one of {', '.join(REFERENCES)}")
    return references


def check_components(component: str | None, dsd: dict) -> list[str]:
    """componentId: `*`/`all`/none for every dimension, else dimension ids (`,` for several).

    The time dimension may be named: it stands for the time range."""
    dims = [d["id"] for d in dsd["dimensions"]] + [dsd["time_dimension"]["id"]]
    if component in (None, "", "*", "all"):
        return dims
    out = []
    for c in component.split(","):
        q.check_id(c, "componentId")
        if c not in dims:
            raise bad_request(f"componentId {c} is not a dimension of {dsd['id']} "
                              f"(its dimensions: {', '.join(dims)})")
        out.append(c)
    return out


def _base(structure_id: int, dsd: dict, codelists: dict, dq: q.DataQuery):
    return (select().select_from(o.join(s, s.c.id == o.c.series_ref))
            .where(*_conditions(structure_id, dsd, codelists, dq)))


def without(dq: q.DataQuery, index: int, dim_id: str) -> q.DataQuery:
    """The query with its constraint on one dimension dropped (keys and c[...] alike)."""
    keys = [[None if i == index else codes for i, codes in enumerate(key)] for key in dq.keys]
    if keys and any(all(c is None for c in key) for key in keys):
        keys = []  # one key now selects everything: the union is everything
    filters = {k: v for k, v in dq.filters.items() if k != dim_id}
    return dataclasses.replace(dq, keys=keys, filters=filters)


def constrains(dq: q.DataQuery, index: int, dim_id: str) -> bool:
    return dim_id in dq.filters or any(key[index] is not None for key in dq.keys)


def availability(conn: Connection, structure_id: int, flow: dict, dsd: dict, codelists: dict,
                 dq: q.DataQuery, mode: str, components: list[str]) -> Availability:
    """Counts, time range and codes per dimension; 404 when the query selects nothing."""
    n = len(dsd["dimensions"])
    dcols = [s.c[c] for c in DIMENSION_COLUMNS[:n]]
    # One row per series of the result: its key, observation count and time span.
    per_series = (_base(structure_id, dsd, codelists, dq)
                  .add_columns(*dcols, func.count(), func.min(o.c.period_start), func.max(o.c.period_end))
                  .group_by(s.c.id, *dcols))
    present: list[set[str]] = [set() for _ in range(n)]
    series = obs = 0
    first: date | None = None
    last: date | None = None
    for row in conn.execute(per_series):
        series += 1
        obs += row[n]
        for i in range(n):
            present[i].add(row[i])
        start, end = _as_date(row[n + 1]), _as_date(row[n + 2])
        first = start if first is None or start < first else first
        last = end if last is None or end > last else last
    if not series:
        raise not_found("no observations match the query")
    regions = []
    for i, dim in enumerate(dsd["dimensions"]):
        if dim["id"] not in components:
            continue
        codes = present[i]
        if mode == "available" and constrains(dq, i, dim["id"]):
            stmt = _base(structure_id, dsd, codelists, without(dq, i, dim["id"])).add_columns(dcols[i]).distinct()
            codes = set(conn.execute(stmt).scalars())
        order = [c["id"] for c in codelists[dim["id"]]["codes"]]
        regions.append((dim["id"], [c for c in order if c in codes]))
    with_time = dsd["time_dimension"]["id"] in components
    return Availability(dataflow=flow, dsd=dsd, codelists=codelists, mode=mode, regions=regions,
                        time_range=(first, last) if with_time else None,
                        series_count=series, obs_count=obs)


def _as_date(value) -> date:
    # SQLite hands back dates of aggregates as text.
    return date.fromisoformat(value) if isinstance(value, str) else value


# --- the structures a constraint refers to (references=) ------------------------------------

def referenced(docs: list[dict], av: Availability, references: str) -> tuple[list[dict], list[dict], set]:
    """(documents to build from, documents to send, keys of the partial item schemes).

    Codelists carry only the codes of the constraint and their parents, concept schemes
    only the concepts the structures sent use (sdmx-rest: isPartial is then true)."""
    wanted = set(references.split(","))
    if "all" in wanted:
        wanted = {"dataflow", "datastructure", "codelist", "conceptscheme"}
    if wanted == {"none"}:
        return [], [], set()
    flow, dsd = av.dataflow, av.dsd
    by_key = {(d["kind"], d["agency"], d["id"], d["version"]): d for d in docs}

    def doc(kind: str, r: dict) -> dict:
        return by_key[(kind, r["agency"], r["id"], r["version"])]

    dsd_doc = doc("datastructure", flow["structure"])
    # Codes per codelist: those in the constraint (a codelist may serve several dimensions).
    used: dict[tuple, set[str]] = {}
    for dim_id, codes in av.regions:
        comp = next(d for d in dsd["dimensions"] if d["id"] == dim_id)
        used.setdefault(_k("codelist", comp["codelist"]), set()).update(codes)
    partial: set[tuple] = set()
    codelists: dict[tuple, dict] = {}
    for key, codes in used.items():
        cl = by_key[key]
        parents = {c["id"]: c.get("parent") for c in cl["codes"]}
        keep = set()
        for c in codes:
            while c and c not in keep:
                keep.add(c)
                c = parents.get(c)
        if len(keep) < len(cl["codes"]):
            partial.add(key)
        codelists[key] = {**cl, "codes": [c for c in cl["codes"] if c["id"] in keep]}
    # The DSD, if it is built at all, needs all its codelists and concepts.
    for comp in dsd["dimensions"] + dsd["attributes"]:
        if comp.get("codelist"):
            key = _k("codelist", comp["codelist"])
            codelists.setdefault(key, by_key[key])
    concepts: dict[tuple, set[str]] = {}
    for comp in dsd["dimensions"] + dsd["attributes"] + [dsd["time_dimension"], dsd["primary_measure"]]:
        concepts.setdefault(_k("conceptscheme", comp["concept"]), set()).add(comp["concept"]["item"])
    schemes: dict[tuple, dict] = {}
    for key, items in concepts.items():
        cs = by_key[key]
        if len(items) < len(cs["concepts"]):
            partial.add(key)
        schemes[key] = {**cs, "concepts": [c for c in cs["concepts"] if c["id"] in items]}
    build = [flow, dsd_doc, *codelists.values(), *schemes.values()]
    send = []
    if "dataflow" in wanted:
        send.append(flow)
    if "datastructure" in wanted:
        send.append(dsd_doc)
    if "codelist" in wanted:
        # The constrained dimensions' codelists; with the DSD, the attributes' too (full).
        send += [codelists[k] for k in used] if "datastructure" not in wanted else list(codelists.values())
    if "conceptscheme" in wanted:
        send += list(schemes.values())
    return build, send, partial


def _k(kind: str, r: dict) -> tuple:
    return (kind, r["agency"], r["id"], r["version"])


# --- serving (the routes in api.app hand over their machinery) -------------------------------

def parse_flow_ref(flow_ref: str) -> tuple[str, str, str]:
    """v1.5 flowRef: ID, AGENCY,ID or AGENCY,ID,VERSION."""
    agency, flow_id, version = q.split_flow_ref(flow_ref)
    return q.check_agency(agency), q.check_id(flow_id, "dataflow"), q.check_version(version)


def serve(request, agency: str, flow_id: str, version: str, component: str | None, make_query,
          *, respond, bundle, lang: str):
    """The availability answer as negotiated. `make_query(n_dims)` parses the data query;
    respond / bundle are the application's (api.app)."""
    from api import store
    from api.negotiation import negotiate

    fmt = negotiate("availability", request.headers.get("accept"), request.query_params.get("format"))
    params = request.query_params
    mode = check_mode(params.get("mode"))
    references = check_references(params.get("references"))
    q.reject_unsupported(params)  # includeHistory, asOf, reportingYearStartDay

    def prepare(snap):
        flow, dsd, codelists = bundle(snap, agency, flow_id, version)
        components = check_components(component, dsd)
        dq = make_query(len(dsd["dimensions"]))
        q.parse_vintage(params, dq)
        if dq.include_history:
            raise bad_request("includeHistory is a data query parameter: availability is of one vintage")
        snap.bind(dq, urn_ref(flow))  # the embargo, asOf, updatedAfter

        def produce(conn):
            sid = snap.derived(("structure_id", urn_ref(flow)), lambda: store.structure_row_id(conn, flow))
            av = availability(conn, sid, flow, dsd, codelists, dq, mode, components)
            av.references, av.lang = references, lang
            return b"".join(fmt.serialise(av, snap.documents))  # whole: errors before the first byte

        return produce

    return respond(request, fmt.media_type, prepare)
