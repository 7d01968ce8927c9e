"""Parse SDMX REST query syntax into plain values: keys, c[...] filters, periods, versions.

Pure functions: no database, no HTTP. Every malformed input raises SdmxError(400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from api.errors import SdmxError, bad_request, not_implemented
from store import periods

ID_RE = re.compile(r"^[A-Za-z0-9_@$\-]+$")
AGENCY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z][A-Za-z0-9_\-]*)*$")
VERSION_RE = re.compile(r"^(\d+(\.\d+){0,2}(-[A-Za-z0-9]+)?|latest|all|\*|~|\+|\d+\+(\.\d+\+?){0,2}|\d+\.\d+\+(\.\d+)?)$")
MAX_KEY_LENGTH = 4000


@dataclass
class DataQuery:
    """A data query, whatever the path it came by (v2 or v1.5)."""

    # Each key is one pattern: per dimension a set of allowed codes, or None for any.
    # The query selects the union of the keys. No keys = everything.
    keys: list[list[frozenset[str] | None]] = field(default_factory=list)
    # c[DIM] filters on dimensions and attributes: component id -> list of
    # (operator, value) alternatives combined with AND between groups.
    filters: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)
    start: date | None = None  # observations whose period ends on or after this day
    end: date | None = None  # observations whose period starts on or before this day
    updated_after: datetime | None = None
    # Per series, the first / last N observations by period, after every other filter.
    # Both together: the union of the first N and the last N.
    first_n: int | None = None
    last_n: int | None = None
    # offset / limit (REST v2): a page of the observations in their order (series key,
    # then period), after every other filter.
    offset: int = 0
    limit: int | None = None
    # True for detail=serieskeysonly / nodata: one row per series, no observations.
    series_only: bool = False
    # asOf: the data as they were at that moment; includeHistory: every vintage, one data
    # set per release (api.history).
    as_of: datetime | None = None
    include_history: bool = False
    # Set from the snapshot when the query is answered (api.app), not parsed: the releases
    # whose rows the answer must not show (embargoed, or after asOf), and with updatedAfter
    # the public releases published since.
    hidden: frozenset[int] = frozenset()
    updated_in: list[int] | None = None


@dataclass
class DataView:
    """How the selected cells are presented (not which ones): the query string options
    dimensionAtObservation, detail (v1.5), attributes and measures (v2)."""

    dimension_at_observation: str = "TIME_PERIOD"  # a dimension id or "AllDimensions"
    observations: bool = True  # False: series without observations (serieskeysonly, nodata)
    attributes: frozenset[str] | None = None  # None: every attribute; else those ids
    measures: bool = True  # the primary measure (OBS_VALUE)


def check_id(value: str, what: str) -> str:
    if not ID_RE.match(value):
        raise bad_request(f"{what} {value!r} is not a valid SDMX id")
    return value


def check_agency(value: str) -> str:
    if value in ("*", "all"):
        return "*"
    if not AGENCY_RE.match(value):
        raise bad_request(f"agency {value!r} is not a valid SDMX agency id")
    return value


def check_version(value: str) -> str:
    if not VERSION_RE.match(value):
        raise bad_request(f"version {value!r} is not a valid version (e.g. 1.0, latest, ~, +, *)")
    return value


def parse_key(key: str, n_dims: int, *, or_sep: str) -> list[frozenset[str] | None]:
    """'Q.RU+TR..F' (v1.5, or_sep='+') or 'Q.RU.*.F' (v2) -> per dimension allowed codes.

    Trailing dimensions may be omitted (they are wildcarded)."""
    if len(key) > MAX_KEY_LENGTH:
        raise SdmxError(414, "the key is too long")
    parts = key.split(".")
    if len(parts) > n_dims:
        raise bad_request(f"the key {key!r} has {len(parts)} dimensions; the dataflow has {n_dims}")
    out: list[frozenset[str] | None] = []
    for part in parts + [""] * (n_dims - len(parts)):
        if part in ("", "*"):
            out.append(None)
            continue
        codes = part.split(or_sep) if or_sep else [part]
        for c in codes:
            if not ID_RE.match(c):
                raise bad_request(f"{c!r} in key {key!r} is not a valid code")
        out.append(frozenset(codes))
    return out


def parse_keys_v2(key: str, n_dims: int) -> list[list[frozenset[str] | None]]:
    """REST v2: several keys separated by ',' ('*' alone is everything)."""
    if key in ("*", "all", ""):
        return []
    return [parse_key(k, n_dims, or_sep="") for k in key.split(",")]


def parse_key_v1(key: str, n_dims: int) -> list[list[frozenset[str] | None]]:
    if key in ("all", "", "*"):
        return []
    return [parse_key(key, n_dims, or_sep="+")]


OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "co", "nc", "sw", "ew")


def parse_component_filter(component: str, expr: str) -> list[list[tuple[str, str]]]:
    """c[DIM]=eq:A,ne:B+lt:C -> [[('eq','A'),('ne','B')], [('lt','C')]].

    ',' is OR within a group; '+' is AND between groups; a value without an operator is eq."""
    groups = []
    for group in expr.split("+"):
        alts = []
        for term in group.split(","):
            if not term:
                raise bad_request(f"c[{component}] has an empty condition")
            op, sep, value = term.partition(":")
            if not sep:
                op, value = "eq", term
            if op not in OPERATORS:
                raise bad_request(f"c[{component}]: unknown operator {op!r} (use {', '.join(OPERATORS)})")
            if not value:
                raise bad_request(f"c[{component}]: operator {op!r} needs a value")
            alts.append((op, value))
        groups.append(alts)
    return groups


def match_code(code: str, op: str, value: str) -> bool:
    """Whether a code satisfies one c[...] condition (string comparison for lt/le/gt/ge)."""
    return {
        "eq": code == value, "ne": code != value, "lt": code < value, "le": code <= value,
        "gt": code > value, "ge": code >= value, "co": value in code, "nc": value not in code,
        "sw": code.startswith(value), "ew": code.endswith(value),
    }[op]


def period_bound(value: str, *, end: bool, what: str) -> date:
    """startPeriod / endPeriod: 2024, 2024-Q1, 2024-01, 2024-01-15 -> the first (or last) day."""
    try:
        first, last = periods.bounds(value)
    except periods.PeriodError:
        raise bad_request(f"{what} {value!r} is not a period (e.g. 2024, 2024-Q1, 2024-01)") from None
    return last if end else first


def parse_datetime(value: str, what: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{what} {value!r} is not an ISO 8601 date-time") from None
    if dt.tzinfo is None:
        from datetime import timezone
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


UNSUPPORTED_DATA_PARAMS: dict[str, str] = {
    # parameter -> why (the spec's rows that answer 501 until they are built)
}


def parse_vintage(params, dq: DataQuery) -> None:
    """asOf and includeHistory into `dq` (both REST versions)."""
    as_of = _single(params, "asOf")
    if as_of is not None:
        dq.as_of = parse_datetime(as_of, "asOf")
        if dq.updated_after is not None and dq.updated_after > dq.as_of:
            raise bad_request("updatedAfter is later than asOf: ask for changes before the moment asked for")
    history = _single(params, "includeHistory")
    if history is not None:
        if history.lower() not in ("true", "false"):
            raise bad_request(f"includeHistory={history!r} is not true or false")
        dq.include_history = history.lower() == "true"

DETAILS = ("full", "dataonly", "serieskeysonly", "nodata")
ATTRIBUTE_KEYWORDS = ("dsd", "msd", "dataset", "series", "obs", "all", "none")
NCNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


def reject_unsupported(params) -> None:
    """501 for data parameters of the spec not built; checked before the database is read."""
    for name, why in UNSUPPORTED_DATA_PARAMS.items():
        if name in params:
            raise not_implemented(why)
    if params.get("reportingYearStartDay") not in (None, "--01-01"):
        raise not_implemented("reportingYearStartDay: every period here is a calendar period "
                              "(only --01-01 is served)")


def positive_int(value: str, what: str) -> int:
    if not re.fullmatch(r"\+?[0-9]+", value.strip()) or int(value) < 1:
        raise bad_request(f"{what}={value!r} is not a positive integer")
    return int(value)


def _single(params, name: str) -> str | None:
    """A parameter the spec allows once; repeated -> 400."""
    values = params.getlist(name) if hasattr(params, "getlist") else (
        [params[name]] if name in params else [])
    if len(values) > 1:
        raise bad_request(f"{name} may be given only once")
    return values[0] if values else None


def _id_list(value: str, what: str) -> list[str]:
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise bad_request(f"{what}={value!r} has an empty item")
    return items


def dimension_at_observation(value: str, dsd: dict) -> str:
    """TIME_PERIOD, AllDimensions or a dimension id of the DSD; anything else is a 400."""
    dims = [d["id"] for d in dsd["dimensions"]]
    td = dsd["time_dimension"]["id"]
    if not NCNAME_RE.match(value):
        raise bad_request(f"dimensionAtObservation={value!r} is not an SDMX id")
    if value.lower() == "alldimensions":
        return "AllDimensions"
    if value not in (*dims, td):
        raise bad_request(f"dimensionAtObservation={value}: {dsd['id']} has no dimension {value} "
                          f"(use {td}, AllDimensions or one of {', '.join(dims)})")
    return value


def schema_dimension_at_observation(params, dsd: dict) -> str:
    """The /schema query's dimensionAtObservation (default: the time dimension)."""
    value = _single(params, "dimensionAtObservation")
    return dsd["time_dimension"]["id"] if value is None else dimension_at_observation(value, dsd)


