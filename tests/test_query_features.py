"""Data query options: firstNObservations / lastNObservations, detail, attributes and
measures, dimensionAtObservation (time series, cross-sections, AllDimensions).

The expected cells are computed independently with pandas from what the publisher
released (the `ingested` fixture of test_sdmx_client); the service's answers are read
with pandas (SDMX-CSV), sdmx1 (SDMX-ML) or plain JSON, and validated against the
official schemas (structure-specific data against the schema the service serves for the
same dimensionAtObservation).
"""

from __future__ import annotations

import io
import math

import orjson
import pandas as pd
import pytest
import sdmx

from store import periods
from tests.jsonvalidation import sdmx_json_20_data_validator
from tests.test_api import sdmx_error
from tests.test_sdmx_client import DIMS, ingested  # noqa: F401 - the fixture, reused
from tests.xmlvalidation import validate_sdmxml21

FLOWS = ["DF_RESPERM_TEMP", "DF_WORKPERM_VALID"]
CSV = "application/vnd.sdmx.data+csv;version=2.0.0"
CSV10 = "application/vnd.sdmx.data+csv;version=1.0.0"
JSON = "application/vnd.sdmx.data+json;version=2.0.0"
SS = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
GENERIC = "application/vnd.sdmx.genericdata+xml;version=2.1"


def v2(flow_id: str, key: str = "*") -> str:
    return f"/sdmx/3.0/data/dataflow/AZ_SMS/{flow_id}/1.0/{key}"


def released(ingested, flow_id: str) -> pd.DataFrame:
    """The released cells of a dataflow as a frame: key, period, period start, value."""
    cells = ingested[flow_id]
    df = pd.DataFrame([(k, p, v) for (k, p), v in cells.items()], columns=["key", "period", "value"])
    df["start"] = [periods.bounds(p)[0] for p in df["period"]]
    return df.sort_values(["key", "start"])


def as_cells(df: pd.DataFrame) -> dict[tuple[str, str], float | None]:
    return {(k, p): (None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
            for k, p, v in zip(df["key"], df["period"], df["value"])}


def csv_cells(response, flow_id: str) -> dict[tuple[str, str], float | None]:
    assert response.status_code == 200, response.text
    df = pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)
    keys = df[DIMS[flow_id]].agg(".".join, axis=1)
    return {(k, p): (float(v) if v != "" else None)
            for k, p, v in zip(keys, df["TIME_PERIOD"], df["OBS_VALUE"])}


def sdmx1_cells(msg, flow_id: str) -> dict[tuple[str, str], float | None]:
    out = {}
    for ds in msg.data:
        for obs in ds.obs:
            key = obs.key.values  # series key and observation dimension(s) together
            value = None if obs.value in (None, "") or math.isnan(float(obs.value)) else float(obs.value)
            out[(".".join(key[d].value for d in DIMS[flow_id]), str(key["TIME_PERIOD"].value))] = value
    return out


@pytest.fixture(scope="module")
def dsds(api_client) -> dict:
    out = {}
    for flow_id in FLOWS:
        r = api_client.get(f"/sdmx/2.1/dataflow/AZ_SMS/{flow_id}/1.0?references=children")
        out[flow_id] = sdmx.read_sdmx(io.BytesIO(r.content)).structure[f"DSD{flow_id[2:]}"]
    return out


def schema_for(api_client, flow_id: str, dim_at_obs: str | None = None) -> bytes:
    query = f"?dimensionAtObservation={dim_at_obs}" if dim_at_obs else ""
    r = api_client.get(f"/sdmx/2.1/schema/dataflow/AZ_SMS/{flow_id}/1.0{query}")
    assert r.status_code == 200, r.text
    return r.content


# --- firstNObservations / lastNObservations ---------------------------------------------

@pytest.mark.parametrize("flow_id", FLOWS)
def test_last_two_observations_of_every_series(api_client, ingested, flow_id):
    want = as_cells(released(ingested, flow_id).groupby("key").tail(2))
    got = csv_cells(api_client.get(v2(flow_id) + "?lastNObservations=2", headers={"Accept": CSV}), flow_id)
    assert got == want
    # Every series keeps two observations (or all it has, if fewer).
    df = released(ingested, flow_id)
    counts = pd.Series([k for k, _ in got]).value_counts()
    assert (counts == df.groupby("key").size().clip(upper=2).loc[counts.index]).all()


