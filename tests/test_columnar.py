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
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api import store
from api.app import create_app
from api.config import Settings
from api.errors import SdmxError
from api.formats import REGISTRY, DataMessage, columns
from api.query import data_query_v1, parse_data_options
from store.db import make_engine

FLOWS = ["DF_REG_STAY", "DF_RESPERM_TEMP", "DF_WORKPERM_VALID", "DF_REFUGEE", "DF_NET_MIGR_RATE",
         "DF_UAM", "DF_LABOUR_QUOTA", "DF_EMIGRATION"]
COLUMNAR = sorted(name for name, f in REGISTRY.items() if f.kind == "data" and f.columnar)
V10 = "application/vnd.sdmx.data+csv;version=1.0.0"
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
    assert set(COLUMNAR) == {"csvdata", "csvdata10", "genericdata", "jsondata", "structurespecificdata",
                             "structurespecificdata30"}


@pytest.fixture
def no_rows_from_batches(monkeypatch):
    """Fail if a writer turns its batches into rows: the columnar branch is the one taken."""
    def refuse(message):
        raise AssertionError("the batches were turned into rows")

    monkeypatch.setattr(columns, "rows_of", refuse)


@pytest.fixture
def rows_from_batches(monkeypatch):
    """Count the messages whose batches a writer turns into rows (its fallback)."""
    calls = []
    rows_of = columns.rows_of

    def counted(message):
        calls.append(message)
        return rows_of(message)

    monkeypatch.setattr(columns, "rows_of", counted)
    return calls


def same_bytes(by_columns, by_rows, query: str, headers: dict | None = None) -> bytes:
    a, b = by_columns.get(query, headers=headers), by_rows.get(query, headers=headers)
    assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
    assert a.headers["content-type"] == b.headers["content-type"]
    assert VOLATILE.sub(b"", a.content) == VOLATILE.sub(b"", b.content)
    return b.content


@pytest.mark.parametrize("fmt", COLUMNAR)
@pytest.mark.parametrize("flow", FLOWS)
def test_columns_and_rows_give_the_same_bytes(two_ways, no_rows_from_batches, flow, fmt):
    for query in (f"/sdmx/2.1/data/{flow}?format={fmt}",
                  f"/sdmx/3.0/data/dataflow/AZ_SMS/{flow}/1.0/*?format={fmt}&c[TIME_PERIOD]=ge:2024"):
        same_bytes(*two_ways, query)


@pytest.mark.parametrize("fmt", COLUMNAR)
def test_withheld_values_are_written_the_same(two_ways, no_rows_from_batches, fmt):
    # A series of DF_RESPERM_TEMP with withheld values (empty OBS_VALUE, Q and C) among others.
    path = "/sdmx/2.1/data/DF_RESPERM_TEMP/Q.AE.F._T._T"
    assert b",,PS,Q,C\r\n" in same_bytes(*two_ways, f"{path}?format=csvdata")
    same_bytes(*two_ways, f"{path}?format={fmt}")


@pytest.mark.parametrize("fmt", COLUMNAR)
def test_rates_are_written_the_same(two_ways, no_rows_from_batches, fmt):
    # DF_NET_MIGR_RATE: values with decimals, series attributes DECIMALS and UNIT_MULT.
    path = "/sdmx/2.1/data/DF_NET_MIGR_RATE/A._T"
    assert re.search(rb",\d+\.\d+,", same_bytes(*two_ways, f"{path}?format=csvdata"))
    same_bytes(*two_ways, f"{path}?format={fmt}")


@pytest.mark.parametrize("fmt", COLUMNAR)
def test_batches_that_end_inside_a_series_change_nothing(two_ways, no_rows_from_batches, monkeypatch, fmt):
    # Batches of 7 rows: series (and JSON's commas) run across batch boundaries.
    data_batches, sliced = store.data_batches, []

    def small(*args, **kwargs):
        for batch in data_batches(*args, **kwargs):
            for offset in range(0, batch.num_rows, 7):
                sliced.append(offset)
                yield batch.slice(offset, 7)

    monkeypatch.setattr(store, "data_batches", small)
    same_bytes(*two_ways, f"/sdmx/2.1/data/DF_UAM?format={fmt}")
    same_bytes(*two_ways, f"/sdmx/2.1/data/DF_NET_MIGR_RATE?format={fmt}")
    assert len(sliced) > 20