def parse_data_options(params, q: DataQuery, dsd: dict) -> DataView:
    """firstNObservations, lastNObservations, dimensionAtObservation, detail, attributes and
    measures: limits go into the query ``q``, presentation into the returned DataView.

    Bad values are 400; values of the spec this service does not build are 501."""
    reject_unsupported(params)
    view = DataView()
    for name, attr in (("firstNObservations", "first_n"), ("lastNObservations", "last_n")):
        if (value := _single(params, name)) is not None:
            setattr(q, attr, positive_int(value, name))
    if (value := _single(params, "limit")) is not None:
        q.limit = positive_int(value, "limit")
    if (value := _single(params, "offset")) is not None:
        q.offset = 0 if value.strip() in ("0", "+0") else positive_int(value, "offset")

    if (dao := _single(params, "dimensionAtObservation")) is not None:
        view.dimension_at_observation = dimension_at_observation(dao, dsd)

    attributes = {a["id"]: a.get("attached_to") for a in dsd["attributes"]}
    if (value := _single(params, "attributes")) is not None:
        chosen: set[str] = set()
        items = _id_list(value, "attributes")
        if "none" in items and len(items) > 1:
            raise bad_request("attributes=none cannot be combined with other values")
        for item in items:
            if item in ("dsd", "all"):  # no reference metadata is attached to data: all = dsd
                chosen |= set(attributes)
            elif item == "msd":
                raise not_implemented("attributes=msd: reference metadata attributes are not "
                                      "attached to data by this service (see /metadata)")
            elif item == "dataset":
                chosen |= {a for a, at in attributes.items() if at == "dataset"}
            elif item == "series":
                chosen |= {a for a, at in attributes.items() if at in ("series", "group")}
            elif item == "obs":
                chosen |= {a for a, at in attributes.items() if at == "observation"}
            elif item == "none":
                pass
            elif item in attributes:
                chosen.add(item)
            else:
                check_id(item, "attribute")
                raise bad_request(f"attributes: {item} is not an attribute of {dsd['id']} "
                                  f"({', '.join(attributes)}) nor one of {', '.join(ATTRIBUTE_KEYWORDS)}")
        view.attributes = frozenset(chosen)

    if (value := _single(params, "measures")) is not None:
        measure = dsd["primary_measure"]["id"]
        items = _id_list(value, "measures")
        for item in items:
            if item not in ("all", "none", measure):
                check_id(item, "measure")
                raise bad_request(f"measures: {item} is not a measure of {dsd['id']} (use all, none or {measure})")
        if "none" in items and len(items) > 1:
            raise bad_request("measures=none cannot be combined with other values")
        view.measures = items != ["none"]

    if (detail := _single(params, "detail")) is not None:
        if detail not in DETAILS:
            raise bad_request(f"detail={detail} is not one of {', '.join(DETAILS)}")
        if detail in ("dataonly", "serieskeysonly"):
            view.attributes = frozenset()
        if detail in ("serieskeysonly", "nodata"):
            view.observations = False
            q.series_only = True
        if detail == "nodata":  # series with their attributes: no observation-level ones
            chosen = set(attributes) if view.attributes is None else set(view.attributes)
            view.attributes = frozenset(a for a in chosen if attributes[a] != "observation")

    if (q.offset or q.limit) and q.series_only:
        raise not_implemented("offset/limit page observations here; with detail=serieskeysonly or "
                              "nodata (pages of series keys) they are not implemented")
    if (value := _single(params, "sort")) is not None:
        check_sort(value, dsd, view)
    return view


