"""Reference metadata: SIMS 2.0 (ESMS) for every dataflow, as SDMX structure documents.

A statistician edits two kinds of file; a third source is the dataflow itself:

1. ``metadata/sims.yaml``: the SIMS structure (19 sections and their concepts, with the
   ESMS concept ids and names in az, en, ru) and the texts that hold for every dataflow
   of the agency (contact, mandate, release and revision policy...), some by frequency;
2. ``metadata/sims/<DATAFLOW_ID>.yaml``: what is particular to one dataflow (population,
   definitions, accuracy, comparability...). A text there replaces the agency default;
3. texts generated from the dataflow document, so that they cannot drift from what is
   published: description, classifications, reference area, unit, frequency, the online
   address, internal coherence, source register and the confidentiality treatment (the
   disclosure policy's own words). A dataflow file may add a note after most of them.

``documents()`` returns the SIMS concept scheme, the metadata structure definition (MSD),
the metadataflow and one metadata set per dataflow (document kinds: store.documents).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from publisher.content import read_yaml  # content imports this module only inside load()
from publisher.disclosure.policy import Policy
from store.documents import LANGUAGES, ref, urn_ref

SIMS_FILE = "metadata/sims.yaml"
SIMS_DIR = "metadata/sims"

#: Every metadata text needs these languages; Russian is written wherever it can be.
REQUIRED_LANGUAGES = ("az", "en")

#: SIMS 2.0 has 19 sections.
SECTIONS = 19

#: Concepts whose text is generated from the dataflow document; a dataflow file may add a
#: note after the generated text.
GENERATED = ("DATA_DESCR", "CLASS_SYSTEM", "REF_AREA", "UNIT_MEASURE", "FREQ_DISS", "ONLINE_DB",
             "COHER_INTERNAL", "SOURCE_TYPE", "CONF_DATA_TR", "META_CERTIFIED", "META_POSTED",
             "META_LAST_UPDATE")
#: Generated texts that stand alone: the confidentiality treatment is the disclosure
#: policy's own description, and the dates are dates.
FIXED = ("CONF_DATA_TR", "META_CERTIFIED", "META_POSTED", "META_LAST_UPDATE")

#: Codelists that split the reference area itself (not a characteristic of the persons
#: counted, such as citizenship or country of destination).
AREA_CODELISTS = ("CL_REGION",)

#: A text that says only this gives no reason: SIMS wants the reason in words.
_BARE = re.compile(r"^\s*(not applicable|not available|n/?a|none|-+|—|tətbiq edilmir|mövcud deyil|"
                   r"не применимо|нет данных|отсутствует)\s*[.!]?\s*$", re.IGNORECASE)


@dataclass
class Node:
    """One concept of the SIMS structure, with its SIMS number (e.g. "7.2")."""

    id: str
    name: dict
    number: str
    children: list["Node"] = field(default_factory=list)

    def leaves(self) -> list["Node"]:
        return [self] if not self.children else [leaf for c in self.children for leaf in c.leaves()]

    def walk(self) -> list["Node"]:
        return [self] + [n for c in self.children for n in c.walk()]


# --- reading ------------------------------------------------------------------------------

def _names(where: str, what: str, names: object, problems: list[str],
           required: tuple[str, ...] = LANGUAGES) -> dict[str, str]:
    """A {lang: text} mapping, checked: known languages only, the required ones present."""
    if not isinstance(names, dict):
        problems.append(f"{where}: {what} needs a text in {', '.join(required)}")
        return {}
    out = {}
    for lang, text in names.items():
        if lang not in LANGUAGES:
            problems.append(f"{where}: {what} has a text in unknown language {lang!r}")
        elif isinstance(text, str) and text.strip():
            out[lang] = text.strip()
    for lang in required:
        if lang not in out:
            problems.append(f"{where}: {what} has no text in {lang!r}")
    return out


def concept_tree(items: object, problems: list[str], prefix: str = "") -> list[Node]:
    """The SIMS concepts as a tree, numbered by position (1, 1.1, 1.2, ..., 19)."""
    nodes = []
    for i, item in enumerate(items if isinstance(items, list) else [], start=1):
        item = item if isinstance(item, dict) else {}
        cid = str(item.get("id"))
        number = f"{prefix}{i}"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", cid):
            problems.append(f"{SIMS_FILE}: concept {number} has no valid id ({cid!r})")
        node = Node(cid, _names(SIMS_FILE, f"concept {cid}", item.get("name"), problems), number)
        node.children = concept_tree(item.get("children"), problems, f"{number}.")
        nodes.append(node)
    return nodes


def _check_tree(tree: list[Node], problems: list[str]) -> None:
    if len(tree) != SECTIONS:
        problems.append(f"{SIMS_FILE}: SIMS has {SECTIONS} sections, the file has {len(tree)}")
    ids = [n.id for top in tree for n in top.walk()]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{SIMS_FILE}: concept {dup} appears twice")
    for fixed in GENERATED:
        if fixed not in ids:
            problems.append(f"{SIMS_FILE}: the SIMS concept {fixed} is missing")


def _texts(where: str, section: object, leaves: dict[str, Node], problems: list[str]) -> dict[str, dict]:
    """A mapping concept id -> {lang: text}, or -> {"by_frequency": {FREQ: {lang: text}}}."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        problems.append(f"{where}: texts must be a mapping of SIMS concept ids to texts")
        return {}
    out = {}
    for cid, value in section.items():
        if cid not in leaves:
            problems.append(f"{where}: {cid!r} is not a SIMS concept that takes a text "
                            f"(one of the concepts without sub-concepts in {SIMS_FILE})")
            continue
        if isinstance(value, dict) and "by_frequency" in value:
            out[cid] = {"by_frequency": {str(f): _checked_text(where, f"{cid} ({f})", t, problems)
                                         for f, t in (value["by_frequency"] or {}).items()}}
        else:
            out[cid] = _checked_text(where, cid, value, problems)
    return out


