"""SDMX-CSV 2.0.0 options (api.formats.sdmxcsv20) as the field guide defines them
(sdmx-twg/sdmx-csv, tag v2.0.0, data-message/docs/sdmx-csv-field-guide.md: "Columns",
"Optional parameters" and the examples), through the API on each backend.

``labels`` (id|name|both), ``timeFormat`` (original|normalized) and ``keys``
(none|obs|series|both) are media-type parameters of the Accept header
(``application/vnd.sdmx.data+csv; version=2.0.0; labels=name; keys=both``), or query
parameters; the Accept header wins. Every answer with options is checked column by
column, with pandas, against the default answer to the same query (labels=id,
timeFormat=original, keys=none) and against the names of the published structures.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from api.errors import SdmxError
from api.formats import REGISTRY, DataMessage, Obs
from api.formats.sdmxcsv20 import sdmx_csv_20
from api.negotiation import negotiate
from store import periods
from tests.test_columnar import (  # noqa: F401
    no_rows_from_batches,
    rows_from_batches,
    same_bytes,
    two_ways,
)
from tests.test_format_sdmxcsv10 import sdmx_error
from tests.test_sdmx_client import DIMS, ingested  # noqa: F401 - fixture: the released numbers

V20 = "application/vnd.sdmx.data+csv; version=2.0.0"
CONTENT_TYPE = "application/vnd.sdmx.data+csv; charset=utf-8; version=2.0.0"
DATA = "/sdmx/2.1/data"
FLOW = "DF_RESPERM_TEMP"
SMALL = f"{DATA}/{FLOW}/Q..F.._T?startPeriod=2024-Q1"  # women, every citizenship and ground
ONE_SERIES = f"{DATA}/{FLOW}/Q.RU.F._T._T"
LABELS, TIME_FORMATS, KEYS = ("id", "name", "both"), ("original", "normalized"), ("none", "obs", "series", "both")
LANGS = ("az", "en", "ru")
AZ = "əğıöüçş"
DATE = re.compile(r"\d{4}-\d\d-\d\d")


def get(client, path: str, accept: str = V20, lang: str = "en"):
    r = client.get(path, headers={"Accept": accept, "Accept-Language": lang})
    assert r.status_code == 200, r.text[:500]
    return r


def frame(body: bytes) -> pd.DataFrame:
    """An SDMX-CSV answer as pandas reads it: every cell a string, empty cells empty."""
    return pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, encoding="utf-8")


def header(body: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(body.decode("utf-8"))))


class Names:
    """The names the answer must carry, read from the published structures."""

    def __init__(self, content, flow_id: str, lang: str):
        flow = content.dataflow(flow_id)
        dsd = flow.structure
        concepts = {(d["id"], c["id"]): c["name"][lang] for d in content.documents
                    if d["kind"] == "conceptscheme" for c in d["concepts"]}
        comps = dsd["dimensions"] + [dsd["time_dimension"], dsd["primary_measure"]] + dsd["attributes"]
        self.flow = flow.document["name"][lang]
        self.heads = {c["id"]: concepts[(c["concept"]["id"], c["concept"]["item"])] for c in comps}
        self.codes = {comp: {c["id"]: c["name"][lang] for c in cl["codes"]} for comp, cl in flow.codelists.items()}

    def of(self, comp: str, code: str) -> str:
        """The localised name of a value: the code's name; empty if it has none (not coded)."""
        return self.codes[comp][code] if comp in self.codes and code else ""


def expected_columns(components: list[str], labels: str, keys: str, names: Names) -> list[str]:
    """The field guide's column order: STRUCTURE, STRUCTURE_ID, STRUCTURE_NAME (labels=name),
    ACTION, SERIES_KEY, OBS_KEY (as asked), then each component column, followed by its
    name column with labels=name, or written "ID: Name" with labels=both."""
    fixed = ["STRUCTURE", "STRUCTURE_ID", *["STRUCTURE_NAME"] * (labels == "name"), "ACTION",
             *["SERIES_KEY"] * (keys in ("series", "both")), *["OBS_KEY"] * (keys in ("obs", "both"))]
    if labels == "id":
        return fixed + components
    if labels == "both":
        return fixed + [f"{c}: {names.heads[c]}" for c in components]
    return fixed + [x for c in components for x in (c, names.heads[c])]


