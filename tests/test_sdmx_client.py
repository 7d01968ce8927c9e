"""A real SDMX client (sdmx1) against a live server on each backend.

The server is uvicorn on 127.0.0.1 serving the demonstration data published into a
fresh store; the numbers read back must be exactly those released (after disclosure
control), withheld cells as missing values.
"""

from __future__ import annotations

import io
import math

import pytest
import requests
import sdmx

from sqlalchemy import select

from publisher.extract import read_extract
from store.db import make_engine
from store.schema import staging_protection

from publisher.content import load

# Every dataflow of the shipped content, with its dimensions in order.
FLOWS = sorted(load().dataflows)
DIMS = {flow_id: flow.dimension_ids for flow_id, flow in load().dataflows.items()}
FORMATS = {
    "structure-specific": "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
    "generic": "application/vnd.sdmx.genericdata+xml;version=2.1",
    "SDMX-CSV 2.0": "application/vnd.sdmx.data+csv;version=2.0.0",
}


@pytest.fixture(scope="module")
def ingested(content, demo_files, published_store) -> dict[str, dict[tuple[str, str], float | None]]:
    """What the publisher released: (series key, period) -> value (None: withheld), per
    dataflow. The cells are those of the ingested extracts; the values those that
    disclosure control decided (its private log), which the API must serve exactly."""
    engine = make_engine(published_store)
    with engine.connect() as conn:
        log = {(r.dataflow.split(":")[1].split("(")[0], r.series_key, r.time_period): r.public_value
               for r in conn.execute(select(staging_protection))}
    engine.dispose()
    out = {}
    for flow_id, path in demo_files.items():
        obs = read_extract(path, content.dataflow(flow_id)).observations
        out[flow_id] = {(k, p): log[(flow_id, k, p)] for k, p in zip(obs["series_key"], obs["TIME_PERIOD"])}
    return out


@pytest.fixture(scope="module")
def client(live_server) -> sdmx.Client:
    sdmx.add_source({"id": "AZ_SMS", "url": f"{live_server.base}/sdmx/2.1", "name": "Test server",
                     "supports": {"structure-specific data": True, "preview": False}}, override=True)
    return sdmx.Client("AZ_SMS")


@pytest.fixture(scope="module")
def client_v2(live_server) -> sdmx.Client:
    sdmx.add_source({"id": "AZ_SMS_V2", "url": f"{live_server.base}/sdmx/3.0", "name": "Test server v2",
                     "versions": ["3.0.0"],
                     "supports": {"structure-specific data": True, "preview": False}}, override=True)
    return sdmx.Client("AZ_SMS_V2")


def as_dict(msg: sdmx.message.DataMessage, dims: list[str]) -> dict[tuple[str, str], float]:
    out = {}
    for ds in msg.data:
        for obs in ds.obs:
            key = obs.key.values  # series key and observation dimension together
            # A withheld observation has no value: None, NaN or '' depending on the reader.
            value = None if obs.value in (None, "") or math.isnan(float(obs.value)) else float(obs.value)
            out[(".".join(key[d].value for d in dims), str(key["TIME_PERIOD"].value))] = value
    return out


def test_dataflows_structures_and_codelists(client, content):
    msg = client.dataflow()
    assert sorted(msg.dataflow) == FLOWS
    assert str(msg.dataflow["DF_RESPERM_TEMP"].name.localizations["az"]) == "Verilmiş müvəqqəti yaşama icazələri"

    msg = client.dataflow("DF_RESPERM_TEMP", params={"references": "all"})
    dsd = msg.structure["DSD_RESPERM_TEMP"]
    assert [d.id for d in dsd.dimensions] == ["FREQ", "CITIZENSHIP", "SEX", "RESIDENCE_GROUND", "REGION",
                                              "TIME_PERIOD"]
    cl = msg.codelist["CL_REGION"]
    assert cl["SHAKI_ZAGATALA"].name.localizations == {"az": "Şəki-Zaqatala", "en": "Shaki-Zagatala",
                                                       "ru": "Шеки-Загатала"}
    assert cl["SHAKI_ZAGATALA"].parent.id == "_T"
    assert len(msg.codelist["CL_AREA"]) == len(content.dataflow("DF_RESPERM_TEMP").codelists["CITIZENSHIP"]["codes"])

    codelist = client.codelist("CL_SEX").codelist["CL_SEX"]
    assert codelist["F"].name.localizations["az"] == "Qadın"
    assert client.conceptscheme("CS_MIGR").concept_scheme["CS_MIGR"]["CITIZENSHIP"].name.localizations["en"] == "Citizenship"
    cats = client.categoryscheme("CAT_MIGR", params={"references": "parentsandsiblings"})
    assert {c.artefact.id for c in cats.categorisation.values()} == set(FLOWS)