@pytest.mark.parametrize("flow_id", FLOWS)
def test_first_observations_through_rest_v15(api_client, ingested, flow_id):
    want = as_cells(released(ingested, flow_id).groupby("key").head(3))
    got = csv_cells(api_client.get(f"/sdmx/2.1/data/{flow_id}?firstNObservations=3", headers={"Accept": CSV}),
                    flow_id)
    assert got == want


@pytest.mark.parametrize("flow_id", FLOWS)
def test_first_and_last_together_are_both_ends_of_each_series(api_client, ingested, flow_id):
    df = released(ingested, flow_id)
    want = as_cells(pd.concat([df.groupby("key").head(1), df.groupby("key").tail(2)]).drop_duplicates())
    got = csv_cells(api_client.get(v2(flow_id) + "?firstNObservations=1&lastNObservations=2",
                                   headers={"Accept": CSV}), flow_id)
    assert got == want


def test_last_observations_count_after_the_other_filters(api_client, ingested):
    """Keys, c[...] filters and periods select first; then the last N per series."""
    df = released(ingested, "DF_WORKPERM_VALID")
    parts = df["key"].str.split(".", expand=True)
    df = df[parts[1].isin(["F", "B"]) & (parts[3] == "_T") & (df["period"] <= "2024-Q4")]
    want = as_cells(df.groupby("key").tail(1))
    r = api_client.get(v2("DF_WORKPERM_VALID", "Q.F.*._T,Q.B.*._T") + "?c[TIME_PERIOD]=le:2024-Q4&lastNObservations=1",
                       headers={"Accept": CSV})
    assert csv_cells(r, "DF_WORKPERM_VALID") == want and want
    # v1.5: + in the key, endPeriod, and a version wildcard in the v2 path give the same.
    r = api_client.get("/sdmx/2.1/data/AZ_SMS,DF_WORKPERM_VALID,latest/Q.F+B.._T?endPeriod=2024-Q4&lastNObservations=1",
                       headers={"Accept": CSV})
    assert csv_cells(r, "DF_WORKPERM_VALID") == want
    r = api_client.get("/sdmx/3.0/data/dataflow/AZ_SMS/DF_WORKPERM_VALID/~/Q.*.*._T?c[ECON_ACTIVITY]=F,B"
                       "&c[TIME_PERIOD]=le:2024-Q4&lastNObservations=1", headers={"Accept": CSV})
    assert csv_cells(r, "DF_WORKPERM_VALID") == want


# --- offset / limit / sort (REST v2) -------------------------------------------------------

@pytest.mark.parametrize("flow_id", FLOWS)
def test_offset_and_limit_page_through_the_answer_in_its_order(api_client, ingested, flow_id):
    df = released(ingested, flow_id)  # series key, then period: the order answers come in
    total = len(df)
    pages = {}
    for offset, limit in ((0, 7), (5, 10), (total - 3, 10)):
        r = api_client.get(v2(flow_id) + f"?offset={offset}&limit={limit}", headers={"Accept": CSV})
        pages[offset] = csv_cells(r, flow_id)
        assert pages[offset] == as_cells(df.iloc[offset:offset + limit])
    assert len(pages[total - 3]) == 3  # the last page holds what is left
    # Past the end: nothing matches.
    assert api_client.get(v2(flow_id) + f"?offset={total}", headers={"Accept": CSV}).status_code == 404
    # The pages put together are the whole answer, and sort=* / series_key ask for this very order.
    step = max(1, total // 4 + 1)
    joined = {}
    for offset in range(0, total, step):
        r = api_client.get(v2(flow_id) + f"?offset={offset}&limit={step}&sort=series_key:asc", headers={"Accept": CSV})
        joined.update(csv_cells(r, flow_id))
    assert joined == as_cells(df)


def test_a_page_comes_after_the_other_filters_in_every_format(api_client, ingested, dsds):
    df = released(ingested, "DF_RESPERM_TEMP")
    df = df[df["key"].str.startswith("Q.RU.") & (df["period"] >= "2024-Q1")]
    want = as_cells(df.groupby("key").tail(2).iloc[3:9])
    query = v2("DF_RESPERM_TEMP", "Q.RU") + "?c[TIME_PERIOD]=ge:2024-Q1&lastNObservations=2&offset=3&limit=6&sort=*"
    assert csv_cells(api_client.get(query, headers={"Accept": CSV}), "DF_RESPERM_TEMP") == want
    msg = sdmx.read_sdmx(io.BytesIO(api_client.get(query, headers={"Accept": SS}).content),
                         structure=dsds["DF_RESPERM_TEMP"])
    assert sdmx1_cells(msg, "DF_RESPERM_TEMP") == want


@pytest.mark.parametrize("fmt", [SS, GENERIC])
def test_last_observations_read_back_by_sdmx1(api_client, ingested, dsds, fmt):
    want = as_cells(released(ingested, "DF_RESPERM_TEMP").groupby("key").tail(2))
    r = api_client.get(v2("DF_RESPERM_TEMP") + "?lastNObservations=2", headers={"Accept": fmt})
    msg = sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds["DF_RESPERM_TEMP"])
    assert sdmx1_cells(msg, "DF_RESPERM_TEMP") == want


