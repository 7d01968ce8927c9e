"""SDMX-CSV 1.0.0 data (api.formats.sdmxcsv10), through the API on each backend.

Readers: sdmx1 2.28 reads SDMX-CSV 2.x only (sdmx/reader/csv.py wants the header to start
``STRUCTURE,STRUCTURE_ID``; it lists the 1.0.0 media type but rejects a 1.0 message), so
the numbers are checked against the SDMX-CSV 2.0 response of the same query (both parsed
with the csv module) and against the numbers the publisher released (the ``ingested``
fixture of tests/test_sdmx_client.py). pysdmx reads SDMX-CSV 1.0 (``pysdmx.io.read_sdmx``;
it needs the ``pysdmx[data]`` extra, for pandas and pyarrow): its tests are skipped when
it is not installed.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

import pytest
import requests
from lxml import etree

from api.errors import SdmxError
from api.formats import REGISTRY, DataMessage, Obs
from api.formats.chunks import CHUNK
from api.formats.sdmxcsv10 import normalized_period, sdmx_csv_10
from api.negotiation import negotiate
from store import periods
from tests.test_sdmx_client import ingested  # noqa: F401 - fixture: the released numbers

V10 = "application/vnd.sdmx.data+csv;version=1.0.0"
V20 = "application/vnd.sdmx.data+csv;version=2.0.0"
DATA = "/sdmx/2.1/data"
FLOWS = ["DF_RESPERM_TEMP", "DF_WORKPERM_VALID"]
NS = {"m": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
      "c": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"}


def rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def records(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def get(client, path: str, accept: str = V10, **headers):
    r = client.get(path, headers={"Accept": accept, **headers})
    assert r.status_code == 200, r.text
    return r


def sdmx_error(response) -> tuple[str, str]:
    root = etree.fromstring(response.content)
    msg = root.find("m:ErrorMessage", NS)
    return msg.get("code"), msg.findtext("c:Text", namespaces=NS)


def names_in(content, lang: str):
    """(component id -> concept name, (component id, code) -> code name) from the content."""
    concepts = {(d["id"], c["id"]): c["name"][lang] for d in content.documents
                if d["kind"] == "conceptscheme" for c in d["concepts"]}

    def lookup(flow):
        dsd = flow.structure
        comps = dsd["dimensions"] + [dsd["time_dimension"]] + dsd["attributes"]
        heads = {c["id"]: concepts[(c["concept"]["id"], c["concept"]["item"])] for c in comps}
        codes = {(comp, c["id"]): c["name"][lang] for comp, cl in flow.codelists.items() for c in cl["codes"]}
        return heads, codes

    return lookup


# --- negotiation -------------------------------------------------------------------------

@pytest.mark.parametrize("accept", [
    V10,
    "application/vnd.sdmx.data+csv; version=1.0",
    'application/vnd.sdmx.data+csv; version="1.0.0"',
    "image/png, application/vnd.sdmx.data+csv;version=1.0.0;q=0.5, text/csv;q=0.1",
])
def test_accept_header_chooses_sdmx_csv_10(api_client, accept):
    r = get(api_client, f"{DATA}/DF_RESPERM_TEMP/Q.RU.F._T._T", accept)
    assert r.headers["content-type"] == "application/vnd.sdmx.data+csv; charset=utf-8; version=1.0.0"
    assert r.text.startswith("DATAFLOW,FREQ,CITIZENSHIP,")


@pytest.mark.parametrize("fmt", ["csvdata10", "CSV10"])
def test_format_parameter_chooses_sdmx_csv_10(api_client, fmt):
    r = get(api_client, f"{DATA}/DF_RESPERM_TEMP/Q.RU.F._T._T?format={fmt}", "application/xml")
    assert "version=1.0.0" in r.headers["content-type"]
    assert r.text.startswith("DATAFLOW,")


@pytest.mark.parametrize("accept, fmt", [(V20, None), ("text/csv", None), ("application/vnd.sdmx.data+csv", None),
                                         ("application/xml", "csv"), ("application/xml", "csvdata")])
def test_unversioned_csv_stays_sdmx_csv_20(api_client, accept, fmt):
    query = f"?format={fmt}" if fmt else ""
    r = get(api_client, f"{DATA}/DF_RESPERM_TEMP/Q.RU.F._T._T{query}", accept)
    assert "version=2.0.0" in r.headers["content-type"]
    assert r.text.startswith("STRUCTURE,STRUCTURE_ID,ACTION,")


def test_negotiation_binds_the_media_type_options():
    fmt = negotiate("data", f"{V10}; labels=both; timeFormat=normalized", None)
    assert fmt.name == "csvdata10" and fmt.kind == "data"
    assert fmt.media_type.endswith("version=1.0.0; labels=both; timeFormat=normalized")
    assert REGISTRY["csvdata10"].serialise is sdmx_csv_10
    assert negotiate("data", V10, None) is REGISTRY["csvdata10"]


# --- layout ------------------------------------------------------------------------------

@pytest.mark.parametrize("flow_id", FLOWS)
def test_header_row_and_dataflow_column(api_client, content, flow_id):
    flow = content.dataflow(flow_id)
    body = rows(get(api_client, f"{DATA}/{flow_id}").content)
    assert body[0] == ["DATAFLOW", *flow.dimension_ids, "TIME_PERIOD", "OBS_VALUE",
                       *(a["id"] for a in flow.structure["attributes"])]
    assert len(body) > 1 and all(len(r) == len(body[0]) for r in body)
    assert {r[0] for r in body[1:]} == {f"AZ_SMS:{flow_id}(1.0)"}


@pytest.mark.parametrize("flow_id", FLOWS)
def test_every_number_equals_sdmx_csv_20_and_the_release(api_client, content, ingested, flow_id):
    dims = content.dataflow(flow_id).dimension_ids
    attrs = [a["id"] for a in content.dataflow(flow_id).structure["attributes"]]

    def cells(body: bytes) -> list[tuple]:
        return [(".".join(r[d] for d in dims), r["TIME_PERIOD"], r["OBS_VALUE"], *(r[a] for a in attrs))
                for r in records(body)]

    v10 = cells(get(api_client, f"{DATA}/{flow_id}").content)
    v20 = cells(get(api_client, f"{DATA}/{flow_id}", V20).content)
    assert v10 == v20 and len(v10) == len(ingested[flow_id])
    assert {(k, p): float(v) if v else None for k, p, v, *_ in v10} == ingested[flow_id]


def test_withheld_cell(api_client, ingested):
    withheld = sorted((k, p) for (k, p), v in ingested["DF_RESPERM_TEMP"].items() if v is None)
    assert withheld, "the demonstration data has withheld cells"
    key, period = withheld[0]
    (row,) = records(get(api_client, f"{DATA}/DF_RESPERM_TEMP/{key}?startPeriod={period}&endPeriod={period}").content)
    assert (row["TIME_PERIOD"], row["OBS_VALUE"], row["OBS_STATUS"], row["CONF_STATUS"]) == (period, "", "Q", "C")
    assert row["UNIT_MEASURE"] == "PS"


# --- labels=both -------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["query", "accept"])
def test_labels_both_in_azerbaijani(api_client, content, how):
    flow = content.dataflow("DF_RESPERM_TEMP")
    path = f"{DATA}/DF_RESPERM_TEMP/Q..F.._T?startPeriod=2024-Q1"
    if how == "query":
        r = get(api_client, f"{path}&labels=both", **{"Accept-Language": "az"})
    else:
        r = get(api_client, path, f"{V10};labels=both", **{"Accept-Language": "az"})
        assert r.headers["content-type"].endswith("; labels=both")
    text = r.content.decode("utf-8")
    assert set("əğıöüçş") <= set(text)  # every Azerbaijani letter, intact in UTF-8
    labelled = rows(r.content)
    plain = rows(get(api_client, path, **{"Accept-Language": "az"}).content)
    assert len(labelled) == len(plain) > 1

    heads, codes = names_in(content, "az")(flow)
    # Headers: "ID: Name" but the fixed terms DATAFLOW and OBS_VALUE.
    assert labelled[0] == [h if h in ("DATAFLOW", "OBS_VALUE") else f"{h}: {heads[h]}" for h in plain[0]]
    assert labelled[0][3] == "SEX: Cins"
    coded = set(flow.codelists)
    for lab, ids in zip(labelled[1:], plain[1:]):
        assert lab[0] == "AZ_SMS:DF_RESPERM_TEMP(1.0): Verilmiş müvəqqəti yaşama icazələri"
        for head, cell, code in zip(plain[0][1:], lab[1:], ids[1:]):
            if head in coded and code:
                assert cell == f"{code}: {codes[(head, code)]}"
            else:  # TIME_PERIOD, OBS_VALUE and empty attributes are not labelled
                assert cell == code
    assert "F: Qadın" in {r[3] for r in labelled[1:]}


def test_labels_both_follows_accept_language(api_client):
    path = f"{DATA}/DF_RESPERM_TEMP/Q.RU.F._T._T?labels=both"
    en = rows(get(api_client, path, **{"Accept-Language": "en"}).content)
    ru = rows(get(api_client, path, **{"Accept-Language": "ru-RU, en;q=0.5"}).content)
    assert en[0][3] == "SEX: Sex" and en[1][3] == "F: Female"
    assert en[1][0] == "AZ_SMS:DF_RESPERM_TEMP(1.0): Temporary residence permits issued"
    assert ru[1][3].startswith("F: ") and re.search("[а-яА-Я]", ru[1][3])


# --- timeFormat --------------------------------------------------------------------------

@pytest.mark.parametrize("period, date", [("2024", "2024-01-01"), ("2024-Q1", "2024-01-01"),
                                          ("2024-Q4", "2024-10-01"), ("2024-07", "2024-07-01"),
                                          ("2024-07-15", "2024-07-15")])
def test_normalized_period_is_the_first_day(period, date):
    assert normalized_period(period) == date


def test_time_format_normalized(api_client):
    path = f"{DATA}/DF_WORKPERM_VALID/Q.F.._T._T"
    normal = get(api_client, path, f"{V10}; timeFormat=normalized")
    assert normal.headers["content-type"].endswith("; timeFormat=normalized")
    original = rows(get(api_client, path).content)
    normal = rows(normal.content)
    assert normal[0] == original[0] and len(normal) == len(original) > 1
    t = original[0].index("TIME_PERIOD")
    for n, o in zip(normal[1:], original[1:]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", n[t]) and n[t] == periods.bounds(o[t])[0].isoformat()
        assert n[:t] + n[t + 1:] == o[:t] + o[t + 1:]
    both = rows(get(api_client, path, f"{V10}; labels=both; timeFormat=original").content)
    assert [r[t] for r in both[1:]] == [r[t] for r in original[1:]]


def test_time_format_as_a_query_parameter(api_client):
    body = rows(get(api_client, f"{DATA}/DF_WORKPERM_VALID/Q.F.._T._T?timeFormat=normalized").content)
    assert body[1][body[0].index("TIME_PERIOD")].count("-") == 2


def test_options_are_cached_apart(api_client):
    path = f"{DATA}/DF_RESPERM_TEMP/Q.TR.M._T._T"
    bodies = {get(api_client, path, accept).content
              for accept in (V10, f"{V10};labels=both", f"{V10};timeFormat=normalized", V10)}
    assert len(bodies) == 3


# --- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("query, accept", [
    ("?format=csvdata10&labels=name", "*/*"),  # labels=name is SDMX-CSV 2.0 only
    ("?labels=name", V10),
    ("?labels=codes", V10),
    ("", f"{V10}; labels=name"),
    ("", f"{V10}; timeFormat=iso"),
])
def test_bad_options_are_400_with_an_sdmx_error(api_client, query, accept):
    r = api_client.get(f"{DATA}/DF_RESPERM_TEMP/Q.RU.F._T._T{query}", headers={"Accept": accept})
    assert r.status_code == 400
    code, text = sdmx_error(r)
    assert code == "140" and ("labels=" in text or "timeFormat=" in text)


# --- readers -----------------------------------------------------------------------------

@pytest.mark.parametrize("labels", ["id", "both"])
@pytest.mark.parametrize("flow_id", FLOWS)
def test_pysdmx_reads_it_back(live_server, ingested, content, flow_id, labels):
    pysdmx_io = pytest.importorskip("pysdmx.io", reason="pysdmx is not installed")
    pytest.importorskip("pyarrow", reason="pysdmx[data] is not installed")
    r = requests.get(f"{live_server.base}{DATA}/{flow_id}?labels={labels}",
                     headers={"Accept": V10, "Accept-Language": "az"}, timeout=60)
    assert r.status_code == 200
    (ds,) = pysdmx_io.read_sdmx(io.BytesIO(r.content)).data
    assert ds.short_urn == f"Dataflow=AZ_SMS:{flow_id}(1.0)"
    df = ds.data
    dims = content.dataflow(flow_id).dimension_ids
    keys = df[dims].astype(str).agg(".".join, axis=1)
    got = {(k, p): float(v) if v not in ("", "NaN") else None
           for k, p, v in zip(keys, df["TIME_PERIOD"].astype(str), df["OBS_VALUE"].astype(str))}
    assert got == ingested[flow_id]
    withheld = df[df["OBS_VALUE"].astype(str).isin(["", "NaN"])]
    assert set(withheld["OBS_STATUS"]) <= {"Q"} and set(withheld["CONF_STATUS"]) <= {"C"}


# --- the serialiser alone ------------------------------------------------------------------

def message(content, rows_, *, extra=None) -> DataMessage:
    flow = content.dataflow("DF_RESPERM_TEMP")
    return DataMessage(
        message_id="IREF1", prepared=datetime(2025, 1, 1, tzinfo=timezone.utc), dataflow=flow.document,
        dsd=flow.structure, codelists=flow.codelists, dimension_codes=[[] for _ in flow.dimension_ids],
        periods=sorted({r.period for r in rows_}), rows=iter(rows_), lang="az",
        extra={"conceptschemes": [d for d in content.documents if d["kind"] == "conceptscheme"],
               **(extra or {})})


def test_bad_options_raise_before_anything_is_written(content):
    for extra in ({"labels": "name"}, {"timeFormat": "iso"}):
        with pytest.raises(SdmxError) as err:
            sdmx_csv_10(message(content, [], extra=extra))  # not iterated: raised on the call
        assert err.value.status == 400


def test_streams_in_chunks(content):
    obs = [Obs(("Q", "RU", "F", "_T", "_T"), f"{2000 + i // 4}-Q{i % 4 + 1}", i, "A", "F") for i in range(9000)]
    obs.append(Obs(("Q", "RU", "M", "_T", "_T"), "2024-Q1", None, "Q", "C"))
    chunks = list(sdmx_csv_10(message(content, obs, extra={"timeFormat": "normalized"})))
    assert len(chunks) > 1 and all(len(c) >= CHUNK for c in chunks[:-1])
    body = rows(b"".join(chunks))
    assert len(body) == 1 + len(obs)
    assert body[1] == ["AZ_SMS:DF_RESPERM_TEMP(1.0)", "Q", "RU", "F", "_T", "_T", "2000-01-01", "0", "PS", "A", "F"]
    assert body[-1] == ["AZ_SMS:DF_RESPERM_TEMP(1.0)", "Q", "RU", "M", "_T", "_T", "2024-01-01", "", "PS", "Q", "C"]