def _checked_text(where: str, what: str, value: object, problems: list[str]) -> dict[str, str]:
    text = _names(where, what, value, problems, required=REQUIRED_LANGUAGES)
    for lang, t in text.items():
        if _BARE.match(t):
            problems.append(f"{where}: {what} says only {t!r} in {lang!r}: give the reason in words")
    return text


# --- generated texts ----------------------------------------------------------------------

def lower_first(text: str, lang: str) -> str:
    """The text with its first letter in lower case, as it reads inside a sentence.

    Azerbaijani has dotted and dotless i: İ lowers to i and I to ı (str.lower() would
    give i with a combining dot, and i for I)."""
    if not text:
        return text
    first = {"İ": "i", "I": "ı"}.get(text[0], text[0].lower()) if lang == "az" else text[0].lower()
    return first + text[1:]


@dataclass
class Context:
    """What the generated texts draw on besides the dataflow: names from the content."""

    spec: dict  # metadata/sims.yaml
    codelists: dict[str, dict]  # id -> codelist document
    concepts: dict[tuple[str, str], dict]  # (scheme AGENCY:ID(VERSION), concept id) -> {lang: name}

    def concept_name(self, r: dict, lang: str) -> str:
        """The name of the concept a component references ({agency, id, version, item})."""
        names = self.concepts.get((urn_ref(r), r["item"]), {})
        return names.get(lang) or names.get("en") or r["item"]

    def code_name(self, codelist: str, code: str, lang: str) -> str:
        for c in self.codelists.get(codelist, {}).get("codes", []):
            if c["id"] == code:
                return c["name"].get(lang) or c["name"].get("en", code)
        return code


def _template(ctx: Context, cid: str, key: str | None = None) -> dict:
    t = (ctx.spec.get("generated") or {}).get(cid) or {}
    return (t.get(key) or {}) if key else t


def _fill(template: dict, lang: str, **values) -> str | None:
    text = template.get(lang)
    return text.format(**values).strip() if text else None