# --- detail (v1.5), attributes and measures (v2) ----------------------------------------

def test_serieskeysonly_has_series_keys_and_no_observations(api_client, ingested, dsds):
    keys = {k for k, _ in ingested["DF_RESPERM_TEMP"] if k.startswith("Q.RU.")}
    url = "/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU?detail=serieskeysonly"
    for fmt in (GENERIC, SS):
        r = api_client.get(url, headers={"Accept": fmt})
        msg = sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds["DF_RESPERM_TEMP"])
        assert {".".join(v.value for v in sk.values.values()) for sk in msg.data[0].series} == keys
        assert not msg.data[0].obs
        assert b"<Obs" not in r.content and b"generic:Obs" not in r.content
        assert b"UNIT_MEASURE" not in r.content.split(b"</message:Header>")[1]
    assert validate_sdmxml21(api_client.get(url, headers={"Accept": GENERIC}).content) == []
    data = orjson.loads(api_client.get(url, headers={"Accept": JSON}).content)
    assert list(sdmx_json_20_data_validator().iter_errors(data)) == []
    series = data["data"]["dataSets"][0]["series"]
    assert len(series) == len(keys) and all(s == {} for s in series.values())
    rows = api_client.get(url, headers={"Accept": CSV}).text.splitlines()
    assert rows[0].endswith("REGION,TIME_PERIOD") and len(rows) == 1 + len(keys)


def test_nodata_has_series_attributes_and_no_observations(api_client, ingested, dsds):
    keys = {k for k, _ in ingested["DF_RESPERM_TEMP"] if k.startswith("Q.RU.")}
    url = "/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU?detail=nodata"
    r = api_client.get(url, headers={"Accept": SS})
    assert validate_sdmxml21(r.content, schema_for(api_client, "DF_RESPERM_TEMP")) == []
    msg = sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds["DF_RESPERM_TEMP"])
    assert len(msg.data[0].series) == len(keys) and not msg.data[0].obs
    assert {sk.attrib["UNIT_MEASURE"].value for sk in msg.data[0].series} == {"PS"}
    r = api_client.get(url, headers={"Accept": GENERIC})
    assert validate_sdmxml21(r.content) == [] and b"generic:Obs" not in r.content
    assert r.content.count(b'<generic:Value id="UNIT_MEASURE" value="PS"/>') == len(keys)
    data = orjson.loads(api_client.get(url, headers={"Accept": JSON}).content)
    assert list(sdmx_json_20_data_validator().iter_errors(data)) == []
    assert all(list(s) == ["attributes"] for s in data["data"]["dataSets"][0]["series"].values())
    assert api_client.get(url, headers={"Accept": CSV}).text.splitlines()[0].endswith("TIME_PERIOD,UNIT_MEASURE")
    # SDMX-CSV 1.0 is one row per observation: it cannot say this.
    r = api_client.get(url, headers={"Accept": CSV10})
    assert r.status_code == 501 and sdmx_error(r)[0] == "501"


