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


UNSUPPORTED_DATA_PARAMS = {
    # parameter -> why (the spec's rows that answer 501 until they are built)
    "firstNObservations": "firstNObservations is not implemented yet",
    "lastNObservations": "lastNObservations is not implemented yet",
    "includeHistory": "includeHistory is not implemented yet",
    "asOf": "asOf is not implemented yet",
}


def reject_unsupported(params: dict[str, str]) -> None:
    for name, why in UNSUPPORTED_DATA_PARAMS.items():
        if name in params:
            raise not_implemented(why)
    dim_at_obs = params.get("dimensionAtObservation")
    if dim_at_obs not in (None, "TIME_PERIOD"):
        raise not_implemented("only dimensionAtObservation=TIME_PERIOD is implemented")
    detail = params.get("detail")
    if detail not in (None, "full"):
        raise not_implemented(f"detail={detail} is not implemented yet (only full)")
    for name in ("attributes", "measures"):
        if params.get(name) not in (None, "all", "dsd"):
            raise not_implemented(f"{name}={params[name]} is not implemented yet")


def version_key(version: str) -> tuple:
    """Sort key for SDMX versions: 1.10.0 after 1.9.0; drafts (1.0-draft) before releases."""
    main, _, ext = version.partition("-")
    nums = tuple(int(p) if p.isdigit() else 0 for p in main.split("."))
    return nums + (0,) * (3 - len(nums)), ext == ""
