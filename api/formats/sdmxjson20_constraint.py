"""Availability as SDMX-JSON 2.0.0: a structure message (sdmx-json-structure-schema.json).

SDMX-JSON 2.0 follows the SDMX 3.0 model, where the content constraint is a *data
constraint*: the answer is ``data.dataConstraints`` with one constraint of role
``Actual`` attached to the dataflow, one cube region (``include: true``) with a key value
per dimension and the time range, and the counts as the ``series_count`` and
``obs_count`` annotations (type ``sdmx_metrics``) that .Stat Suite and pysdmx read.
With ``references=``, the dataflow, its data structure, codelists (only the codes of the
constraint and their parents, ``isPartial``) and concept schemes come along.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import orjson

from api import negotiation
from api.availability import Availability, referenced
from api.formats import register
from api.formats.sdmxml21_constraint import NAMES, constraint_id
from store.documents import LANGUAGES

SCHEMA_URL = ("https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/"
              "structure-message/tools/schemas/2.0.0/sdmx-json-structure-schema.json")
STRUCTURE_JSON = "application/vnd.sdmx.structure+json; charset=utf-8; version=2.0.0"
URN = "urn:sdmx:org.sdmx.infomodel."

negotiation.MEDIA.setdefault("availability", {}).update({
    ("application/vnd.sdmx.structure+json", "2.0.0"): "constraintjson",
    ("application/vnd.sdmx.structure+json", "2.0"): "constraintjson",
    ("application/json", None): "constraintjson",
})
negotiation.LATEST.setdefault("application/vnd.sdmx.structure+json", "2.0.0")
negotiation.FORMAT_PARAM.setdefault("availability", {}).update(
    {"json": "constraintjson", "sdmx-json": "constraintjson", "structurejson": "constraintjson"})


def _ref(r: dict) -> str:
    return f"{r['agency']}:{r['id']}({r['version']})"


def _names(texts: dict | None, lang: str) -> dict:
    texts = {k: v for k, v in (texts or {}).items() if k in LANGUAGES and v}
    if not texts:
        return {}
    return {"name": texts.get(lang) or texts.get("en") or next(iter(texts.values())), "names": texts}


def _descriptions(texts: dict | None, lang: str) -> dict:
    n = _names(texts, lang)
    return {"description": n["name"], "descriptions": n["names"]} if n else {}


def _maintainable(doc: dict, lang: str, urn: str) -> dict:
    return {"id": doc["id"], "urn": urn, "agencyID": doc["agency"], "version": doc["version"],
            "isExternalReference": False, **_names(doc["name"], lang),
            **_descriptions(doc.get("description"), lang)}


def dataflow_urn(r: dict) -> str:
    return f"{URN}datastructure.Dataflow={_ref(r)}"


def _concept_urn(r: dict) -> str:
    return f"{URN}conceptscheme.Concept={_ref(r)}.{r['item']}"


def _codelist_urn(r: dict) -> str:
    return f"{URN}codelist.Codelist={_ref(r)}"


def constraint(av: Availability) -> dict:
    flow = av.dataflow
    cid = constraint_id(flow)
    key_values = [{"id": dim_id, "values": codes} for dim_id, codes in av.regions if codes]
    if av.time_range:
        key_values.append({"id": av.dsd["time_dimension"]["id"], "timeRange": {
            "startPeriod": {"period": f"{av.time_range[0].isoformat()}T00:00:00Z", "isInclusive": True},
            "endPeriod": {"period": f"{av.time_range[1].isoformat()}T00:00:00Z", "isInclusive": True}}})
    out = {
        "id": cid, "urn": f"{URN}registry.DataConstraint={flow['agency']}:{cid}(1.0)",
        "agencyID": flow["agency"], "version": "1.0", "isExternalReference": False,
        **_names(NAMES[av.mode], av.lang),
        "annotations": [{"id": "series_count", "title": str(av.series_count), "type": "sdmx_metrics"},
                        {"id": "obs_count", "title": str(av.obs_count), "type": "sdmx_metrics"}],
        "role": "Actual",
        "constraintAttachment": {"dataflows": [dataflow_urn(flow)]},
    }
    if key_values:
        out["cubeRegions"] = [{"include": True, "keyValues": key_values}]
    return out


def _dataflow(d: dict, lang: str) -> dict:
    return {**_maintainable(d, lang, dataflow_urn(d)), "structure": f"{URN}datastructure.DataStructure={_ref(d['structure'])}"}


def _codelist(d: dict, lang: str, partial: bool) -> dict:
    codes = []
    for c in d["codes"]:
        code = {"id": c["id"], **_names(c["name"], lang), **_descriptions(c.get("description"), lang)}
        if c.get("parent"):
            code["parent"] = c["parent"]
        codes.append(code)
    return {**_maintainable(d, lang, _codelist_urn(d)), "isPartial": partial, "codes": codes}


def _conceptscheme(d: dict, lang: str, partial: bool) -> dict:
    concepts = [{"id": c["id"], **_names(c["name"], lang), **_descriptions(c.get("description"), lang)}
                for c in d["concepts"]]
    return {**_maintainable(d, lang, f"{URN}conceptscheme.ConceptScheme={_ref(d)}"),
            "isPartial": partial, "concepts": concepts}


def _datastructure(d: dict, lang: str) -> dict:
    dims = [{"id": dim["id"], "position": i, "conceptIdentity": _concept_urn(dim["concept"]),
             "localRepresentation": {"enumeration": _codelist_urn(dim["codelist"])}}
            for i, dim in enumerate(d["dimensions"])]
    td = d["time_dimension"]
    attrs = []
    for a in d["attributes"]:
        attr = {"id": a["id"], "usage": "mandatory" if a.get("mandatory") else "optional",
                "attributeRelationship": ({"observation": {}} if a["attached_to"] == "observation"
                                          else {"dimensions": [dim["id"] for dim in d["dimensions"]]}),
                "conceptIdentity": _concept_urn(a["concept"])}
        if a.get("codelist"):
            attr["localRepresentation"] = {"enumeration": _codelist_urn(a["codelist"])}
        attrs.append(attr)
    pm = d["primary_measure"]
    components = {
        "dimensionList": {"id": "DimensionDescriptor", "dimensions": dims, "timeDimension": {
            "id": td["id"], "conceptIdentity": _concept_urn(td["concept"]),
            "localRepresentation": {"format": {"dataType": "ObservationalTimePeriod"}}}},
        "measureList": {"id": "MeasureDescriptor", "measures": [
            {"id": pm["id"], "conceptIdentity": _concept_urn(pm["concept"])}]},
    }
    if attrs:
        components["attributeList"] = {"id": "AttributeDescriptor", "attributes": attrs}
    return {**_maintainable(d, lang, f"{URN}datastructure.DataStructure={_ref(d)}"),
            "dataStructureComponents": components}


def constraint_message(av: Availability, documents: list[dict], prepared: datetime, message_id: str) -> bytes:
    _build, send, partial = referenced(documents, av, av.references)
    data: dict[str, list] = {}
    for d in send:
        key = (d["kind"], d["agency"], d["id"], d["version"])
        if d["kind"] == "dataflow":
            data.setdefault("dataflows", []).append(_dataflow(d, av.lang))
        elif d["kind"] == "datastructure":
            data.setdefault("dataStructures", []).append(_datastructure(d, av.lang))
        elif d["kind"] == "codelist":
            data.setdefault("codelists", []).append(_codelist(d, av.lang, key in partial))
        elif d["kind"] == "conceptscheme":
            data.setdefault("conceptSchemes", []).append(_conceptscheme(d, av.lang, key in partial))
    data["dataConstraints"] = [constraint(av)]
    if prepared.tzinfo is not None:
        prepared = prepared.astimezone(timezone.utc)
    meta = {"schema": SCHEMA_URL, "id": message_id, "test": False,
            "prepared": prepared.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "contentLanguages": [av.lang], "sender": {"id": "AZ_SMS"}}
    return orjson.dumps({"meta": meta, "data": data})


@register("constraintjson", STRUCTURE_JSON, "availability")
def constraint_json_20(av: Availability, documents: list[dict], prepared: datetime | None = None) -> Iterator[bytes]:
    import uuid
    yield constraint_message(av, documents, prepared or datetime.now(timezone.utc),
                             "IREF" + uuid.uuid4().hex[:16].upper())
