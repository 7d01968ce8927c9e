"""SDMX-ML 3.0 structure messages, written with lxml from the stored documents.

sdmx1 has no SDMX-ML 3.0 writer, so the message is built here, in the shapes of the
SDMX 3.0 information model:

* references are URNs (``str:Structure``, ``str:ConceptIdentity``, ``str:Enumeration``,
  a categorisation's ``str:Source`` and ``str:Target``);
* a data structure has a DimensionList (with the TimeDimension), an AttributeList whose
  attributes carry an ``str:AttributeRelationship`` (the series dimensions, or
  ``str:Observation``) and a MeasureList with the measure (OBS_VALUE: SDMX 2.1's primary
  measure);
* maintainable artefacts have no ``isFinal`` (SDMX 3.0 versions are semantic);
* a metadata structure is a MetadataAttributeList of nested metadata attributes (3.0 MSDs
  have no targets); the metadataflow names what it may describe (``str:Target``: any
  dataflow).

One gap of the official SDMX-ML 3.0.0 schema: a code's ``str:Parent`` is typed
``SingleNCNameIDType``, so a parent whose id starts with a digit (the M49 region codes of
CL_AREA, e.g. ``002``) cannot be written (SDMX-ML 3.1 fixed the type to IDType). Such a
code carries its parent as an annotation of type ``PARENT`` (the title is the parent's
id) instead; every other parent is a ``str:Parent``. SDMX-JSON and SDMX-ML 2.1 carry
every parent as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

from lxml import etree

from api.formats import register
from store.documents import LANGUAGES, urn_ref

NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MEDIA_TYPE = "application/vnd.sdmx.structure+xml; charset=utf-8; version=3.0.0"

URN = "urn:sdmx:org.sdmx.infomodel."
#: Document kind -> the package.Class of its URN.
CLASSES = {
    "agencyscheme": "base.AgencyScheme",
    "codelist": "codelist.Codelist",
    "conceptscheme": "conceptscheme.ConceptScheme",
    "categoryscheme": "categoryscheme.CategoryScheme",
    "categorisation": "categoryscheme.Categorisation",
    "datastructure": "datastructure.DataStructure",
    "dataflow": "datastructure.Dataflow",
    "metadatastructure": "metadatastructure.MetadataStructure",
    "metadataflow": "metadatastructure.Metadataflow",
}
#: What an MSD's target object type may name, as a wildcard URN (SDMX 3.0 metadataflow targets).
TARGETS = {"Dataflow": f"{URN}datastructure.Dataflow=*:*(*)"}
#: The annotation that carries a parent SDMX-ML 3.0.0 cannot write as str:Parent.
PARENT_ANNOTATION = "PARENT"
NCNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")

#: Document kind -> (container element, artefact element), in the order the 3.0
#: schema's StructuresType requires.
CONTAINERS = {
    "agencyscheme": ("AgencySchemes", "AgencyScheme"),
    "categorisation": ("Categorisations", "Categorisation"),
    "categoryscheme": ("CategorySchemes", "CategoryScheme"),
    "codelist": ("Codelists", "Codelist"),
    "conceptscheme": ("ConceptSchemes", "ConceptScheme"),
    "dataflow": ("Dataflows", "Dataflow"),
    "datastructure": ("DataStructures", "DataStructure"),
    "metadataflow": ("Metadataflows", "Metadataflow"),
    "metadatastructure": ("MetadataStructures", "MetadataStructure"),
}


def urn(kind: str, r: dict) -> str:
    """The URN of an artefact, from its document or a reference to it."""
    return f"{URN}{CLASSES[kind]}={urn_ref(r)}"


def concept_urn(r: dict) -> str:
    return f"{URN}conceptscheme.Concept={urn_ref(r)}.{r['item']}"


def category_urn(r: dict) -> str:
    return f"{URN}categoryscheme.Category={urn_ref(r)}.{r['item']}"


def _q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib) -> etree._Element:
    e = etree.SubElement(parent, _q(tag), {k: v for k, v in attrib.items() if v is not None})
    if text is not None:
        e.text = text
    return e


def _texts(parent: etree._Element, tag: str, texts: dict | None) -> None:
    for lang in LANGUAGES:
        if (texts or {}).get(lang):
            _sub(parent, tag, texts[lang]).set(XML_LANG, lang)


def _annotations(parent: etree._Element, annotations: list[dict]) -> None:
    """``[{type, title?, text?: {lang: text}}]`` as com:Annotations (title, type, texts)."""
    if not annotations:
        return
    container = _sub(parent, "com:Annotations")
    for a in annotations:
        annotation = _sub(container, "com:Annotation")
        if a.get("title") is not None:
            _sub(annotation, "com:AnnotationTitle", str(a["title"]))
        _sub(annotation, "com:AnnotationType", a["type"])
        _texts(annotation, "com:AnnotationText", a.get("text"))


def _nameable(parent: etree._Element, tag: str, doc: dict, annotations: list[dict] | None = None,
              **attrib) -> etree._Element:
    e = _sub(parent, tag, **attrib)
    _annotations(e, annotations or [])
    _texts(e, "com:Name", doc.get("name"))
    _texts(e, "com:Description", doc.get("description"))
    return e


def _maintainable(container: etree._Element, tag: str, doc: dict, **extra) -> etree._Element:
    # An agency scheme has no version attribute (it is fixed at 1.0, as its URN says).
    return _nameable(container, f"str:{tag}", doc, doc.get("annotations") if doc["kind"] == "dataflow" else None,
                     id=doc["id"], urn=urn(doc["kind"], doc),
                     version=None if doc["kind"] == "agencyscheme" else doc["version"],
                     agencyID=doc["agency"], isExternalReference="false", **extra)


def _code_annotations(code: dict) -> list[dict]:
    out = [{"type": t, "title": v} for t, v in sorted((code.get("annotations") or {}).items())]
    if code.get("parent") and not NCNAME.match(code["parent"]):
        out.append({"type": PARENT_ANNOTATION, "title": code["parent"]})
    return out


def _codelist(e: etree._Element, d: dict) -> None:
    for c in d["codes"]:
        code = _nameable(e, "str:Code", c, _code_annotations(c), id=c["id"])
        if c.get("parent") and NCNAME.match(c["parent"]):
            _sub(code, "str:Parent", c["parent"])


def _enumerated(parent: etree._Element, codelist: dict | None) -> None:
    if codelist:
        _sub(_sub(parent, "str:LocalRepresentation"), "str:Enumeration", urn("codelist", codelist))


def _datastructure(e: etree._Element, d: dict) -> None:
    components = _sub(e, "str:DataStructureComponents")
    dims = _sub(components, "str:DimensionList", id="DimensionDescriptor")
    for i, dim in enumerate(d["dimensions"], start=1):
        de = _sub(dims, "str:Dimension", id=dim["id"], position=str(i))
        _sub(de, "str:ConceptIdentity", concept_urn(dim["concept"]))
        _enumerated(de, dim.get("codelist"))
    td = d["time_dimension"]
    te = _sub(dims, "str:TimeDimension", id=td["id"])
    _sub(te, "str:ConceptIdentity", concept_urn(td["concept"]))
    _sub(_sub(te, "str:LocalRepresentation"), "str:TextFormat", textType="ObservationalTimePeriod")
    if d["attributes"]:
        attrs = _sub(components, "str:AttributeList", id="AttributeDescriptor")
        for a in d["attributes"]:
            ae = _sub(attrs, "str:Attribute", id=a["id"], usage="mandatory" if a.get("mandatory") else "optional")
            _sub(ae, "str:ConceptIdentity", concept_urn(a["concept"]))
            _enumerated(ae, a.get("codelist"))
            relation = _sub(ae, "str:AttributeRelationship")
            if a["attached_to"] == "observation":
                _sub(relation, "str:Observation")
            else:  # series: every dimension but time
                for dim in d["dimensions"]:
                    _sub(relation, "str:Dimension", dim["id"])
    pm = d["primary_measure"]
    measure = _sub(_sub(components, "str:MeasureList", id="MeasureDescriptor"), "str:Measure", id=pm["id"])
    _sub(measure, "str:ConceptIdentity", concept_urn(pm["concept"]))


def _metadata_attributes(parent: etree._Element, attributes: list[dict]) -> None:
    for a in attributes:
        children = a.get("children") or []
        ae = _sub(parent, "str:MetadataAttribute", id=a["id"],
                  isPresentational="true" if children else None)
        _sub(ae, "str:ConceptIdentity", concept_urn(a["concept"]))
        if not children:  # a heading holds no text of its own
            _sub(_sub(ae, "str:LocalRepresentation"), "str:TextFormat", textType="String",
                 isMultiLingual="true")
        _metadata_attributes(ae, children)


def _metadatastructure(e: etree._Element, d: dict) -> None:
    attributes = _sub(_sub(e, "str:MetadataStructureComponents"), "str:MetadataAttributeList",
                      id="MetadataAttributeDescriptor")
    _metadata_attributes(attributes, d["attributes"])


def write_artefact(container: etree._Element, d: dict, msds: dict[str, dict]) -> None:
    kind = d["kind"]
    tag = CONTAINERS[kind][1]
    if kind == "agencyscheme":
        e = _maintainable(container, tag, d, isPartial="false")
        for a in d["agencies"]:
            _nameable(e, "str:Agency", a, id=a["id"])
    elif kind == "codelist":
        _codelist(_maintainable(container, tag, d, isPartial="false"), d)
    elif kind == "conceptscheme":
        e = _maintainable(container, tag, d, isPartial="false")
        for c in d["concepts"]:
            _nameable(e, "str:Concept", c, id=c["id"])
    elif kind == "categoryscheme":
        e = _maintainable(container, tag, d, isPartial="false")
        for c in d["categories"]:
            _nameable(e, "str:Category", c, id=c["id"])
    elif kind == "categorisation":
        e = _maintainable(container, tag, d)
        _sub(e, "str:Source", urn("dataflow", d["artefact"]))
        _sub(e, "str:Target", category_urn(d["category"]))
    elif kind == "datastructure":
        _datastructure(_maintainable(container, tag, d), d)
    elif kind == "dataflow":
        _sub(_maintainable(container, tag, d), "str:Structure", urn("datastructure", d["structure"]))
    elif kind == "metadatastructure":
        _metadatastructure(_maintainable(container, tag, d), d)
    elif kind == "metadataflow":
        e = _maintainable(container, tag, d)
        _sub(e, "str:Structure", urn("metadatastructure", d["structure"]))
        msd = msds.get(urn_ref(d["structure"]))
        if msd and msd["target"]["object_type"] in TARGETS:
            _sub(e, "str:Target", TARGETS[msd["target"]["object_type"]])


def structure_message_30(documents: list[dict], selected: list[dict], prepared: datetime,
                         message_id: str | None = None, sender: str = "AZ_SMS") -> bytes:
    import uuid

    root = etree.Element(_q("mes:Structure"), nsmap=NS)
    header = _sub(root, "mes:Header")
    _sub(header, "mes:ID", message_id or "IREF" + uuid.uuid4().hex[:16].upper())
    _sub(header, "mes:Test", "false")
    _sub(header, "mes:Prepared", prepared.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(header, "mes:Sender", id=sender)
    structures = _sub(root, "mes:Structures")
    msds = {urn_ref(d): d for d in documents if d["kind"] == "metadatastructure"}
    for kind, (container_tag, _) in CONTAINERS.items():
        docs = [d for d in selected if d["kind"] == kind]
        if not docs:
            continue
        container = _sub(structures, f"str:{container_tag}")
        for d in docs:
            write_artefact(container, d, msds)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@register("structure30", MEDIA_TYPE, "structure")
def structure_30(documents: list[dict], selected: list[dict], prepared: datetime) -> Iterator[bytes]:
    """`documents`: everything published; `selected`: what to send (as resolved by references)."""
    yield structure_message_30(documents, selected, prepared)
