"""Structure documents: how structures are stored, and how they become sdmx1 objects.

A *document* is a plain JSON object, one per maintainable artefact, stored in
``public_structure.document``. The publisher writes them from the content files; the
API reads them and either uses them directly (data serialisers need only ids and
names) or turns them into sdmx1 objects to write structure messages. Keeping the
stored form plain JSON (not pickled sdmx1 objects, not rendered XML) keeps the
contract readable and lets one stored artefact be written in any format.

Kinds and their fields (all carry ``kind, agency, id, version, name``; ``name`` and
``description`` are ``{lang: text}`` with az, en and ru):

* ``agencyscheme``: ``agencies: [{id, name}]``
* ``codelist``: ``codes: [{id, name, parent?, annotations?: {type: text}}]``
* ``conceptscheme``: ``concepts: [{id, name, description?}]``
* ``categoryscheme``: ``categories: [{id, name}]``
* ``datastructure``: ``dimensions: [{id, concept, codelist}]``, ``time_dimension``,
  ``primary_measure``, ``attributes: [{id, concept, codelist, attached_to, mandatory}]``
  where ``concept`` is ``{agency, id, version, item}`` and ``codelist`` a reference
  ``{agency, id, version}``; ``attached_to`` is ``series`` or ``observation``.
* ``dataflow``: ``structure`` (reference to the DSD), ``annotations: [{type, title, text: {lang: text}}]``
  (reference metadata such as SIMS 7.2), ``description``, ``frequency``,
  ``unit``, ``source``, ``series_attributes: {ATTR: code}`` (constant per dataflow),
  ``category`` (reference to the category scheme plus ``item``).
* ``metadatastructure`` (an MSD, SIMS: publisher.sims): ``target: {id, object, object_type}``
  (one metadata target with one identifiable-object target, e.g. a Dataflow),
  ``report_structure`` (its id), ``attributes: [{id, number, concept, children?}]``
  (nested metadata attributes; those with children are presentational only).
* ``metadataflow``: ``structure`` (reference to the MSD).
* ``metadataset`` (reference metadata about one artefact): ``metadataflow`` and
  ``structure`` (references), ``report_structure``, ``target`` (reference to the dataflow
  it describes), ``updated`` (ISO date), ``attributes: [{id, text: {lang: text}} or
  {id, attributes: [...]}]`` nested as the MSD nests them. Metadata sets are not
  structures: build_model leaves them to the metadata serialisers.

build_model makes sdmx1 objects of the metadata structures and metadataflows too, but
structure_message leaves them out of its message: sdmx1 2.28 writes MetadataStructures
after DataStructures (the XSD wants them before) and has no writer for metadataflows, so
api.formats.sdmxml21_metadata writes both into structure messages.
"""

from __future__ import annotations

from collections.abc import Iterable

import sdmx.message
from sdmx.model import common, v21

LANGUAGES = ("az", "en", "ru")


def ref(doc: dict) -> dict:
    return {"agency": doc["agency"], "id": doc["id"], "version": doc["version"]}


def ref_key(r: dict) -> tuple[str, str, str, str]:
    return (r.get("kind", ""), r["agency"], r["id"], r["version"])


def urn_ref(r: dict) -> str:
    """AGENCY:ID(VERSION), as SDMX-CSV and error messages write a reference."""
    return f"{r['agency']}:{r['id']}({r['version']})"


def _istr(texts: dict | None) -> common.InternationalString:
    return common.InternationalString(dict(texts or {}))


def _maintainable(cls, doc: dict, agencies: dict, **kw):
    # The SDMX 2.1 schema fixes isFinal="false" on organisation schemes.
    kw.setdefault("is_final", cls is not v21.AgencyScheme)
    obj = cls(
        id=doc["id"],
        version=doc["version"],
        name=_istr(doc.get("name")),
        maintainer=agencies.setdefault(doc["agency"], common.Agency(id=doc["agency"])),
        is_external_reference=False,
        **kw,
    )
    if doc.get("description"):
        obj.description = _istr(doc["description"])
    return obj


def _annotations(item: dict) -> list[v21.Annotation]:
    return [
        v21.Annotation(type=t, title=str(v))
        for t, v in sorted((item.get("annotations") or {}).items())
    ]


