"""SDMX-JSON 2.0.0 structure messages (sdmx-json-structure-schema.json), from the stored
documents.

SDMX-JSON 2.0 follows the SDMX 3.0 information model, like SDMX-ML 3.0
(api.formats.sdmxml30_structure, whose URNs this module shares): references are URNs, a
data structure has a dimensionList, an attributeList (each attribute with its
attributeRelationship) and a measureList, a metadata structure is a list of nested
metadata attributes and a metadataflow names what it may describe.

Every localised text is written twice: ``name`` (``description``, an annotation's
``text``) in the language the request asked for with Accept-Language (else English), and
``names`` (``descriptions``, ``texts``) with all three languages. A code's parent is its
``parent`` (SDMX-JSON takes any code id there, unlike SDMX-ML 3.0.0).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import orjson

from api.formats import register
from api.formats.sdmxml30_structure import TARGETS, category_urn, concept_urn, urn
from store.documents import LANGUAGES, urn_ref

# The schema this message follows (its own "id" points at the master branch too).
SCHEMA_URL = ("https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/"
              "structure-message/tools/schemas/2.0.0/sdmx-json-structure-schema.json")
MEDIA_TYPE = "application/vnd.sdmx.structure+json; charset=utf-8; version=2.0.0"

#: Document kind -> its array in "data", in a stable order.
ARRAYS = {
    "agencyscheme": "agencySchemes", "categoryscheme": "categorySchemes", "codelist": "codelists",
    "conceptscheme": "conceptSchemes", "datastructure": "dataStructures", "dataflow": "dataflows",
    "categorisation": "categorisations", "metadatastructure": "metadataStructures",
    "metadataflow": "metadataflows",
}


def best(texts: dict | None, lang: str) -> str | None:
    """The text in the asked language, else English, else any; None if there is none."""
    texts = texts or {}
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), None)


def _all(texts: dict | None) -> dict:
    return {lang: texts[lang] for lang in LANGUAGES if (texts or {}).get(lang)}


def _nameable(doc: dict, lang: str, **fields) -> dict:
    out = {"id": doc["id"], **fields, "name": best(doc.get("name"), lang), "names": _all(doc.get("name"))}
    if doc.get("description"):
        out["description"] = best(doc["description"], lang)
        out["descriptions"] = _all(doc["description"])
    return out


def _annotations(annotations: list[dict], lang: str) -> list[dict]:
    out = []
    for a in annotations:
        ann = {"type": a["type"]}
        if a.get("title") is not None:
            ann["title"] = str(a["title"])
        if a.get("text"):
            ann["text"] = best(a["text"], lang)
            ann["texts"] = _all(a["text"])
        out.append(ann)
    return out


def _maintainable(doc: dict, lang: str) -> dict:
    out = _nameable(doc, lang)
    out.update(version=doc["version"], agencyID=doc["agency"], isExternalReference=False)
    if doc["kind"] == "dataflow" and doc.get("annotations"):
        out["annotations"] = _annotations(doc["annotations"], lang)
    return out


def _code(c: dict, lang: str) -> dict:
    out = _nameable(c, lang)
    if c.get("annotations"):
        out["annotations"] = [{"type": t, "title": str(v)} for t, v in sorted(c["annotations"].items())]
    if c.get("parent"):
        out["parent"] = c["parent"]
    return out


def _enumerated(codelist: dict | None) -> dict:
    return {"localRepresentation": {"enumeration": urn("codelist", codelist)}} if codelist else {}


def _datastructure(d: dict) -> dict:
    dims = [{"id": dim["id"], "position": i, "conceptIdentity": concept_urn(dim["concept"]),
             **_enumerated(dim.get("codelist"))} for i, dim in enumerate(d["dimensions"])]
    td = d["time_dimension"]
    components = {"dimensionList": {
        "id": "DimensionDescriptor", "dimensions": dims,
        "timeDimension": {"id": td["id"], "conceptIdentity": concept_urn(td["concept"]),
                          "localRepresentation": {"format": {"dataType": "ObservationalTimePeriod"}}}}}
    if d["attributes"]:
        components["attributeList"] = {"id": "AttributeDescriptor", "attributes": [
            {"id": a["id"], "usage": "mandatory" if a.get("mandatory") else "optional",
             "attributeRelationship": ({"observation": {}} if a["attached_to"] == "observation"
                                       else {"dimensions": [dim["id"] for dim in d["dimensions"]]}),
             "conceptIdentity": concept_urn(a["concept"]), **_enumerated(a.get("codelist"))}
            for a in d["attributes"]]}
    pm = d["primary_measure"]
    components["measureList"] = {"id": "MeasureDescriptor", "measures": [
        {"id": pm["id"], "conceptIdentity": concept_urn(pm["concept"])}]}
    return {"dataStructureComponents": components}


def _metadata_attributes(attributes: list[dict]) -> list[dict]:
    out = []
    for a in attributes:
        attr = {"id": a["id"], "conceptIdentity": concept_urn(a["concept"])}
        if a.get("children"):
            attr["isPresentational"] = True
            attr["metadataAttributes"] = _metadata_attributes(a["children"])
        else:
            attr["localRepresentation"] = {"format": {"dataType": "String", "isMultiLingual": True}}
        out.append(attr)
    return out


def artefact(d: dict, lang: str, msds: dict[str, dict]) -> dict:
    out = _maintainable(d, lang)
    kind = d["kind"]
    if kind == "agencyscheme":
        out["isPartial"] = False
        out["agencies"] = [_nameable(a, lang) for a in d["agencies"]]
    elif kind == "codelist":
        out["isPartial"] = False
        out["codes"] = [_code(c, lang) for c in d["codes"]]
    elif kind == "conceptscheme":
        out["isPartial"] = False
        out["concepts"] = [_nameable(c, lang) for c in d["concepts"]]
    elif kind == "categoryscheme":
        out["isPartial"] = False
        out["categories"] = [_nameable(c, lang) for c in d["categories"]]
    elif kind == "categorisation":
        out["source"] = urn("dataflow", d["artefact"])
        out["target"] = category_urn(d["category"])
    elif kind == "datastructure":
        out.update(_datastructure(d))
    elif kind == "dataflow":
        out["structure"] = urn("datastructure", d["structure"])
    elif kind == "metadatastructure":
        out["metadataStructureComponents"] = {"metadataAttributeList": {
            "id": "MetadataAttributeDescriptor", "metadataAttributes": _metadata_attributes(d["attributes"])}}
    elif kind == "metadataflow":
        out["structure"] = urn("metadatastructure", d["structure"])
        msd = msds.get(urn_ref(d["structure"]))
        if msd and msd["target"]["object_type"] in TARGETS:
            out["targets"] = [TARGETS[msd["target"]["object_type"]]]
    return out


def structure_message_json(documents: list[dict], selected: list[dict], prepared: datetime,
                           lang: str = "en", message_id: str | None = None, sender: str = "AZ_SMS") -> bytes:
    import uuid

    msds = {urn_ref(d): d for d in documents if d["kind"] == "metadatastructure"}
    data: dict[str, list] = {}
    for kind, array in ARRAYS.items():
        items = [artefact(d, lang, msds) for d in selected if d["kind"] == kind]
        if items:
            data[array] = items
    languages = [lang] + [x for x in LANGUAGES if x != lang] if lang in LANGUAGES else list(LANGUAGES)
    return orjson.dumps({
        "meta": {"schema": SCHEMA_URL, "id": message_id or "IREF" + uuid.uuid4().hex[:16].upper(),
                 "test": False,
                 "prepared": prepared.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "contentLanguages": languages, "sender": {"id": sender}},
        "data": data,
    })


@register("structurejson", MEDIA_TYPE, "structure")
def structure_json(documents: list[dict], selected: list[dict], prepared: datetime,
                   lang: str = "en") -> Iterator[bytes]:
    """`documents`: everything published; `selected`: what to send; `lang`: Accept-Language's pick."""
    yield structure_message_json(documents, selected, prepared, lang)