def test_dataonly_has_no_attributes_and_the_same_numbers(api_client, ingested, dsds):
    want = {c: v for c, v in ingested["DF_RESPERM_TEMP"].items() if c[0].startswith("Q.TR.")}
    url = "/sdmx/2.1/data/DF_RESPERM_TEMP/Q.TR?detail=dataonly"
    for fmt in (GENERIC, SS):
        r = api_client.get(url, headers={"Accept": fmt})
        body = r.content.split(b"</message:Header>")[1]
        assert not any(a in body for a in (b"UNIT_MEASURE", b"OBS_STATUS", b"CONF_STATUS"))
        msg = sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds["DF_RESPERM_TEMP"])
        assert sdmx1_cells(msg, "DF_RESPERM_TEMP") == want
    assert validate_sdmxml21(api_client.get(url, headers={"Accept": GENERIC}).content) == []
    data = orjson.loads(api_client.get(url, headers={"Accept": JSON}).content)
    assert list(sdmx_json_20_data_validator().iter_errors(data)) == []
    assert data["data"]["structures"][0]["attributes"] == {"series": [], "observation": []}
    for fmt in (CSV, CSV10):
        r = api_client.get(url, headers={"Accept": fmt})
        assert csv_cells(r, "DF_RESPERM_TEMP") == want
        assert r.text.splitlines()[0].endswith("TIME_PERIOD,OBS_VALUE")


def test_attributes_and_measures_choose_the_components(api_client):
    url = v2("DF_RESPERM_TEMP", "Q.RU.F._T._T") + "?lastNObservations=1"
    header = api_client.get(url + "&attributes=OBS_STATUS", headers={"Accept": CSV}).text.splitlines()[0]
    assert header.endswith("TIME_PERIOD,OBS_VALUE,OBS_STATUS")
    header = api_client.get(url + "&attributes=series", headers={"Accept": CSV}).text.splitlines()[0]
    assert header.endswith("OBS_VALUE,UNIT_MEASURE")
    header = api_client.get(url + "&attributes=none&measures=none", headers={"Accept": CSV}).text.splitlines()[0]
    assert header.endswith("REGION,TIME_PERIOD")
    r = api_client.get(url + "&attributes=obs&measures=none", headers={"Accept": JSON})
    data = orjson.loads(r.content)
    assert list(sdmx_json_20_data_validator().iter_errors(data)) == []
    structure = data["data"]["structures"][0]
    assert structure["measures"] == {"observation": []}
    assert [a["id"] for a in structure["attributes"]["observation"]] == ["OBS_STATUS", "CONF_STATUS"]
    r = api_client.get(url + "&measures=OBS_VALUE&attributes=dsd", headers={"Accept": GENERIC})
    assert b"ObsValue" in r.content and b"UNIT_MEASURE" in r.content
    assert b"ObsValue" not in api_client.get(url + "&measures=none", headers={"Accept": GENERIC}).content


# --- dimensionAtObservation ---------------------------------------------------------------

@pytest.mark.parametrize("flow_id", FLOWS)
def test_all_dimensions_validates_and_reads_back(api_client, ingested, dsds, flow_id):
    want = ingested[flow_id]
    url = v2(flow_id) + "?dimensionAtObservation=AllDimensions"
    r = api_client.get(url, headers={"Accept": SS})
    assert b"<Series" not in r.content
    assert validate_sdmxml21(r.content, schema_for(api_client, flow_id, "AllDimensions")) == []
    msg = sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds[flow_id])
    assert not msg.data[0].series and sdmx1_cells(msg, flow_id) == want
    r = api_client.get(url, headers={"Accept": GENERIC})
    assert validate_sdmxml21(r.content) == [] and b"generic:ObsKey" in r.content
    assert sdmx1_cells(sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds[flow_id]), flow_id) == want


@pytest.mark.parametrize("flow_id", FLOWS)
def test_all_dimensions_in_sdmx_json(api_client, ingested, flow_id):
    r = api_client.get(v2(flow_id) + "?dimensionAtObservation=AllDimensions", headers={"Accept": JSON})
    data = orjson.loads(r.content)
    assert list(sdmx_json_20_data_validator().iter_errors(data)) == []
    structure, dataset = data["data"]["structures"][0], data["data"]["dataSets"][0]
    obs_dims = structure["dimensions"]["observation"]
    assert [d["id"] for d in obs_dims] == [*DIMS[flow_id], "TIME_PERIOD"]
    assert structure["dimensions"]["series"] == [] and "series" not in dataset
    got = {}
    for key, values in dataset["observations"].items():
        codes = [d["values"][int(i)]["id"] for d, i in zip(obs_dims, key.split(":"))]
        got[(".".join(codes[:-1]), codes[-1])] = None if values[0] is None else float(values[0])
    assert got == ingested[flow_id]