@pytest.mark.parametrize("flow_id", FLOWS)
@pytest.mark.parametrize("fmt", ["structure-specific", "generic"])
def test_every_number_reads_back_exactly(client, ingested, flow_id, fmt):
    dsd = client.dataflow(flow_id, params={"references": "children"}).structure[f"DSD{flow_id[2:]}"]
    msg = client.data(flow_id, dsd=dsd, headers={"Accept": FORMATS[fmt]})
    assert as_dict(msg, DIMS[flow_id]) == ingested[flow_id]


@pytest.mark.parametrize("flow_id", FLOWS)
def test_sdmx_csv_reads_back_exactly(client, live_server, ingested, flow_id):
    flow = client.dataflow(flow_id, params={"references": "all"}).dataflow[flow_id]
    r = requests.get(f"{live_server.base}/sdmx/2.1/data/{flow_id}", headers={"Accept": FORMATS["SDMX-CSV 2.0"]})
    assert r.headers["content-type"].startswith("application/vnd.sdmx.data+csv")
    msg = sdmx.read_sdmx(io.BytesIO(r.content), format="csv", structure=flow)
    assert as_dict(msg, DIMS[flow_id]) == ingested[flow_id]


def test_keys_and_periods_select_exactly_the_cells_asked_for(client, ingested):
    dsd = client.dataflow("DF_RESPERM_TEMP", params={"references": "children"}).structure["DSD_RESPERM_TEMP"]
    msg = client.data("DF_RESPERM_TEMP", key="Q.RU+TR.F+M._T._T", dsd=dsd,
                      params={"startPeriod": "2024-Q2", "endPeriod": "2025-Q1"})
    got = as_dict(msg, DIMS["DF_RESPERM_TEMP"])
    want = {(k, p): v for (k, p), v in ingested["DF_RESPERM_TEMP"].items()
            if k.split(".")[1] in ("RU", "TR") and k.split(".")[2] in ("F", "M") and k.endswith("._T._T")
            and "2024-Q2" <= p <= "2025-Q1"}
    assert got == want and len(got) == 2 * 2 * 4


def test_rest_v2_paths_with_component_filters(client_v2, client, ingested):
    dsd = client.dataflow("DF_WORKPERM_VALID", params={"references": "children"}).structure["DSD_WORKPERM_VALID"]
    # sdmx1 builds the REST v2 URL but cannot send c[...] filters: add them to its URL.
    url = client_v2.data("DF_WORKPERM_VALID", agency_id="AZ_SMS", key="Q.*.*._T.*", dry_run=True).url
    r = requests.get(url, params={"c[ECON_ACTIVITY]": "F,B", "c[TIME_PERIOD]": "ge:2025-Q1+le:2025-Q2",
                                  "c[SEX]": "ne:_T"}, headers={"Accept": FORMATS["generic"]})
    assert r.status_code == 200, r.text
    got = as_dict(sdmx.read_sdmx(io.BytesIO(r.content), structure=dsd), DIMS["DF_WORKPERM_VALID"])
    want = {(k, p): v for (k, p), v in ingested["DF_WORKPERM_VALID"].items()
            if k.split(".")[1] in ("F", "B") and k.split(".")[3] == "_T" and k.split(".")[4] != "_T"
            and p in ("2025-Q1", "2025-Q2")}
    assert got == want and got
    # Structures by the v2 path too.
    flows = client_v2.dataflow("DF_WORKPERM_VALID", agency_id="AZ_SMS", params={"references": "all"})
    assert "CL_NACE" in flows.codelist