def check_against_default(got: pd.DataFrame, default: pd.DataFrame, names: Names, labels: str,
                          time_format: str, keys: str, dims: list[str], series_dims: list[str],
                          observations: bool = True) -> None:
    """`got` (an answer with options) column by column against `default` (the same query,
    no options). Without observations (detail=serieskeysonly / nodata), OBS_KEY is empty."""
    components = list(default.columns[3:])
    assert list(got.columns) == expected_columns(components, labels, keys, names)
    assert len(got) == len(default) > 0

    def same(column: str, values) -> None:
        pd.testing.assert_series_equal(got[column], pd.Series(list(values), dtype=str), check_names=False)

    same("STRUCTURE", default["STRUCTURE"])
    same("ACTION", default["ACTION"])
    ref = default["STRUCTURE_ID"]
    same("STRUCTURE_ID", ref + f": {names.flow}" if labels == "both" else ref)
    if labels == "name":
        same("STRUCTURE_NAME", [names.flow] * len(default))
    # Keys: ids and periods as stored, whatever labels and timeFormat.
    if keys in ("series", "both"):
        same("SERIES_KEY", default[series_dims].agg(".".join, axis=1) if series_dims else [""] * len(default))
    if keys in ("obs", "both"):
        same("OBS_KEY", default[[*dims, "TIME_PERIOD"]].agg(".".join, axis=1) if observations
             else [""] * len(default))

    for comp in components:
        ids = default[comp]
        if comp == "TIME_PERIOD" and time_format == "normalized":
            ids = ids.map(lambda p: periods.bounds(p)[0].isoformat() if p else p)
            assert all(DATE.fullmatch(p) for p in ids if p)
        value_names = [names.of(comp, v) for v in default[comp]]
        if labels == "both":
            same(f"{comp}: {names.heads[comp]}", [f"{i}: {n}" if n else i for i, n in zip(ids, value_names)])
            continue
        same(comp, ids)  # the ids, unchanged (the same numbers in OBS_VALUE)
        if labels == "name":
            # The column right after: the value's localised name, empty for TIME_PERIOD
            # and OBS_VALUE (values with no localised name).
            name_column = got.columns[list(got.columns).index(comp) + 1]
            assert name_column == names.heads[comp]
            same(name_column, value_names)


# --- every option and every combination ----------------------------------------------------

@pytest.mark.parametrize("keys", KEYS)
@pytest.mark.parametrize("time_format", TIME_FORMATS)
@pytest.mark.parametrize("labels", LABELS)
def test_every_combination_column_by_column(api_client, content, labels, time_format, keys):
    dims = content.dataflow(FLOW).dimension_ids
    options = f"labels={labels}; timeFormat={time_format}; keys={keys}"
    for lang in LANGS if labels != "id" else ("en",):
        default = get(api_client, SMALL, V20, lang)
        r = get(api_client, SMALL, f"{V20}; {options}", lang)
        assert r.headers["content-type"] == f"{CONTENT_TYPE}; {options}"  # cached apart
        check_against_default(frame(r.content), frame(default.content), Names(content, FLOW, lang),
                              labels, time_format, keys, dims, dims)
        if labels != "id" and lang == "az":
            assert set(AZ) <= set(r.content.decode("utf-8"))  # every Azerbaijani letter, intact


def test_the_default_answer_is_the_one_without_options(api_client):
    default = get(api_client, SMALL)
    assert default.headers["content-type"] == CONTENT_TYPE
    explicit = get(api_client, SMALL, f"{V20}; labels=id; timeFormat=original; keys=none")
    assert explicit.content == default.content
    assert header(default.content)[:4] == ["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ"]


# --- the field guide's examples, on one series ----------------------------------------------