def test_another_dimension_at_the_observation_level(api_client, ingested, dsds):
    """A cross-section by SEX: series keyed by every other dimension and the period."""
    want = {c: v for c, v in ingested["DF_RESPERM_TEMP"].items() if c[0].startswith("Q.RU.")}
    url = "/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU?dimensionAtObservation=SEX"
    r = api_client.get(url, headers={"Accept": SS})
    assert validate_sdmxml21(r.content, schema_for(api_client, "DF_RESPERM_TEMP", "SEX")) == []
    msg = sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds["DF_RESPERM_TEMP"])
    assert sdmx1_cells(msg, "DF_RESPERM_TEMP") == want
    assert all("TIME_PERIOD" in sk.values and "SEX" not in sk.values for sk in msg.data[0].series)
    r = api_client.get(url, headers={"Accept": GENERIC})
    assert validate_sdmxml21(r.content) == []
    assert sdmx1_cells(sdmx.read_sdmx(io.BytesIO(r.content), structure=dsds["DF_RESPERM_TEMP"]),
                       "DF_RESPERM_TEMP") == want
    data = orjson.loads(api_client.get(url, headers={"Accept": JSON}).content)
    assert list(sdmx_json_20_data_validator().iter_errors(data)) == []
    dims = data["data"]["structures"][0]["dimensions"]
    assert [d["id"] for d in dims["observation"]] == ["SEX"]
    assert [d["id"] for d in dims["series"]][-1] == "TIME_PERIOD"


def test_the_schema_follows_the_dimension_at_observation(api_client):
    for dim_at_obs in ("TIME_PERIOD", "AllDimensions", "SEX"):
        r = api_client.get(f"/sdmx/2.1/schema/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0?dimensionAtObservation={dim_at_obs}")
        assert r.status_code == 200
        assert r.headers["x-sdmx-namespace"].endswith(f":ObsLevelDim:{dim_at_obs}")
    r = api_client.get("/sdmx/2.1/schema/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0?dimensionAtObservation=NOPE")
    assert r.status_code == 400 and sdmx_error(r)[0] == "140"


# --- bad values ------------------------------------------------------------------------

@pytest.mark.parametrize("query, status", [
    ("lastNObservations=0", 400), ("lastNObservations=-1", 400), ("lastNObservations=two", 400),
    ("firstNObservations=1.5", 400), ("firstNObservations=", 400),
    ("lastNObservations=1&lastNObservations=2", 400),
    ("detail=everything", 400), ("dimensionAtObservation=NOPE", 400), ("dimensionAtObservation=1A", 400),
    ("attributes=NOPE", 400), ("attributes=none,dsd", 400), ("measures=PRICE", 400), ("measures=none,all", 400),
    ("attributes=msd", 501), ("includeHistory=yes", 400), ("asOf=2025-13-01T00:00:00Z", 400),
    ("asOf=2025-01-01T00:00:00Z&updatedAfter=2025-06-01T00:00:00Z", 400),
    ("detail=serieskeysonly&dimensionAtObservation=AllDimensions", 501),
    ("limit=0", 400), ("limit=-3", 400), ("offset=-1", 400), ("offset=x", 400), ("limit=1&limit=2", 400),
    ("sort=a b", 400), ("sort=TIME_PERIOD:desc", 501), ("sort=SEX%2BFREQ", 501),
    ("detail=serieskeysonly&limit=5", 501), ("sort=*&dimensionAtObservation=SEX", 501),
    ("reportingYearStartDay=--07-01", 501),
])
def test_bad_values_get_an_sdmx_error(api_client, query, status):
    r = api_client.get(f"/sdmx/2.1/data/DF_RESPERM_TEMP?{query}")
    assert r.status_code == status, r.text
    assert sdmx_error(r)[0] == ("140" if status == 400 else "501")
    r = api_client.get(v2("DF_RESPERM_TEMP") + f"?{query}", headers={"Accept": JSON})
    assert r.status_code == status
    assert orjson.loads(r.content)  # an SDMX-JSON error body
