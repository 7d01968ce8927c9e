"""Availability as SDMX-ML 2.1: a structure message with an Actual ContentConstraint.

The constraint is written with lxml: sdmx1 2.28 can build a ContentConstraint, but its
writer knows no KeyValue for the time dimension (a TimeRange on TIME_PERIOD fails on
the component's class). The referenced structures (``references=``) are written by
sdmx1 as every structure message is (api.formats.sdmxml21_metadata.structure_21).

The constraint is the one .Stat Suite's NSI web service answers with: attached to the
dataflow, one CubeRegion (include="true") with a KeyValue per dimension and the time
range, the counts as ``series_count`` / ``obs_count`` annotations of type ``sdmx_metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from lxml import etree

from api import negotiation
from api.availability import Availability, referenced
from api.formats import register
from api.formats.sdmxml21_metadata import NS, STRUCTURES_ORDER, XML_LANG, _q, structure_21
from store.documents import LANGUAGES

STRUCTURE_XML = "application/vnd.sdmx.structure+xml; charset=utf-8; version=2.1"
CONSTRAINT_URN = "urn:sdmx:org.sdmx.infomodel.registry.ContentConstraint="

# Availability answers are structure messages; they have their own negotiation table
# because they are also served as SDMX-JSON 2.0 (api.formats.sdmxjson20_constraint).
negotiation.MEDIA.setdefault("availability", {}).update({
    ("application/vnd.sdmx.structure+xml", "2.1"): "constraintxml",
    ("application/xml", None): "constraintxml",
    ("text/xml", None): "constraintxml",
})
negotiation.DEFAULT["availability"] = "constraintxml"
negotiation.FORMAT_PARAM.setdefault("availability", {}).update(
    {"structure": "constraintxml", "xml": "constraintxml", "sdmx-ml": "constraintxml"})

NAMES = {
    "exact": {"en": "Data available for the query", "az": "Sorğuya uyğun mövcud məlumatlar",
              "ru": "Данные, доступные по запросу"},
    "available": {"en": "Selections still available for the query",
                  "az": "Sorğu üçün hələ seçilə bilən dəyərlər",
                  "ru": "Значения, ещё доступные для выбора в запросе"},
}


def constraint_id(flow: dict) -> str:
    return f"CC_{flow['id']}"


def period_text(d) -> str:
    return f"{d.isoformat()}T00:00:00"


def constraint_element(av: Availability) -> etree._Element:
    flow = av.dataflow
    cid = constraint_id(flow)
    cc = etree.Element(_q("str:ContentConstraint"), {
        "id": cid, "agencyID": flow["agency"], "version": "1.0",
        "urn": f"{CONSTRAINT_URN}{flow['agency']}:{cid}(1.0)",
        "isExternalReference": "false", "isFinal": "false", "type": "Actual"}, nsmap=NS)
    annotations = etree.SubElement(cc, _q("com:Annotations"))
    for ann_id, count in (("series_count", av.series_count), ("obs_count", av.obs_count)):
        a = etree.SubElement(annotations, _q("com:Annotation"), id=ann_id)
        etree.SubElement(a, _q("com:AnnotationTitle")).text = str(count)
        etree.SubElement(a, _q("com:AnnotationType")).text = "sdmx_metrics"
    for lang in LANGUAGES:
        etree.SubElement(cc, _q("com:Name"), {XML_LANG: lang}).text = NAMES[av.mode][lang]
    attachment = etree.SubElement(etree.SubElement(cc, _q("str:ConstraintAttachment")), _q("str:Dataflow"))
    etree.SubElement(attachment, "Ref", {"id": flow["id"], "agencyID": flow["agency"], "version": flow["version"],
                                         "package": "datastructure", "class": "Dataflow"})
    region = etree.SubElement(cc, _q("str:CubeRegion"), include="true")
    for dim_id, codes in av.regions:
        if not codes:
            continue  # a KeyValue needs a value; an empty list cannot be said in 2.1
        kv = etree.SubElement(region, _q("com:KeyValue"), id=dim_id)
        for code in codes:
            etree.SubElement(kv, _q("com:Value")).text = code
    if av.time_range:
        kv = etree.SubElement(region, _q("com:KeyValue"), id=av.dsd["time_dimension"]["id"])
        tr = etree.SubElement(kv, _q("com:TimeRange"))
        etree.SubElement(tr, _q("com:StartPeriod"), isInclusive="true").text = period_text(av.time_range[0])
        etree.SubElement(tr, _q("com:EndPeriod"), isInclusive="true").text = period_text(av.time_range[1])
    return cc


def constraint_message(av: Availability, documents: list[dict], prepared: datetime) -> bytes:
    build, send, partial = referenced(documents, av, av.references)
    root = etree.fromstring(b"".join(structure_21(build, send, prepared)))
    for el in root.iter(_q("str:Codelist"), _q("str:ConceptScheme")):
        kind = "codelist" if etree.QName(el).localname == "Codelist" else "conceptscheme"
        if (kind, el.get("agencyID"), el.get("id"), el.get("version")) in partial:
            el.set("isPartial", "true")
    structures = root.find("mes:Structures", NS)
    etree.SubElement(structures, _q("str:Constraints")).append(constraint_element(av))
    structures[:] = sorted(structures, key=lambda e: STRUCTURES_ORDER.index(etree.QName(e).localname))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@register("constraintxml", STRUCTURE_XML, "availability")
def constraint_21(av: Availability, documents: list[dict], prepared: datetime | None = None) -> Iterator[bytes]:
    yield constraint_message(av, documents, prepared or datetime.now(timezone.utc))