def test_labels_name_keeps_the_ids_and_adds_a_name_column_after_each(api_client):
    # Example 6: "DIM_1,Dimension 1,...": the id column, then the localised name column.
    default = frame(get(api_client, ONE_SERIES).content)
    r = get(api_client, ONE_SERIES, f"{V20}; labels=name")
    assert header(r.content) == [
        "STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION",
        "FREQ", "Frequency", "CITIZENSHIP", "Citizenship", "SEX", "Sex",
        "RESIDENCE_GROUND", "Ground for the temporary residence permit",
        "REGION", "Place of registration (economic region)", "TIME_PERIOD", "Time period",
        "OBS_VALUE", "Observation value", "UNIT_MEASURE", "Unit of measure",
        "OBS_STATUS", "Observation status", "CONF_STATUS", "Confidentiality status"]
    first = next(csv.reader(io.StringIO(r.content.decode("utf-8").split("\r\n", 1)[1])))
    d = default.iloc[0]
    assert first[:16] == ["dataflow", "AZ_SMS:DF_RESPERM_TEMP(1.0)", "Temporary residence permits issued", "I",
                          "Q", "Quarterly", "RU", "Russian Federation", "F", "Female", "_T", "All grounds",
                          "_T", "Republic of Azerbaijan", d["TIME_PERIOD"], ""]  # a period has no name
    assert first[16:19] == [d["OBS_VALUE"], "", "PS"]  # nor a value


def test_labels_both_names_the_dataflow_too(api_client):
    # Example 5: "ESTAT:NA_MAIN(1.6.0): National Accounts Main Aggregates", "OBS_VALUE: Observation value".
    body = get(api_client, ONE_SERIES, f"{V20}; labels=both; timeFormat=normalized").content
    head = header(body)
    assert head[:4] == ["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ: Frequency"]
    assert "OBS_VALUE: Observation value" in head and "TIME_PERIOD: Time period" in head
    row = frame(body).iloc[0]
    assert row["STRUCTURE_ID"] == "AZ_SMS:DF_RESPERM_TEMP(1.0): Temporary residence permits issued"
    assert row["SEX: Sex"] == "F: Female" and DATE.fullmatch(row["TIME_PERIOD: Time period"])


def test_keys_both_puts_series_key_then_obs_key_after_action(api_client):
    # Example 4: "ACTION,SERIES_KEY,OBS_KEY,..." with "A.B" and "A.B.2014-01".
    df = frame(get(api_client, ONE_SERIES, f"{V20}; keys=both").content)
    assert list(df.columns[:6]) == ["STRUCTURE", "STRUCTURE_ID", "ACTION", "SERIES_KEY", "OBS_KEY", "FREQ"]
    assert set(df["SERIES_KEY"]) == {"Q.RU.F._T._T"}
    assert list(df["OBS_KEY"]) == [f"Q.RU.F._T._T.{p}" for p in df["TIME_PERIOD"]]


@pytest.mark.parametrize("flow_id, key, period, date", [
    ("DF_NET_MIGR_RATE", "A.", "2024", "2024-01-01"),  # annual
    (FLOW, "Q....", "2024-Q2", "2024-04-01"),  # quarterly
    ("DF_BORDER_ARR", "M..", "2024-07", "2024-07-01"),  # monthly
])
def test_time_format_normalized_writes_the_first_day(api_client, flow_id, key, period, date):
    path = f"{DATA}/{flow_id}/{key}?startPeriod={period}&endPeriod={period}"
    original = frame(get(api_client, path).content)
    normalized = frame(get(api_client, path, f"{V20}; timeFormat=normalized").content)
    assert set(original["TIME_PERIOD"]) == {period} and set(normalized["TIME_PERIOD"]) == {date}
    pd.testing.assert_frame_equal(normalized.drop(columns="TIME_PERIOD"), original.drop(columns="TIME_PERIOD"))


# --- keys in every view ------------------------------------------------------------------------

@pytest.mark.parametrize("view", ["", "dimensionAtObservation=SEX", "dimensionAtObservation=AllDimensions",
                                  "detail=serieskeysonly"])
