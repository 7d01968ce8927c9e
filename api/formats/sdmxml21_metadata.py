"""Reference metadata in SDMX-ML 2.1: metadata structures and metadataflows inside
structure messages, and metadata sets as GenericMetadata messages.

sdmx1 writes the MSD (the structure of SIMS) from its own objects (store.documents.
build_model); what it cannot write validly is written here with lxml:

* the metadataflow: sdmx1 2.28 has no writer for it, so a structure message would
  silently leave it out;
* the order of a structure message: sdmx1 puts MetadataStructures after DataStructures,
  the XSD (StructuresType) wants them before, and Metadataflows after Dataflows;
* the MSD's identifiable-object target: sdmx1 writes the Python class name
  (objectType="DataflowDefinition") where the XSD enumerates "Dataflow";
* metadata sets: sdmx1 writes a reported attribute's value either as one unlabelled
  string or one XHTML fragment, never as the parallel language texts (com:Text with
  xml:lang) that multilingual SIMS texts need.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import sdmx
from lxml import etree

from api import negotiation
from api.formats import register
from api.formats.sdmxml21_structure import structure_21 as plain_structure_21
from api.metadata import MetadataResponse, dataflow_urn, metadataflow_urn, msd_urn
from store.documents import LANGUAGES, build_model, urn_ref

NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "md": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/metadata/generic",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
METADATA_KINDS = ("metadatastructure", "metadataflow")

#: The children of mes:Structures in the order SDMXStructure.xsd (StructuresType) requires.
STRUCTURES_ORDER = ["OrganisationSchemes", "Dataflows", "Metadataflows", "CategorySchemes",
                    "Categorisations", "Codelists", "HierarchicalCodelists", "Concepts",
                    "MetadataStructures", "DataStructures", "StructureSets", "ReportingTaxonomies",
                    "Processes", "Constraints", "ProvisionAgreements"]
#: sdmx1's class names -> the objectType codes of SDMX-ML 2.1.
OBJECT_TYPES = {"DataflowDefinition": "Dataflow"}

GENERIC_METADATA = "application/vnd.sdmx.genericmetadata+xml; charset=utf-8; version=2.1"

# Register the media types of metadata with content negotiation, as REGISTRY registers
# serialisers: the metadata resource is served by this module and sdmxjson20_metadata.
negotiation.MEDIA.setdefault("metadata", {}).update({
    ("application/vnd.sdmx.genericmetadata+xml", "2.1"): "genericmetadata",
    ("application/xml", None): "genericmetadata",
    ("text/xml", None): "genericmetadata",
})
negotiation.DEFAULT["metadata"] = "genericmetadata"
negotiation.LATEST["application/vnd.sdmx.genericmetadata+xml"] = "2.1"
negotiation.FORMAT_PARAM.setdefault("metadata", {}).update(
    {"genericmetadata": "genericmetadata", "xml": "genericmetadata", "sdmx-ml": "genericmetadata"})


def _q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _texts(parent: etree._Element, tag: str, texts: dict) -> None:
    for lang in LANGUAGES:
        if texts.get(lang):
            etree.SubElement(parent, _q(tag), {XML_LANG: lang}).text = texts[lang]


# --- structure messages ---------------------------------------------------------------------

def _metadata_structures(documents: list[dict], selected: list[dict]) -> etree._Element | None:
    """str:MetadataStructures for the selected MSDs, written by sdmx1 (objectType fixed)."""
    msds = [d for d in selected if d["kind"] == "metadatastructure"]
    if not msds:
        return None
    model = build_model([d for d in documents if d["kind"] == "conceptscheme"] + msds)
    msg = sdmx.message.StructureMessage()
    for d in msds:
        obj = model["metadatastructure"][urn_ref(d)]
        msg.metadatastructure[obj.id] = obj
    element = etree.fromstring(sdmx.to_xml(msg)).find("mes:Structures/str:MetadataStructures", NS)
    for target in element.iter(_q("str:IdentifiableObjectTarget")):
        target.set("objectType", OBJECT_TYPES.get(target.get("objectType"), target.get("objectType")))
    for msd in element.iter(_q("str:MetadataStructure")):
        # sdmx1 names the class in the URN as its Python class; the registry's name is MetadataStructure.
        msd.set("urn", msd_urn({"agency": msd.get("agencyID"), "id": msd.get("id"), "version": msd.get("version")}))
    return element


def _metadataflows(selected: list[dict]) -> etree._Element | None:
    flows = [d for d in selected if d["kind"] == "metadataflow"]
    if not flows:
        return None
    container = etree.Element(_q("str:Metadataflows"), nsmap=NS)
    for d in flows:
        flow = etree.SubElement(container, _q("str:Metadataflow"), {
            "id": d["id"], "agencyID": d["agency"], "version": d["version"], "urn": metadataflow_urn(d),
            "isExternalReference": "false", "isFinal": "true"})
        _texts(flow, "com:Name", d["name"])
        _texts(flow, "com:Description", d.get("description") or {})
        s = d["structure"]
        etree.SubElement(etree.SubElement(flow, _q("str:Structure")), "Ref", {
            "id": s["id"], "agencyID": s["agency"], "version": s["version"],
            "package": "metadatastructure", "class": "MetadataStructure"})
    return container


def structure_21(documents: list[dict], selected: list[dict], prepared: datetime) -> Iterator[bytes]:
    """A structure message (as api.formats.sdmxml21_structure writes it) that also carries
    the selected metadata structures and metadataflows, in schema order."""
    others = [d for d in selected if d["kind"] not in METADATA_KINDS]
    body = b"".join(plain_structure_21(documents, others, prepared))
    extra = [e for e in (_metadata_structures(documents, selected), _metadataflows(selected)) if e is not None]
    if not extra:
        yield body
        return
    root = etree.fromstring(body)
    structures = root.find("mes:Structures", NS)
    for element in extra:
        structures.append(element)
    structures[:] = sorted(structures, key=lambda e: STRUCTURES_ORDER.index(etree.QName(e).localname))
    yield etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- GenericMetadata ------------------------------------------------------------------------

def _structure_id(r: dict) -> str:
    """The message-local id of an MSD (xs:ID: no colon, no leading digit)."""
    return f"{r['agency']}_{r['id']}_{r['version']}".replace(".", "_")


def _reported(parent: etree._Element, attributes: list[dict]) -> None:
    attribute_set = etree.SubElement(parent, _q("md:AttributeSet"))
    for a in attributes:
        reported = etree.SubElement(attribute_set, _q("md:ReportedAttribute"), id=a["id"])
        if "attributes" in a:
            _reported(reported, a["attributes"])
        else:
            _texts(reported, "com:Text", a["text"])


def generic_metadata_message(msg: MetadataResponse) -> bytes:
    root = etree.Element(_q("mes:GenericMetadata"), nsmap=NS)
    header = etree.SubElement(root, _q("mes:Header"))
    etree.SubElement(header, _q("mes:ID")).text = msg.message_id
    etree.SubElement(header, _q("mes:Test")).text = "false"
    etree.SubElement(header, _q("mes:Prepared")).text = msg.prepared.astimezone(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(header, _q("mes:Sender"), id=msg.sender)
    for key, msd in msg.structures.items():
        structure = etree.SubElement(header, _q("mes:Structure"), structureID=_structure_id(msd))
        etree.SubElement(etree.SubElement(structure, _q("com:Structure")), "URN").text = msd_urn(msd)
    for s in msg.sets:
        msd = msg.structure_of(s)
        # No com:Name (optional): sdmx1 2.28 cannot read a metadata set's name and refuses the
        # whole message for it; the name is in the SDMX-JSON message and on the web page.
        metadata_set = etree.SubElement(root, _q("mes:MetadataSet"),
                                        structureRef=_structure_id(msd), setID=s["id"])
        report = etree.SubElement(metadata_set, _q("md:Report"), id=s["report_structure"])
        target = etree.SubElement(report, _q("md:Target"), id=msd["target"]["id"])
        value = etree.SubElement(target, _q("md:ReferenceValue"), id=msd["target"]["object"])
        etree.SubElement(etree.SubElement(value, _q("md:ObjectReference")), "URN").text = dataflow_urn(s["target"])
        _reported(report, s["attributes"])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@register("genericmetadata", GENERIC_METADATA, "metadata")
def generic_metadata(msg: MetadataResponse) -> Iterator[bytes]:
    yield generic_metadata_message(msg)