def build_model(documents: Iterable[dict]) -> dict[str, dict[str, object]]:
    """sdmx1 objects for a set of documents, keyed by kind then by ``AGENCY:ID(VERSION)``.

    References between documents (a DSD's codelists and concepts, a dataflow's DSD)
    are resolved among the documents given; the caller passes everything needed.
    """
    docs = list(documents)
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    agencies: dict[str, common.Agency] = {}
    out: dict[str, dict[str, object]] = {k: {} for k in (
        "agencyscheme", "codelist", "conceptscheme", "categoryscheme", "datastructure",
        "dataflow", "categorisation", "metadatastructure", "metadataflow")}

    for d in by_kind.get("agencyscheme", []):
        scheme = _maintainable(v21.AgencyScheme, d, agencies)
        for a in d["agencies"]:
            agency = agencies.setdefault(a["id"], common.Agency(id=a["id"]))
            agency.name = _istr(a["name"])
            scheme.append(agency)
        out["agencyscheme"][urn_ref(d)] = scheme

    for d in by_kind.get("codelist", []):
        cl = _maintainable(common.Codelist, d, agencies)
        for c in d["codes"]:
            code = common.Code(id=c["id"], name=_istr(c["name"]),
                               annotations=_annotations(c))
            if c.get("description"):
                code.description = _istr(c["description"])
            cl.append(code)
        for c in d["codes"]:
            if c.get("parent"):
                child, parent = cl[c["id"]], cl[c["parent"]]
                child.parent = parent
                parent.append_child(child) if hasattr(parent, "append_child") else parent.child.append(child)
        out["codelist"][urn_ref(d)] = cl

    for d in by_kind.get("conceptscheme", []):
        cs = _maintainable(common.ConceptScheme, d, agencies)
        for c in d["concepts"]:
            concept = common.Concept(id=c["id"], name=_istr(c["name"]))
            if c.get("description"):
                concept.description = _istr(c["description"])
            cs.append(concept)
        out["conceptscheme"][urn_ref(d)] = cs

    def concept(r: dict) -> common.Concept:
        return out["conceptscheme"][urn_ref(r)][r["item"]]

    def codelist(r: dict) -> common.Codelist:
        return out["codelist"][urn_ref(r)]

    for d in by_kind.get("datastructure", []):
        dsd = _maintainable(v21.DataStructureDefinition, d, agencies)
        dsd.dimensions.id = "DimensionDescriptor"
        dsd.attributes.id = "AttributeDescriptor"
        dsd.measures.id = "MeasureDescriptor"
        dims = []
        for i, dim in enumerate(d["dimensions"], start=1):
            dims.append(dsd.dimensions.getdefault(
                dim["id"], cls=common.Dimension, order=i,
                concept_identity=concept(dim["concept"]),
                local_representation=common.Representation(enumerated=codelist(dim["codelist"])),
            ))
        td = d["time_dimension"]
        dsd.dimensions.getdefault(
            td["id"], cls=common.TimeDimension, order=len(dims) + 1,
            concept_identity=concept(td["concept"]),
            # Without a local representation the message fails the official XSD.
            local_representation=common.Representation(non_enumerated=[
                common.Facet(value_type=common.FacetValueType.observationalTimePeriod)]),
        )
        pm = d["primary_measure"]
        dsd.measures.getdefault(pm["id"], cls=v21.PrimaryMeasure,
                                concept_identity=concept(pm["concept"]))
        for a in d["attributes"]:
            related = (v21.PrimaryMeasureRelationship() if a["attached_to"] == "observation"
                       else v21.DimensionRelationship(dimensions=dims))
            dsd.attributes.getdefault(
                a["id"], cls=v21.DataAttribute,
                concept_identity=concept(a["concept"]),
                local_representation=common.Representation(enumerated=codelist(a["codelist"])),
                related_to=related,
                usage_status=(v21.UsageStatus.mandatory if a.get("mandatory")
                              else v21.UsageStatus.conditional),
            )
        out["datastructure"][urn_ref(d)] = dsd

    for d in by_kind.get("dataflow", []):
        df = _maintainable(v21.DataflowDefinition, d, agencies,
                           structure=out["datastructure"].get(urn_ref(d["structure"])))
        # Reference metadata carried as annotations (e.g. SIMS 7.2, confidentiality).
        df.annotations = [v21.Annotation(type=a["type"], title=a.get("title"), text=_istr(a["text"]))
                          for a in d.get("annotations") or []]
        out["dataflow"][urn_ref(d)] = df

    for d in by_kind.get("categoryscheme", []):
        cs = _maintainable(common.CategoryScheme, d, agencies)
        for c in d["categories"]:
            cs.append(common.Category(id=c["id"], name=_istr(c["name"])))
        out["categoryscheme"][urn_ref(d)] = cs

    for d in by_kind.get("categorisation", []):
        cat_ref = d["category"]
        scheme = out["categoryscheme"].get(urn_ref(cat_ref))
        flow = out["dataflow"].get(urn_ref(d["artefact"]))
        if scheme is None or flow is None:
            continue  # a categorisation is served only with both ends
        out["categorisation"][urn_ref(d)] = _maintainable(
            common.Categorisation, d, agencies, category=scheme[cat_ref["item"]], artefact=flow)

    for d in by_kind.get("metadatastructure", []):
        out["metadatastructure"][urn_ref(d)] = _msd(d, agencies, concept)
    for d in by_kind.get("metadataflow", []):
        out["metadataflow"][urn_ref(d)] = _maintainable(
            v21.MetadataflowDefinition, d, agencies,
            structure=out["metadatastructure"].get(urn_ref(d["structure"])))
    return out