#: The order answers come in (series key, then period): the sort values that ask for it.
NATURAL_SORTS = {"*", "series_key", "series_key+TIME_PERIOD"}


def check_sort(value: str, dsd: dict, view: DataView) -> None:
    """sort= (REST v2): 400 when malformed; the natural order is served, any other 501."""
    if not SORT_RE.match(value):
        raise bad_request(f"sort={value!r} is not a list of component ids (or * or series_key), "
                          "each with :asc or :desc, joined by +")
    td = dsd["time_dimension"]["id"]
    plain = "+".join(part.removesuffix(":asc") for part in value.split("+"))
    dims = "+".join(d["id"] for d in dsd["dimensions"])
    natural = NATURAL_SORTS | {dims, f"{dims}+{td}"}
    if plain not in natural or view.dimension_at_observation != td:
        raise not_implemented(f"sort={value}: answers come in their natural order only (series key, then "
                              "period, ascending: sort=* or series_key) and in the time-series view")


SORT_RE = re.compile(r"^(([A-Za-z0-9_@$\-]+(:(asc|desc))?(\+[A-Za-z0-9_@$\-]+(:(asc|desc))?)*)|(\*(:(asc|desc))?))$")


def version_key(version: str) -> tuple:
    """Sort key for SDMX versions: 1.10.0 after 1.9.0; drafts (1.0-draft) before releases."""
    main, _, ext = version.partition("-")
    nums = tuple(int(p) if p.isdigit() else 0 for p in main.split("."))
    return nums + (0,) * (3 - len(nums)), ext == ""


