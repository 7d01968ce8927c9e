"""Which structures a structure query returns: the artefacts asked for plus `references`.

The reference graph is read off the documents (a dataflow names its DSD, a DSD its
codelists and concept schemes, a categorisation its category scheme and artefact).
"""

from __future__ import annotations

from api.errors import bad_request

Key = tuple[str, str, str, str]  # kind, agency, id, version

# REST resource names -> document kinds
RESOURCE_KINDS = {
    "dataflow": "dataflow", "datastructure": "datastructure", "codelist": "codelist",
    "conceptscheme": "conceptscheme", "categoryscheme": "categoryscheme",
    "categorisation": "categorisation", "agencyscheme": "agencyscheme",
    "metadatastructure": "metadatastructure", "metadataflow": "metadataflow",
}
# Resources the specification defines that this service does not implement (yet): 501.
UNIMPLEMENTED_RESOURCES = {
    "provisionagreement", "structureset", "process",
    "reportingtaxonomy", "hierarchicalcodelist", "organisationscheme", "dataproviderscheme",
    "dataconsumerscheme", "organisationunitscheme", "contentconstraint", "attachementconstraint",
    "actualconstraint", "allowedconstraint", "transformationscheme", "rulesetscheme",
    "userdefinedoperatorscheme", "customtypescheme", "namepersonalisationscheme", "vtlmappingscheme",
    "valuelist", "hierarchy", "hierarchyassociation", "representationmap", "conceptschememap",
    "categoryschememap", "organisationschememap", "reportingtaxonomymap", "structuremap",
    "metadataproviderscheme", "metadataprovisionagreement", "dataconstraint", "metadataconstraint",
    "structure", "registration",
}
REFERENCES = {"none", "parents", "parentsandsiblings", "ancestors", "children", "descendants", "all"}


def key(doc: dict) -> Key:
    return (doc["kind"], doc["agency"], doc["id"], doc["version"])


def _ref_key(kind: str, r: dict) -> Key:
    return (kind, r["agency"], r["id"], r["version"])


def children_of(doc: dict) -> set[Key]:
    out: set[Key] = set()
    if doc["kind"] == "dataflow":
        out.add(_ref_key("datastructure", doc["structure"]))
    elif doc["kind"] == "datastructure":
        for comp in doc["dimensions"] + doc["attributes"]:
            if comp.get("codelist"):
                out.add(_ref_key("codelist", comp["codelist"]))
        for comp in doc["dimensions"] + doc["attributes"] + [doc["time_dimension"], doc["primary_measure"]]:
            out.add(_ref_key("conceptscheme", comp["concept"]))
    elif doc["kind"] == "metadataflow":
        out.add(_ref_key("metadatastructure", doc["structure"]))
    elif doc["kind"] == "metadatastructure":
        def concepts(attrs):
            for a in attrs:
                out.add(_ref_key("conceptscheme", a["concept"]))
                concepts(a.get("children") or [])
        concepts(doc["attributes"])
    elif doc["kind"] == "categorisation":
        out.add(_ref_key("categoryscheme", doc["category"]))
        out.add(_ref_key("dataflow", doc["artefact"]))
    return out


def resolve(docs: list[dict], selected: list[dict], references: str) -> list[dict]:
    """`selected` plus what `references` asks for (none, parents, parentsandsiblings,
    children, descendants, all, or a resource name: the descendants of that kind)."""
    by_key = {key(d): d for d in docs}
    kids = {key(d): children_of(d) for d in docs}
    parents: dict[Key, set[Key]] = {}
    for k, cs in kids.items():
        for c in cs:
            parents.setdefault(c, set()).add(k)

    def descendants(start: set[Key]) -> set[Key]:
        seen, todo = set(), list(start)
        while todo:
            k = todo.pop()
            for c in kids.get(k, ()):
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
        return seen

    def ancestors(start: set[Key]) -> set[Key]:
        seen, todo = set(), list(start)
        while todo:
            k = todo.pop()
            for p in parents.get(k, ()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    chosen = {key(d) for d in selected}
    extra: set[Key] = set()
    if references == "none":
        pass
    elif references == "children":
        extra = {c for k in chosen for c in kids.get(k, ())}
    elif references == "descendants":
        extra = descendants(chosen)
    elif references == "parents":
        extra = {p for k in chosen for p in parents.get(k, ())}
    elif references == "ancestors":
        extra = ancestors(chosen)
    elif references == "parentsandsiblings":
        ps = {p for k in chosen for p in parents.get(k, ())}
        extra = ps | {c for p in ps for c in kids.get(p, ())}
    elif references == "all":
        ps = {p for k in chosen for p in parents.get(k, ())}
        extra = ps | {c for p in ps for c in kids.get(p, ())} | descendants(chosen)
    elif references in RESOURCE_KINDS:
        extra = {k for k in descendants(chosen) | {p for c in chosen for p in parents.get(c, ())}
                 if k[0] == RESOURCE_KINDS[references]}
    else:
        raise bad_request(f"references={references} is not one of: "
                          f"{', '.join(sorted(REFERENCES | set(RESOURCE_KINDS)))}")
    wanted = chosen | extra
    # sdmx1 needs a categorisation's scheme and dataflow, and a dataflow's DSD, to build
    # the objects; the message carries them whenever the referencing artefact is there.
    wanted |= {c for k in wanted if k[0] in ("categorisation",) for c in kids.get(k, ())}
    return [by_key[k] for k in sorted(wanted) if k in by_key]
