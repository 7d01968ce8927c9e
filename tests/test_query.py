"""Query syntax and periods: pure functions, examples from the SDMX REST specification."""

from __future__ import annotations

from datetime import date

import pytest

from api.errors import SdmxError
from api.negotiation import negotiate
from api.query import parse_component_filter, parse_key_v1, parse_keys_v2, version_key
from store.periods import PeriodError, bounds, frequency_of, normalise


@pytest.mark.parametrize("period, first, last, freq", [
    ("2024", date(2024, 1, 1), date(2024, 12, 31), "A"),
    ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31), "Q"),
    ("2024Q4", date(2024, 10, 1), date(2024, 12, 31), "Q"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "M"),
    ("2023-02", date(2023, 2, 1), date(2023, 2, 28), "M"),
    ("2024-02-10", date(2024, 2, 10), date(2024, 2, 10), "D"),
])
def test_periods(period, first, last, freq):
    assert bounds(period) == (first, last)
    assert frequency_of(normalise(period)) == freq


@pytest.mark.parametrize("bad", ["24", "2024-Q5", "2024-13", "Q1-2024", ""])
def test_bad_periods(bad):
    with pytest.raises(PeriodError):
        normalise(bad)


def test_v1_keys_use_plus_for_or_and_empty_for_any():
    assert parse_key_v1("Q.RU+TR..F", 5) == [[frozenset({"Q"}), frozenset({"RU", "TR"}), None,
                                               frozenset({"F"}), None]]
    assert parse_key_v1("all", 5) == []


def test_v2_keys_use_star_and_comma_separates_keys():
    assert parse_keys_v2("Q.RU.*,A.TR", 3) == [[frozenset({"Q"}), frozenset({"RU"}), None],
                                                [frozenset({"A"}), frozenset({"TR"}), None]]
    assert parse_keys_v2("*", 3) == []


def test_keys_longer_than_the_dsd_are_refused():
    with pytest.raises(SdmxError) as info:
        parse_key_v1("A.B.C.D", 3)
    assert info.value.status == 400


def test_component_filters():
    assert parse_component_filter("TIME_PERIOD", "ge:2020+le:2022") == [[("ge", "2020")], [("le", "2022")]]
    assert parse_component_filter("SEX", "F,ne:_T") == [[("eq", "F"), ("ne", "_T")]]
    with pytest.raises(SdmxError):
        parse_component_filter("SEX", "zz:F")


def test_versions_sort_semantically():
    assert sorted(["1.10.0", "1.9", "1.0-draft", "1.0"], key=version_key) == ["1.0-draft", "1.0", "1.9", "1.10.0"]


def test_negotiation_prefers_higher_q():
    import api.formats.sdmxcsv20  # noqa: F401 - registers the format
    import api.formats.sdmxjson20  # noqa: F401
    import api.formats.sdmxml21_data  # noqa: F401

    fmt = negotiate("data", "application/vnd.sdmx.data+json;version=2.0.0;q=0.4, text/csv;q=0.9", None)
    assert fmt.name == "csvdata"