def test_keys_in_every_view(api_client, content, view):
    dims = content.dataflow(FLOW).dimension_ids
    # SERIES_KEY: the dimensions not at the observation level, in DSD order, the time
    # dimension last (a cross-section's series key includes the period; a flat view has none).
    series_dims = {"dimensionAtObservation=SEX": [d for d in dims if d != "SEX"] + ["TIME_PERIOD"],
                   "dimensionAtObservation=AllDimensions": []}.get(view, dims)
    path = f"{SMALL}&{view}" if view else SMALL
    default = frame(get(api_client, path).content)
    for keys in KEYS:
        got = frame(get(api_client, path, f"{V20}; keys={keys}").content)
        check_against_default(got, default, Names(content, FLOW, "en"), "id", "original", keys, dims, series_dims,
                              observations=view != "detail=serieskeysonly")
        # Without the key columns, the answer of the same view.
        pd.testing.assert_frame_equal(got.drop(columns=["SERIES_KEY", "OBS_KEY"], errors="ignore"), default)
    if view == "dimensionAtObservation=AllDimensions":
        assert set(got["SERIES_KEY"]) == {""}  # every dimension is at the observation level
    if view == "detail=serieskeysonly":  # a row per series, without observation: OBS_KEY empty
        assert set(default["TIME_PERIOD"]) == {""} and "OBS_VALUE" not in default
        assert set(got["OBS_KEY"]) == {""} and got["SERIES_KEY"].is_unique


def test_keys_and_labels_name_without_observations(api_client, content):
    dims = content.dataflow(FLOW).dimension_ids
    path = f"{SMALL}&detail=serieskeysonly"
    df = frame(get(api_client, path, f"{V20}; keys=both; labels=name", "ru").content)
    names = Names(content, FLOW, "ru")
    assert list(df.columns[:8]) == ["STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION", "SERIES_KEY",
                                    "OBS_KEY", "FREQ", names.heads["FREQ"]]
    assert list(df["SERIES_KEY"]) == list(df[dims].agg(".".join, axis=1)) and set(df["OBS_KEY"]) == {""}
    assert set(df[names.heads["SEX"]]) == {names.codes["SEX"]["F"]}


# --- Accept parameters and query parameters ---------------------------------------------------

@pytest.mark.parametrize("option, value", [("labels", "name"), ("labels", "both"), ("timeFormat", "normalized")])
def test_query_parameters_give_the_accept_answer(api_client, option, value):
    by_accept = get(api_client, SMALL, f"{V20}; {option}={value}", "az")
    by_query = get(api_client, f"{SMALL}&{option}={value}", V20, "az")
    assert by_query.content == by_accept.content
    assert by_query.headers["content-type"] == CONTENT_TYPE  # the query string keys the cache


def test_keys_as_a_query_parameter(api_client):
    # The app passes ?keys= in DataMessage.extra["keys"], as ?labels= and ?timeFormat=.
    by_accept = get(api_client, SMALL, f"{V20}; keys=both")
    by_query = get(api_client, f"{SMALL}&keys=both")
    assert header(by_query.content)[3:5] == ["SERIES_KEY", "OBS_KEY"]
    assert by_query.content == by_accept.content
    assert by_query.headers["content-type"] == CONTENT_TYPE


@pytest.mark.parametrize("accept, query", [
    ("labels=id", "labels=name"), ("labels=name", "labels=both"), ("labels=both", "labels=id"),
    ("timeFormat=original", "timeFormat=normalized"), ("timeFormat=normalized", "timeFormat=original"),
    ("keys=none", "keys=both"), ("keys=series", "keys=obs"),
    ("timeFormat=original", "timeFormat=iso"),  # a bad query value the Accept header overrides
])
def test_the_accept_header_wins(api_client, accept, query):
    assert get(api_client, f"{SMALL}&{query}", f"{V20}; {accept}").content == get(api_client, SMALL, f"{V20}; {accept}").content