#: Object types an MSD's identifiable-object target may name (SDMX-ML 2.1 objectType).
OBJECT_TYPES = {"Dataflow": v21.DataflowDefinition}


def _msd(d: dict, agencies: dict, concept) -> v21.MetadataStructureDefinition:
    """An SDMX 2.1 MSD: one metadata target (one identifiable object) and one report
    structure of nested metadata attributes, each a multilingual string."""
    msd = _maintainable(v21.MetadataStructureDefinition, d, agencies)
    t = d["target"]
    target = v21.MetadataTarget(id=t["id"])
    target.append(v21.IdentifiableObjectTarget(
        id=t["object"], object_type=OBJECT_TYPES[t["object_type"]],
        local_representation=common.Representation(non_enumerated=[
            common.Facet(value_type=common.FacetValueType.identifiableReference)])))
    msd.target[target.id] = target
    rs = v21.ReportStructure(id=d["report_structure"], report_for=[target])

    def attribute(a: dict, parent=None) -> common.MetadataAttribute:
        ma = common.MetadataAttribute(id=a["id"], concept_identity=concept(a["concept"]), parent=parent)
        if a.get("children"):
            ma.is_presentational = True  # a heading: its sub-attributes hold the texts
            ma.child = [attribute(c, ma) for c in a["children"]]
        else:
            ma.local_representation = common.Representation(non_enumerated=[
                common.Facet(value_type=common.FacetValueType.string)])
        return ma

    for a in d["attributes"]:
        rs.append(attribute(a))
    msd.report_structure[rs.id] = rs
    return msd


def structure_message(documents: Iterable[dict], *, include: Iterable[dict] | None = None,
                      prepared: str | None = None, sender: str = "AZ_SMS") -> sdmx.message.StructureMessage:
    """A StructureMessage with the artefacts in `include` (default: all `documents`).

    The model is built from all `documents`, so that an included artefact's references
    (a dataflow's DSD, a DSD's codelists) resolve and are written as references."""
    model = build_model(documents)
    wanted = None if include is None else {urn_ref(d) + d["kind"] for d in include}
    msg = sdmx.message.StructureMessage()
    import uuid
    msg.header = sdmx.message.Header(id="IREF" + uuid.uuid4().hex[:16].upper(),
                                     test=False, sender=common.Agency(id=sender))
    if prepared:
        from datetime import datetime
        msg.header.prepared = datetime.fromisoformat(prepared)
    targets = {
        "agencyscheme": msg.organisation_scheme,
        "codelist": msg.codelist,
        "conceptscheme": msg.concept_scheme,
        "categoryscheme": msg.category_scheme,
        "datastructure": msg.structure,
        "dataflow": msg.dataflow,
        "categorisation": msg.categorisation,
    }
    for kind, objs in model.items():
        if kind not in targets:
            continue  # metadata structures: see the module docstring
        for urn, obj in objs.items():
            if wanted is None or urn + kind in wanted:
                targets[kind][obj.id] = obj
    return msg