def generated_text(cid: str, flow: dict, dsd: dict, ctx: Context, lang: str, updated: str) -> str | None:
    """The text of a GENERATED concept for one dataflow, in one language (None: none);
    `updated`: the date its SIMS file was last updated."""
    # A dimension whose codelist is unknown is reported by publisher.content; skip it here.
    dims = [d for d in dsd["dimensions"] if d["id"] != "FREQ" and d.get("codelist")]
    if cid == "DATA_DESCR":
        return (flow.get("description") or {}).get(lang)
    if cid == "CLASS_SYSTEM":
        parts = []
        for d in dims:
            cl = d["codelist"]["id"]
            text = ((ctx.spec.get("classifications") or {}).get(cl) or {}).get(lang)
            if text is None:
                text = _fill(_template(ctx, cid, "other"), lang, id=cl)
            concept = ctx.concept_name(d["concept"], lang)
            if text:
                parts.append(f"{concept}: {text}")
        return "\n\n".join(parts) or None
    if cid == "REF_AREA":
        parts = [_fill(_template(ctx, cid, "whole"), lang)]
        for d in dims:
            if d["codelist"]["id"] in AREA_CODELISTS:
                concept = ctx.concept_name(d["concept"], lang)
                parts.append(_fill(_template(ctx, cid, "breakdown"), lang,
                                   dimension=lower_first(concept, lang)))
        return " ".join(p for p in parts if p) or None
    if cid == "UNIT_MEASURE":
        unit = ctx.code_name("CL_UNIT_MEASURE", flow.get("unit") or "", lang)
        decimals = (flow.get("series_attributes") or {}).get("DECIMALS", "0")
        return _fill(_template(ctx, cid, flow.get("measure") or "count"), lang, unit=unit, decimals=decimals)
    if cid == "FREQ_DISS":
        freq = ctx.code_name("CL_FREQ", flow.get("frequency") or "", lang)
        return _fill(_template(ctx, cid), lang, frequency=lower_first(freq, lang))
    if cid == "ONLINE_DB":
        return _fill(_template(ctx, cid), lang, agency=flow["agency"], id=flow["id"], version=flow["version"])
    if cid == "COHER_INTERNAL":
        return _fill(_template(ctx, cid, flow["disclosure"]["method"]), lang)
    if cid == "SOURCE_TYPE":
        return ((ctx.spec.get("sources") or {}).get(flow.get("source")) or {}).get(lang)
    if cid == "CONF_DATA_TR":
        return Policy(**flow["disclosure"]).describe(lang)
    if cid in ("META_CERTIFIED", "META_POSTED", "META_LAST_UPDATE"):
        return _fill(_template(ctx, cid), lang, updated=updated)
    raise KeyError(cid)


# --- assembling a metadata set ------------------------------------------------------------

def leaf_text(leaf: Node, flow: dict, dsd: dict, ctx: Context, defaults: dict, own: dict,
              updated: str) -> dict[str, str]:
    """The text of one leaf concept for one dataflow: generated (+ the dataflow's note),
    else the dataflow's own text, else the agency default (by frequency where it differs)."""
    if leaf.id in GENERATED:
        out = {}
        for lang in LANGUAGES:
            parts = [generated_text(leaf.id, flow, dsd, ctx, lang, updated), (own.get(leaf.id) or {}).get(lang)]
            text = "\n\n".join(p for p in parts if p)
            if text:
                out[lang] = text
        return out
    if leaf.id in own:
        return dict(own[leaf.id])
    default = defaults.get(leaf.id) or {}
    if "by_frequency" in default:
        return dict(default["by_frequency"].get(flow.get("frequency"), {}))
    return dict(default)


def report(tree: list[Node], texts: dict[str, dict]) -> list[dict]:
    """The metadata set's attributes, nested as the MSD nests them."""
    out = []
    for node in tree:
        if node.children:
            out.append({"id": node.id, "attributes": report(node.children, texts)})
        else:
            out.append({"id": node.id, "text": texts[node.id]})
    return out


def _msd_attributes(tree: list[Node], cs: dict) -> list[dict]:
    return [{"id": n.id, "number": n.number, "concept": {**ref(cs), "item": n.id},
             **({"children": _msd_attributes(n.children, cs)} if n.children else {})}
            for n in tree]


def _set_name(spec: dict, flow: dict, problems: list[str]) -> dict[str, str]:
    """The metadata set's name: metadata_set_name with the dataflow's name as {name}."""
    template = _names(SIMS_FILE, "metadata_set_name", spec.get("metadata_set_name"), problems)
    try:
        return {lang: t.format(name=flow["name"][lang]) for lang, t in template.items() if lang in flow["name"]}
    except (KeyError, IndexError) as exc:
        problems.append(f"{SIMS_FILE}: metadata_set_name names an unknown placeholder: {exc}")
        return {}


def _updated(where: str, value: object, problems: list[str]) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        problems.append(f"{where}: updated must be a date (YYYY-MM-DD), not {value!r}")
        return ""