@pytest.mark.parametrize("query, accept, named", [
    ("", f"{V20}; labels=codes", "labels=codes"),
    ("", f"{V20}; labels=ID", "labels=ID"),
    ("", f"{V20}; timeFormat=iso", "timeFormat=iso"),
    ("", f"{V20}; keys=all", "keys=all"),
    ("", "text/csv; keys=true", "keys=true"),
    ("?labels=codes", V20, "labels=codes"),
    ("?timeFormat=iso", V20, "timeFormat=iso"),
    ("?keys=all", V20, "keys=all"),
    ("?format=csvdata&timeFormat=ISO", "*/*", "timeFormat=ISO"),
])
def test_bad_values_are_400_with_an_sdmx_error(api_client, query, accept, named):
    r = api_client.get(f"{ONE_SERIES}{query}", headers={"Accept": accept})
    assert r.status_code == 400
    code, text = sdmx_error(r)
    assert code == "140" and named in text


def test_negotiation_binds_the_media_type_options():
    fmt = negotiate("data", f"{V20}; keys=both; labels=name; timeFormat=normalized", None)
    assert fmt.name == "csvdata"
    assert fmt.media_type == f"{CONTENT_TYPE}; labels=name; timeFormat=normalized; keys=both"
    assert negotiate("data", "text/csv; keys=obs", None).media_type == f"{CONTENT_TYPE}; keys=obs"
    assert negotiate("data", V20, None) is REGISTRY["csvdata"]
    assert REGISTRY["csvdata"].serialise is sdmx_csv_20


def test_options_are_cached_apart(api_client):
    accepts = [V20, *(f"{V20}; keys={k}" for k in KEYS[1:]), f"{V20}; labels=name", f"{V20}; labels=both",
               f"{V20}; timeFormat=normalized", V20]
    bodies = [get(api_client, ONE_SERIES, a).content for a in accepts]
    assert len(set(bodies)) == len(accepts) - 1 and bodies[0] == bodies[-1]


# --- large answers: the columns, or the rows of the batches ------------------------------------

@pytest.mark.parametrize("options", ["keys=both", "keys=series", "keys=obs; timeFormat=normalized",
                                     "timeFormat=normalized"])
def test_keys_and_time_format_are_written_from_the_columns(two_ways, no_rows_from_batches, options):  # noqa: F811  # noqa: F811
    body = same_bytes(*two_ways, f"{DATA}/{FLOW}", {"Accept": f"{V20}; {options}"})
    head = header(body)
    assert ("SERIES_KEY" in head) == (options in ("keys=both", "keys=series"))
    assert ("OBS_KEY" in head) == ("keys=both" in options or "keys=obs" in options)
    assert (b",2019-10-01," in body) == ("normalized" in options)
    same_bytes(*two_ways, f"{DATA}/DF_NET_MIGR_RATE", {"Accept": f"{V20}; {options}"})


@pytest.mark.parametrize("options", ["labels=name", "labels=both; keys=both", "labels=name; timeFormat=normalized"])
def test_labels_are_written_from_the_rows_of_the_batches(two_ways, rows_from_batches, options):  # noqa: F811  # noqa: F811
    body = same_bytes(*two_ways, f"{DATA}/{FLOW}", {"Accept": f"{V20}; {options}", "Accept-Language": "az"})
    assert rows_from_batches, "the answer came as batches"
    assert ("STRUCTURE_NAME" in header(body)) == ("labels=name" in options)


# --- a real client ---------------------------------------------------------------------------

@pytest.mark.parametrize("options", ["labels=id", "keys=both", "timeFormat=normalized", "labels=name",
                                     "labels=both; keys=both; timeFormat=normalized"])
@pytest.mark.parametrize("flow_id", ["DF_RESPERM_TEMP", "DF_WORKPERM_VALID"])
def test_pysdmx_reads_it_back(api_client, ingested, flow_id, options):  # noqa: F811
    pysdmx_io = pytest.importorskip("pysdmx.io", reason="pysdmx is in the test extra")
    r = get(api_client, f"{DATA}/AZ_SMS,{flow_id},1.0", f"{V20}; {options}", "az")
    (ds,) = pysdmx_io.read_sdmx(r.text).get_datasets()
    assert ds.short_urn == f"Dataflow=AZ_SMS:{flow_id}(1.0)"
    dims = DIMS[flow_id]
    # pysdmx drops SERIES_KEY, OBS_KEY and the name columns, and the names of "id: name".
    assert list(ds.data.columns[:len(dims) + 2]) == [*dims, "TIME_PERIOD", "OBS_VALUE"]
    got = {}
    for row in ds.data.to_dict("records"):
        raw = row["OBS_VALUE"]
        value = None if raw in (None, "", "NaN") or (isinstance(raw, float) and math.isnan(raw)) else float(raw)
        got[(".".join(str(row[d]) for d in dims), str(row["TIME_PERIOD"]))] = value
    expected = ingested[flow_id]
    if "normalized" in options:
        expected = {(k, periods.bounds(p)[0].isoformat()): v for (k, p), v in expected.items()}
    assert got == expected


