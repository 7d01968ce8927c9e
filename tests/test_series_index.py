"""The in-memory series index picks the same series as SQL does.

A data query selects its series in memory (api.store.SeriesIndex: keys and c[DIM]
filters as array operations over the dataflow's series, read once per snapshot) and
names them by id; above MAX_SERIES_BY_ID it names them by their codes in SQL instead.
Both ways must give the same observations, for every kind of key and filter.
"""

from __future__ import annotations

import pytest

from api import store
from api.query import data_query_v1, data_query_v2
from store.db import make_engine

FLOW = "DF_RESPERM_TEMP"  # FREQ.CITIZENSHIP.SEX.RESIDENCE_GROUND.REGION

V1_KEYS = ["all", "Q.RU.F._T._T", "Q.RU+TR+GE.F+M._T._T", "..F..", "Q.XX.F._T._T", "Q.RU+TR..FAM+WORK."]
V2_QUERIES = [
    ("*", []),
    ("Q.RU,TR.*.*._T", []),
    ("*", [("c[CITIZENSHIP]", "sw:R")]),
    ("*", [("c[CITIZENSHIP]", "ne:RU"), ("c[SEX]", "eq:F")]),
    ("*.*.*.*.*", [("c[REGION]", "co:A"), ("c[SEX]", "F,M")]),
    ("Q.*.M", [("c[RESIDENCE_GROUND]", "nc:T")]),
    ("*", [("c[TIME_PERIOD]", "ge:2024-Q1"), ("c[SEX]", "F")]),
]


@pytest.fixture(scope="module")
def flow_and_index(published_store):
    engine = make_engine(published_store, read_only=True)
    with engine.connect() as conn:
        docs = store.documents(conn)
        flow, dsd, codelists = store.dataflow_bundle(docs, "AZ_SMS", FLOW, "1.0")
        sid = store.structure_row_id(conn, flow)
        index = store.series_index(conn, sid, len(dsd["dimensions"]))
    yield engine, sid, dsd, codelists, index
    engine.dispose()


def both_ways(flow_and_index, dq):
    engine, sid, dsd, codelists, index = flow_and_index
    mask = index.matching([d["id"] for d in dsd["dimensions"]], codelists, dq)
    ids = index.ids if mask is None else index.ids[mask]
    with engine.connect() as conn:
        by_codes = list(store.data_rows(conn, sid, dsd, codelists, dq))
        by_ids = list(store.data_rows(conn, sid, dsd, codelists, dq, series_ids=ids))
        counted = store.count_observations(conn, sid, dsd, codelists, dq, ids)
    bound = int(index.counts.sum() if mask is None else index.counts[mask].sum())
    return by_codes, by_ids, counted, bound


@pytest.mark.parametrize("key", V1_KEYS)
def test_v1_keys_select_the_same_observations_in_memory_as_in_sql(flow_and_index, key):
    by_codes, by_ids, counted, bound = both_ways(flow_and_index, data_query_v1(key, 5, None, None, None))
    assert by_ids == by_codes
    assert counted == len(by_codes) == bound  # no period filter: the bound is exact
    if key == "Q.XX.F._T._T":
        assert by_codes == []


@pytest.mark.parametrize(("key", "params"), V2_QUERIES)
def test_v2_keys_and_filters_select_the_same_observations(flow_and_index, key, params):
    by_codes, by_ids, counted, bound = both_ways(flow_and_index, data_query_v2(params, key, 5, None))
    assert by_codes, "the query should match something"
    assert by_ids == by_codes
    assert counted == len(by_codes) <= bound


def test_the_index_holds_every_current_series_once_in_key_order(flow_and_index):
    engine, sid, dsd, codelists, index = flow_and_index
    keys = [".".join(index.values[d][index.codes[d][i]] for d in range(len(dsd["dimensions"])))
            for i in range(len(index.ids))]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    with engine.connect() as conn:
        rows = list(store.data_rows(conn, sid, dsd, codelists, data_query_v1("all", 5, None, None, None)))
    assert int(index.counts.sum()) == len(rows)
    assert {".".join(r.key) for r in rows} == set(keys)


def test_the_outline_of_a_whole_dataflow_from_memory_is_the_queried_one(flow_and_index):
    engine, sid, dsd, codelists, index = flow_and_index
    whole = data_query_v1("all", 5, None, None, None)
    assert store.whole_dataflow(whole)
    assert not store.whole_dataflow(data_query_v1("all", 5, "2024", None, None))
    assert not store.whole_dataflow(data_query_v1("Q.RU...", 5, None, None, None))
    with engine.connect() as conn:
        codes, periods = store.data_outline(conn, sid, dsd, codelists, whole)
        assert index.outline_codes(dsd, codelists) == codes
        assert store.flow_periods(conn, sid) == periods