# --- whole data queries, as the data and availability routes of both API versions take them ---

def split_flow_ref(flow_ref: str) -> tuple[str, str, str]:
    """REST v1.5 flowRef: ID, AGENCY,ID or AGENCY,ID,VERSION -> (agency, id, version),
    unchecked (the caller checks them for the kind of artefact it looks up)."""
    parts = flow_ref.split(",")
    if len(parts) > 3 or not all(parts):
        raise bad_request(f"flowRef {flow_ref!r} is not AGENCY,ID,VERSION")
    if len(parts) == 1:
        return "*", parts[0], "latest"
    if len(parts) == 2:
        return parts[0], parts[1], "latest"
    return parts[0], parts[1], parts[2]


def data_query_v1(key: str, n_dims: int, start: str | None, end: str | None,
                  updated_after: str | None) -> DataQuery:
    """REST v1.5: keys with `+` and empty positions, startPeriod/endPeriod, updatedAfter."""
    dq = DataQuery(keys=parse_key_v1(key, n_dims))
    if start:
        dq.start = period_bound(start, end=False, what="startPeriod")
    if end:
        dq.end = period_bound(end, end=True, what="endPeriod")
    if dq.start and dq.end and dq.start > dq.end:
        raise bad_request("startPeriod is after endPeriod")
    if updated_after:
        dq.updated_after = parse_datetime(updated_after, "updatedAfter")
    return dq


def data_query_v2(params, key: str, n_dims: int, updated_after: str | None) -> DataQuery:
    """REST v2: keys with `*` and `,`, c[...] component filters (`params`: the query
    string's (name, value) pairs), updatedAfter."""
    dq = DataQuery(keys=parse_keys_v2(key, n_dims))
    for name, value in params:
        if name.startswith("c[") and name.endswith("]"):
            comp = check_id(name[2:-1], "component")
            dq.filters.setdefault(comp, []).extend(parse_component_filter(comp, value))
    if updated_after:
        dq.updated_after = parse_datetime(updated_after, "updatedAfter")
    return dq
