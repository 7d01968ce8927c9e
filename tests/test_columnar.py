"""Large answers read as Arrow columns and written a batch at a time are the same bytes.

Above BUFFER_OBSERVATIONS, an answer in the default time-series view is read by the
database's ADBC driver as columns and written by the format's columnar branch
(api.formats.columns). Here every answer is made "large" (BUFFER_OBSERVATIONS=0) and
compared, byte for byte, with the same answer read and written row by row
(ARROW_READS=0), for every dataflow of the demonstration data, every format that has a
columnar branch, on SQLite and PostgreSQL. Message ids and preparation times differ
between two answers by design and are blanked before comparing.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api import store
from api.app import create_app
from api.config import Settings
from api.formats import REGISTRY
from api.query import data_query_v1
from store.db import make_engine

FLOWS = ["DF_REG_STAY", "DF_RESPERM_TEMP", "DF_WORKPERM_VALID", "DF_REFUGEE", "DF_NET_MIGR_RATE",
         "DF_UAM", "DF_LABOUR_QUOTA", "DF_EMIGRATION"]
COLUMNAR = sorted(name for name, f in REGISTRY.items() if f.kind == "data" and f.columnar)
VOLATILE = re.compile(rb"(IREF[0-9A-F]{16})|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?)")


@pytest.fixture(scope="module")
def two_ways(published_store, tmp_path_factory):
    """(columns client, rows client) over the same store."""
    def client(arrow: bool) -> TestClient:
        settings = Settings(database_url=published_store, cache_dir=str(tmp_path_factory.mktemp("cache")),
                            cache_size=2**28, cache_max_entry=0, buffer_observations=0, arrow_reads=arrow)
        return TestClient(create_app(settings), raise_server_exceptions=False)

    with client(True) as by_columns, client(False) as by_rows:
        yield by_columns, by_rows


def test_the_columnar_formats_are_the_expected_ones():
    assert {"csvdata"} <= set(COLUMNAR)


@pytest.mark.parametrize("fmt", COLUMNAR)
@pytest.mark.parametrize("flow", FLOWS)
def test_columns_and_rows_give_the_same_bytes(two_ways, flow, fmt):
    by_columns, by_rows = two_ways
    for query in (f"/sdmx/2.1/data/{flow}?format={fmt}",
                  f"/sdmx/3.0/data/dataflow/AZ_SMS/{flow}/1.0/*?format={fmt}&c[TIME_PERIOD]=ge:2024"):
        a, b = by_columns.get(query), by_rows.get(query)
        assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
        assert VOLATILE.sub(b"", a.content) == VOLATILE.sub(b"", b.content)


def test_an_answer_with_no_observations_is_still_a_404(two_ways):
    by_columns, _ = two_ways
    r = by_columns.get("/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/*?format=csvdata&c[TIME_PERIOD]=ge:2090")
    assert r.status_code == 404


def test_a_read_that_sees_another_release_is_refused_before_any_row(published_store):
    engine = make_engine(published_store, read_only=True)
    reader = store.arrow_reader(engine.url)
    assert reader is not None, "the ADBC driver for this database is a dependency"
    with engine.connect() as conn:
        token = store.state_token(conn)
        flow, dsd, codelists = store.dataflow_bundle(store.documents(conn), "AZ_SMS", "DF_RESPERM_TEMP", "1.0")
        sid = store.structure_row_id(conn, flow)
    engine.dispose()
    query = data_query_v1("all", 5, None, None, None)
    assert sum(b.num_rows for b in store.data_batches(reader, token, sid, dsd, codelists, query)) > 0
    with pytest.raises(store.StaleState):
        next(store.data_batches(reader, str(int(token) + 1), sid, dsd, codelists, query))