# --- the serialiser alone ---------------------------------------------------------------------

def message(content, rows_, **kw) -> DataMessage:
    flow = content.dataflow(FLOW)
    return DataMessage(
        message_id="IREF1", prepared=datetime(2025, 1, 1, tzinfo=UTC), dataflow=flow.document,
        dsd=flow.structure, codelists=flow.codelists, dimension_codes=[[] for _ in flow.dimension_ids],
        periods=sorted({r.period for r in rows_ if r.period}), rows=iter(rows_), lang="az",
        extra={"conceptschemes": [d for d in content.documents if d["kind"] == "conceptscheme"],
               **kw.pop("extra", {})}, **kw)


OBS = [Obs(("Q", "RU", "F", "_T", "_T"), "2024-Q1", 12, "A", "F"),
       Obs(("Q", "RU", "F", "_T", "_T"), "2024-Q2", None, "Q", "C")]


def written(msg: DataMessage, **options) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(sdmx_csv_20(msg, **options)).decode("utf-8"))))


def test_options_from_extra(content):
    # The query-string options, as the app passes them (extra), and the Accept ones winning.
    az = Names(content, FLOW, "az")
    body = written(message(content, OBS, extra={"labels": "name", "timeFormat": "normalized", "keys": "both"}))
    assert body[0][:6] == ["STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION", "SERIES_KEY", "OBS_KEY"]
    assert body[1][:9] == ["dataflow", "AZ_SMS:DF_RESPERM_TEMP(1.0)", "Verilmiş müvəqqəti yaşama icazələri", "I",
                           "Q.RU.F._T._T", "Q.RU.F._T._T.2024-Q1", "Q", "Rüblük", "RU"]
    # TIME_PERIOD, its (empty) name, OBS_VALUE (withheld), its (empty) name, the attributes and their names.
    assert body[2][16:] == ["2024-04-01", "", "", "", "PS", az.codes["UNIT_MEASURE"]["PS"],
                            "Q", az.codes["OBS_STATUS"]["Q"], "C", az.codes["CONF_STATUS"]["C"]]
    accept = written(message(content, OBS, extra={"labels": "name", "keys": "both"}), labels="id", keys="none")
    assert accept[0] == ["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ", "CITIZENSHIP", "SEX", "RESIDENCE_GROUND",
                         "REGION", "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS"]
    assert accept[2] == ["dataflow", "AZ_SMS:DF_RESPERM_TEMP(1.0)", "I", "Q", "RU", "F", "_T", "_T", "2024-Q2", "",
                         "PS", "Q", "C"]


@pytest.mark.parametrize("extra", [{"labels": "codes"}, {"timeFormat": "iso"}, {"keys": "all"}])
def test_bad_options_raise_before_anything_is_written(content, extra):
    with pytest.raises(SdmxError) as err:
        sdmx_csv_20(message(content, [], extra=extra))  # not iterated: raised on the call
    assert err.value.status == 400 and "=" in str(err.value)


def test_every_combination_has_as_many_cells_as_headers(content):
    for labels, time_format, keys in itertools.product(LABELS, TIME_FORMATS, KEYS):
        for observations in (True, False):
            rows_ = OBS if observations else [Obs(OBS[0].key, None, None, None, None)]
            body = written(message(content, list(rows_), observations=observations),
                           labels=labels, time_format=time_format, keys=keys)
            assert len(body) == 1 + len(rows_) and {len(r) for r in body} == {len(body[0])}