def documents(root: Path, content_documents: list[dict], dataflows: dict) -> list[dict]:
    """The SIMS concept scheme, MSD, metadataflow and one metadata set per dataflow.

    `dataflows`: dataflow id -> publisher.content.Dataflow (its .document and .structure).
    Raises publisher.content.ContentError listing every problem with its file."""
    # Imported here: publisher.content imports this module to build its documents.
    from publisher.content import ContentError

    problems: list[str] = []
    spec = read_yaml(root / SIMS_FILE, problems, SIMS_FILE)
    if spec is None:
        raise ContentError(problems)
    agency = spec.get("agency", "AZ_SMS")
    tree = concept_tree(spec.get("concepts"), problems)
    _check_tree(tree, problems)
    leaves = {leaf.id: leaf for top in tree for leaf in top.leaves()}
    defaults = _texts(SIMS_FILE, spec.get("defaults"), leaves, problems)
    for cid in sorted(set(defaults) & set(GENERATED)):
        problems.append(f"{SIMS_FILE}: {cid} is generated from each dataflow; its words belong "
                        "under generated:, not defaults:")

    def maintainable(kind: str, key: str) -> dict:
        data = spec.get(key) or {}
        doc = {"kind": kind, "agency": agency, "id": str(data.get("id")), "version": str(data.get("version", "1.0")),
               "name": _names(SIMS_FILE, f"{key} name", data.get("name"), problems)}
        if data.get("description"):
            doc["description"] = _names(SIMS_FILE, f"{key} description", data["description"], problems)
        return doc

    cs = maintainable("conceptscheme", "concept_scheme")
    cs["concepts"] = [{"id": n.id, "name": n.name} for top in tree for n in top.walk()]
    msd = maintainable("metadatastructure", "structure")
    msd.update(target={"id": "DATAFLOW_TARGET", "object": "DATAFLOW", "object_type": "Dataflow"},
               report_structure="SIMS_REPORT", attributes=_msd_attributes(tree, cs))
    mdf = maintainable("metadataflow", "metadataflow")
    mdf["structure"] = ref(msd)
    out = [cs, msd, mdf]

    ctx = Context(spec, {d["id"]: d for d in content_documents if d["kind"] == "codelist"},
                  {(urn_ref(d), c["id"]): c["name"] for d in content_documents if d["kind"] == "conceptscheme"
                   for c in d["concepts"]})
    files = {p.stem: p for p in sorted((root / SIMS_DIR).glob("*.yaml"))}
    for stem in sorted(set(files) - set(dataflows)):
        problems.append(f"{SIMS_DIR}/{stem}.yaml: there is no dataflow {stem} (dataflows/{stem}.yaml)")
    for flow_id in sorted(dataflows):
        where = f"{SIMS_DIR}/{flow_id}.yaml"
        if flow_id not in files:
            problems.append(f"{where}: missing: every dataflow needs its SIMS texts")
            continue
        data = read_yaml(files[flow_id], problems, where)
        if data is None:
            continue
        own = _texts(where, data.get("texts"), leaves, problems)
        for cid in sorted(set(own) & set(FIXED)):
            problems.append(f"{where}: {cid} is generated from the dataflow and takes no added text")
        flow = dataflows[flow_id]
        if "disclosure" not in flow.document:
            continue  # its dataflow file has a disclosure problem, reported by publisher.content
        doc, updated = flow.document, _updated(where, data.get("updated"), problems)
        if doc.get("source") not in (spec.get("sources") or {}):
            problems.append(f"{where}: the dataflow's source {doc.get('source')!r} is not a register "
                            f"described under sources: in {SIMS_FILE}")
            continue
        texts = {}
        for leaf in leaves.values():
            try:
                texts[leaf.id] = leaf_text(leaf, doc, flow.structure, ctx, defaults, own, updated)
            except (KeyError, IndexError, ValueError) as exc:
                problems.append(f"{SIMS_FILE}: the generated text of {leaf.id} names an unknown "
                                f"placeholder or key: {exc}")
                texts[leaf.id] = {}
            for lang in REQUIRED_LANGUAGES:
                if not texts[leaf.id].get(lang):
                    problems.append(f"{where}: SIMS {leaf.number} {leaf.id} has no text in {lang!r} "
                                    f"(write it here or as a default in {SIMS_FILE})")
        out.append({
            "kind": "metadataset", "agency": flow.document["agency"], "id": f"SIMS_{flow_id}",
            "version": "1.0", "name": _set_name(spec, flow.document, problems),
            "metadataflow": ref(mdf), "structure": ref(msd), "report_structure": msd["report_structure"],
            "target": ref(flow.document), "updated": updated,
            "attributes": report(tree, texts),
        })
    if problems:
        raise ContentError(problems)
    return out