@pytest.mark.parametrize("how", [
    {"headers": {"Accept": f"{V10};labels=both;timeFormat=normalized", "Accept-Language": "az"}},
    {"headers": {"Accept": f"{V10};labels=both"}},
    {"headers": {"Accept": V10}, "query": "timeFormat=normalized"},
])
def test_options_the_columns_do_not_write_give_the_same_bytes_from_rows(two_ways, rows_from_batches, how):
    # SDMX-CSV 1.0's labels / timeFormat bound from the Accept header (the app sends it
    # batches): its writer turns them into rows, and writes what the row path writes.
    query = "/sdmx/2.1/data/DF_RESPERM_TEMP" + (f"?{how['query']}" if "query" in how else "")
    body = same_bytes(*two_ways, query, how["headers"])
    assert rows_from_batches, "the answer came as batches"
    head = body.split(b"\r\n", 1)[0]
    assert (b"FREQ: " in head) == ("labels=both" in how["headers"]["Accept"])
    normalized = "timeFormat=normalized" in (how["headers"]["Accept"] + how.get("query", ""))
    assert (b",2019-10-01," in body) == normalized


def test_an_answer_with_no_observations_is_still_a_404(two_ways):
    by_columns, _ = two_ways
    r = by_columns.get("/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/*?format=csvdata&c[TIME_PERIOD]=ge:2090")
    assert r.status_code == 404


def test_a_read_that_sees_another_release_is_refused_before_any_row(published_store):
    engine = make_engine(published_store, read_only=True)
    reader = store.arrow_reader(engine.url)
    assert reader is not None, "the ADBC driver for this database is a dependency"
    with engine.connect() as conn:
        change = store.change_counter(conn)
        flow, dsd, codelists = store.dataflow_bundle(store.documents(conn), "AZ_SMS", "DF_RESPERM_TEMP", "1.0")
        sid = store.structure_row_id(conn, flow)
    engine.dispose()
    query = data_query_v1("all", 5, None, None, None)
    assert sum(b.num_rows for b in store.data_batches(reader, change, sid, dsd, codelists, query)) > 0
    with pytest.raises(store.StaleState):  # the publisher has written since the snapshot
        next(store.data_batches(reader, change + 1, sid, dsd, codelists, query))


@pytest.mark.parametrize("fmt", COLUMNAR)
@pytest.mark.parametrize("params", [
    {"dimensionAtObservation": "SEX"}, {"dimensionAtObservation": "AllDimensions"},
    {"detail": "serieskeysonly"}, {"detail": "dataonly"}, {"attributes": "OBS_STATUS"}, {"measures": "none"},
])
def test_views_the_columns_do_not_write_give_the_same_bytes_from_rows(published_store, fmt, params):
    """The app sends batches for the default view only; a writer given them in another
    view turns them into rows (columns.rows_of, in the view's order) and writes what the
    row path writes. Called directly, with the same message but for rows / batches."""
    engine = make_engine(published_store, read_only=True)
    reader = store.arrow_reader(engine.url)
    with engine.connect() as conn:
        change, docs = store.change_counter(conn), store.documents(conn)
        flow, dsd, codelists = store.dataflow_bundle(docs, "AZ_SMS", "DF_UAM", "1.0")
        sid = store.structure_row_id(conn, flow)
        index = store.series_index(conn, sid, len(dsd["dimensions"]))
        dq = data_query_v1("all", len(dsd["dimensions"]), None, None, None)
        view = parse_data_options(params, dq, dsd)
        codes, periods = store.data_outline(conn, sid, dsd, codelists, dq)
        rows = list(store.data_rows(conn, sid, dsd, codelists, dq,
                                    dimension_at_observation=view.dimension_at_observation))
    engine.dispose()
    batches = list(store.data_batches(reader, change, sid, dsd, codelists, dq))

    def message(**kw) -> DataMessage:
        return DataMessage(
            message_id="IREF0000000000000000", prepared=datetime(2025, 1, 1, tzinfo=UTC),
            dataflow=flow, dsd=dsd, codelists=codelists, dimension_codes=codes, periods=periods,
            dimension_at_observation=view.dimension_at_observation, observations=view.observations,
            attribute_selection=view.attributes, measures=view.measures,
            extra={"labels": "id", "timeFormat": "original",
                   "conceptschemes": [d for d in docs if d["kind"] == "conceptscheme"]}, **kw)

    def written(msg: DataMessage):
        try:
            return b"".join(REGISTRY[fmt].serialise(msg))
        except SdmxError as exc:  # SDMX-CSV 1.0 cannot write some views: the same error
            return exc.status, str(exc)

    by_rows = written(message(rows=iter(rows)))
    by_columns = written(message(rows=iter(()), key_of_series=index.key,
                                 batches=(columns.batch_of(b, index.positions_of) for b in batches)))
    assert by_columns == by_rows
    assert fmt == "csvdata10" or isinstance(by_rows, bytes)
