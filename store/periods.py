"""SDMX reporting periods: parse, check against a frequency, and give start and end dates.

Stored as the SDMX text ("2024", "2024-Q3", "2024-07") plus the first and last day,
so period filters (startPeriod/endPeriod, c[TIME_PERIOD]) are plain date comparisons
whatever the frequency.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

_ANNUAL = re.compile(r"^(\d{4})(?:-A1)?$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-?M?(0[1-9]|1[0-2])$")
_DAY = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class PeriodError(ValueError):
    pass


def frequency_of(period: str) -> str:
    """The frequency code (A, Q, M, D) a period is written in, or raise PeriodError."""
    p = period.strip()
    if _ANNUAL.match(p):
        return "A"
    if _QUARTER.match(p):
        return "Q"
    if _DAY.match(p):
        return "D"
    if _MONTH.match(p):
        return "M"
    raise PeriodError(f"{period!r} is not a reporting period (expected 2024, 2024-Q1 or 2024-01)")


def normalise(period: str) -> str:
    """Canonical SDMX form: 2024, 2024-Q1, 2024-01 (also accepts 2024Q1, 2024M01)."""
    p = period.strip()
    if m := _ANNUAL.match(p):
        return m.group(1)
    if m := _QUARTER.match(p):
        return f"{m.group(1)}-Q{m.group(2)}"
    if _DAY.match(p):
        return p
    if m := _MONTH.match(p):
        return f"{m.group(1)}-{m.group(2)}"
    raise PeriodError(f"{period!r} is not a reporting period (expected 2024, 2024-Q1 or 2024-01)")


def bounds(period: str) -> tuple[date, date]:
    """First and last day of a period in canonical or accepted form."""
    p = normalise(period)
    freq = frequency_of(p)
    y = int(p[:4])
    if freq == "A":
        return date(y, 1, 1), date(y, 12, 31)
    if freq == "Q":
        q = int(p[-1])
        m0 = 3 * (q - 1) + 1
        return date(y, m0, 1), date(y, m0 + 2, calendar.monthrange(y, m0 + 2)[1])
    if freq == "M":
        m = int(p[5:7])
        return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
    d = date.fromisoformat(p)
    return d, d
