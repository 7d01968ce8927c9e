"""Load the statistical content (codelists/, dataflows/, metadata/) into structure documents.

The files are YAML a statistician edits; this module checks them as a whole and turns
them into the documents of ``store.documents``. Every problem is collected and reported
together, each with the file it is in, so one run shows everything to fix.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from publisher.disclosure.policy import Policy
from store.documents import LANGUAGES, build_model, ref, urn_ref

# The content folders sit at the project root; CONTENT_DIR points elsewhere.
ROOT = Path(os.environ.get("CONTENT_DIR") or Path(__file__).resolve().parents[1])

CONCEPT_SCHEME_FILE = "metadata/concepts.yaml"
CATEGORY_SCHEME_FILE = "metadata/categories.yaml"
AGENCY_FILE = "metadata/agency.yaml"


class ContentError(Exception):
    """The content files are inconsistent; `problems` lists each as 'file: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("inconsistent statistical content:\n  " + "\n  ".join(problems))


#: The one extract column that is not an SDMX component: the cell key of the cell-key
#: perturbation method (sum of the cell's secret record keys mod 256), for staging only.
CELL_KEY = "CELL_KEY"


#: What the primary measure holds: counts of people or events (whole, not negative), a
#: balance (whole, may be negative: net migration) or a rate (any number).
MEASURES = ("count", "balance", "rate")

#: The series attributes the store can serve: constant per dataflow, each from a key of
#: the dataflow file.
SERIES_ATTRIBUTES = {"UNIT_MEASURE": "unit", "UNIT_MULT": "unit_mult", "DECIMALS": "decimals"}


@dataclass
class ExtractLayout:
    """How the columns of an aggregated extract map to a dataflow's components."""

    columns: dict[str, list[str]]  # component id (or CELL_KEY) -> accepted column headers
    fixed: dict[str, str]  # component id -> constant code (e.g. FREQ)


@dataclass
class Dataflow:
    """A dataflow with its DSD, as the publisher needs it to read and check extracts."""

    document: dict
    structure: dict
    layout: ExtractLayout
    codelists: dict[str, dict]  # dimension / attribute id -> codelist document

    @property
    def ref(self) -> str:
        return urn_ref(self.document)

    @property
    def dimension_ids(self) -> list[str]:
        return [d["id"] for d in self.structure["dimensions"]]


@dataclass
class Content:
    documents: list[dict] = field(default_factory=list)
    dataflows: dict[str, Dataflow] = field(default_factory=dict)  # by dataflow id

    def dataflow(self, flow_id: str) -> Dataflow:
        try:
            return self.dataflows[flow_id]
        except KeyError:
            known = ", ".join(sorted(self.dataflows))
            raise KeyError(f"unknown dataflow {flow_id!r} (known: {known})") from None


def children(codelist: dict, present: set[str] | None = None) -> dict[str, list[str]]:
    """Parent code -> its child codes, from a codelist document's hierarchy.

    With `present` (the codes a table uses), levels the table does not use are skipped
    over: a code's parent is its nearest ancestor in `present`. A citizenship table with
    countries and the total only thus sums its countries to the total, although CL_AREA
    has M49 regions and sub-regions between them. Codes outside `present` are left out.
    """
    parent = {c["id"]: c.get("parent") for c in codelist["codes"]}
    out: dict[str, list[str]] = {}
    for code in codelist["codes"]:
        cid, up = code["id"], code.get("parent")
        if present is not None:
            if cid not in present:
                continue
            seen = set()
            while up is not None and up not in present and up not in seen:
                seen.add(up)
                up = parent.get(up)
        if up:
            out.setdefault(up, []).append(cid)
    return out


def total_code(codelist: dict) -> str:
    """The code a table uses for 'all' (marked `total: true` in the codelist file)."""
    for code in codelist["codes"]:
        if (code.get("annotations") or {}).get("TOTAL") == "true":
            return code["id"]
    return "_T"


def read_yaml(path: Path, problems: list[str], where: str | None = None) -> dict | None:
    """A content file's mapping, or None with the problem added (reported as `where`,
    by default the file's name)."""
    where = where or path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{where}: missing")
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{where}: cannot be read: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping at the top level")
        return None
    return data


def _check_names(where: str, what: str, names: object, problems: list[str]) -> dict:
    if not isinstance(names, dict):
        problems.append(f"{where}: {what} has no name (needs {', '.join(LANGUAGES)})")
        return {}
    for lang in names:
        if lang not in LANGUAGES:
            problems.append(f"{where}: {what} has a name in unknown language {lang!r} "
                            f"(a comma in an unquoted name?)")
    for lang in LANGUAGES:
        text = names.get(lang)
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: {what} has no name in {lang!r}")
    return {k: str(v) for k, v in names.items()}


def _check_id(where: str, what: str, value: object, problems: list[str]) -> str:
    import re
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_@$\-]+", value):
        problems.append(f"{where}: {what} id {value!r} is not a valid SDMX id")
        return str(value)
    return value


def load(root: Path = ROOT) -> Content:
    """Read and check all content files under `root`; raise ContentError on any problem."""
    problems: list[str] = []
    agency_doc = read_yaml(root / AGENCY_FILE, problems) or {}
    agency = agency_doc.get("default", "AZ_SMS")
    agencies = []
    for a in agency_doc.get("agencies", []):
        agencies.append({"id": _check_id(AGENCY_FILE, "agency", a.get("id"), problems),
                         "name": _check_names(AGENCY_FILE, f"agency {a.get('id')}", a.get("name"), problems)})
    documents: list[dict] = [{
        "kind": "agencyscheme", "agency": "SDMX", "id": "AGENCIES", "version": "1.0",
        "name": {"az": "Agentliklər", "en": "Agencies", "ru": "Агентства"},
        "agencies": agencies,
    }]

    def maintainable(kind: str, data: dict, where: str) -> dict:
        doc = {
            "kind": kind,
            "agency": data.get("agency", agency),
            "id": _check_id(where, kind, data.get("id"), problems),
            "version": str(data.get("version", "1.0")),
            "name": _check_names(where, f"{kind} {data.get('id')}", data.get("name"), problems),
        }
        if data.get("description"):
            doc["description"] = _check_names(where, f"description of {data.get('id')}",
                                               data["description"], problems)
        return doc

    # Codelists
    codelists: dict[str, dict] = {}
    for path in sorted((root / "codelists").glob("*.yaml")):
        data = read_yaml(path, problems)
        if data is None:
            continue
        where = f"codelists/{path.name}"
        doc = maintainable("codelist", data, where)
        if doc["id"] in codelists:
            problems.append(f"{where}: codelist {doc['id']} is defined twice")
        seen: set[str] = set()
        codes = []
        for c in data.get("codes") or []:
            cid = _check_id(where, "code", c.get("id"), problems)
            if cid in seen:
                problems.append(f"{where}: duplicate code {cid!r}")
            seen.add(cid)
            code = {"id": cid, "name": _check_names(where, f"code {cid}", c.get("name"), problems)}
            if c.get("parent") is not None:
                code["parent"] = str(c["parent"])
            ann = {k.upper(): str(v) for k, v in c.items()
                   if k not in ("id", "name", "parent", "description", "total")}
            if c.get("total"):
                ann["TOTAL"] = "true"
            if ann:
                code["annotations"] = ann
            codes.append(code)
        if not codes:
            problems.append(f"{where}: codelist {doc['id']} has no codes")
        for code in codes:
            if "parent" in code and code["parent"] not in seen:
                problems.append(f"{where}: code {code['id']!r} has unknown parent {code['parent']!r}")
        # Hierarchies must be trees: walking up from any code must end.
        parents = {c["id"]: c.get("parent") for c in codes}
        for cid in parents:
            walked, cur = set(), cid
            while cur is not None and cur in parents:
                if cur in walked:
                    problems.append(f"{where}: the hierarchy of code {cid!r} has a cycle")
                    break
                walked.add(cur)
                cur = parents[cur]
        doc["codes"] = codes
        codelists[doc["id"]] = doc
    documents.extend(codelists.values())

    # Concept scheme
    cs_data = read_yaml(root / CONCEPT_SCHEME_FILE, problems) or {}
    cs = maintainable("conceptscheme", cs_data, CONCEPT_SCHEME_FILE)
    cs["concepts"] = []
    for c in cs_data.get("concepts") or []:
        cid = _check_id(CONCEPT_SCHEME_FILE, "concept", c.get("id"), problems)
        concept = {"id": cid, "name": _check_names(CONCEPT_SCHEME_FILE, f"concept {cid}", c.get("name"), problems)}
        if c.get("description"):
            concept["description"] = _check_names(CONCEPT_SCHEME_FILE, f"description of concept {cid}",
                                                  c["description"], problems)
        cs["concepts"].append(concept)
    concept_ids = {c["id"] for c in cs["concepts"]}
    documents.append(cs)

    # Category scheme
    cat_data = read_yaml(root / CATEGORY_SCHEME_FILE, problems) or {}
    cats = maintainable("categoryscheme", cat_data, CATEGORY_SCHEME_FILE)
    cats["categories"] = [
        {"id": _check_id(CATEGORY_SCHEME_FILE, "category", c.get("id"), problems),
         "name": _check_names(CATEGORY_SCHEME_FILE, f"category {c.get('id')}", c.get("name"), problems)}
        for c in cat_data.get("categories") or []
    ]
    category_ids = {c["id"] for c in cats["categories"]}
    documents.append(cats)

    def concept_ref(where: str, component: dict) -> dict:
        cid = component.get("concept", component.get("id"))
        if cid not in concept_ids:
            problems.append(f"{where}: component {component.get('id')!r} has no concept "
                            f"({cid!r} is not in {CONCEPT_SCHEME_FILE})")
        return {**ref(cs), "item": cid}

    def codelist_ref(where: str, component: dict) -> dict | None:
        cl_id = component.get("codelist")
        if cl_id not in codelists:
            problems.append(f"{where}: component {component.get('id')!r} uses unknown codelist {cl_id!r}")
            return None
        return ref(codelists[cl_id])

    # Dataflows, each with its DSD
    dataflows: dict[str, Dataflow] = {}
    for path in sorted((root / "dataflows").glob("*.yaml")):
        data = read_yaml(path, problems)
        if data is None:
            continue
        where = f"dataflows/{path.name}"
        flow = maintainable("dataflow", data, where)
        s = data.get("structure") or {}
        dsd = maintainable("datastructure", s, where)
        dims = s.get("dimensions") or []
        if not dims:
            problems.append(f"{where}: the structure has no dimensions")
        if len(dims) > 12:
            problems.append(f"{where}: at most 12 dimensions are supported, not {len(dims)}")
        bound: dict[str, dict] = {}
        dsd["dimensions"] = []
        for dim in dims:
            cl = codelist_ref(where, dim)
            dsd["dimensions"].append({"id": _check_id(where, "dimension", dim.get("id"), problems),
                                      "concept": concept_ref(where, dim), "codelist": cl})
            if cl:
                bound[dim["id"]] = codelists[cl["id"]]
        td = s.get("time_dimension", "TIME_PERIOD")
        dsd["time_dimension"] = {"id": td, "concept": concept_ref(where, {"id": td})}
        pm = s.get("primary_measure", "OBS_VALUE")
        dsd["primary_measure"] = {"id": pm, "concept": concept_ref(where, {"id": pm})}
        dsd["attributes"] = []
        for a in s.get("attributes") or []:
            cl = codelist_ref(where, a)
            attached = a.get("attached_to", "observation")
            if attached not in ("series", "observation"):
                problems.append(f"{where}: attribute {a.get('id')!r} attached_to must be series or observation")
            if attached == "observation" and a.get("id") not in ("OBS_STATUS", "CONF_STATUS"):
                # The store keeps these two per observation (store.schema.public_observation).
                problems.append(f"{where}: observation attribute {a.get('id')!r} is not supported "
                                "(only OBS_STATUS and CONF_STATUS)")
            if attached == "series" and a.get("id") not in SERIES_ATTRIBUTES:
                problems.append(f"{where}: series attribute {a.get('id')!r} is not supported (only "
                                + ", ".join(f"{k} from the dataflow's {v}" for k, v in SERIES_ATTRIBUTES.items())
                                + ")")
            dsd["attributes"].append({"id": a.get("id"), "concept": concept_ref(where, a), "codelist": cl,
                                      "attached_to": attached, "mandatory": bool(a.get("mandatory"))})
            if cl:
                bound[a["id"]] = codelists[cl["id"]]
        ids = [c["id"] for c in dsd["dimensions"]] + [td, pm] + [a["id"] for a in dsd["attributes"]]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"{where}: component ids used twice: {', '.join(dupes)}")

        flow["structure"] = ref(dsd)
        for key in ("frequency", "unit", "source"):
            flow[key] = data.get(key)
        flow["measure"] = data.get("measure", "count")
        if flow["measure"] not in MEASURES:
            problems.append(f"{where}: measure {flow['measure']!r} is not one of {', '.join(MEASURES)}")
        try:
            flow["disclosure"] = asdict(Policy.from_content(data.get("disclosure")))
            flow["annotations"] = [{"type": "CONF_DATA_TR", "title": "SIMS 7.2",
                                    "text": {lang: Policy(**flow["disclosure"]).describe(lang)
                                             for lang in LANGUAGES}}]
        except (TypeError, ValueError) as exc:
            problems.append(f"{where}: disclosure: {exc}")
        else:
            if flow["measure"] != "count" and flow["disclosure"]["method"] != "none":
                # Suppression, rounding and cell keys protect counts of people; a balance
                # or a rate is published as computed, and its file says why that is safe.
                problems.append(f"{where}: a {flow['measure']} is not a count: its disclosure "
                                "method must be none, with the reason")
        freq_codes = {c["id"] for c in codelists.get("CL_FREQ", {}).get("codes", [])}
        if flow["frequency"] not in freq_codes:
            problems.append(f"{where}: frequency {flow['frequency']!r} is not in CL_FREQ")
        series_attrs = {a["id"] for a in dsd["attributes"] if a["attached_to"] == "series"}
        flow["series_attributes"] = {}
        for attr_id, key in SERIES_ATTRIBUTES.items():
            if attr_id in series_attrs:
                if data.get(key) is None:
                    problems.append(f"{where}: the structure has the series attribute {attr_id} "
                                    f"but the dataflow gives no {key}")
                else:
                    flow["series_attributes"][attr_id] = str(data[key])
            elif key != "unit" and data.get(key) is not None:
                problems.append(f"{where}: {key} is given but the structure has no {attr_id} attribute")
        for attr_id, code in flow["series_attributes"].items():
            if attr_id in bound and code not in {c["id"] for c in bound[attr_id]["codes"]}:
                problems.append(f"{where}: {attr_id} {code!r} is not in {bound[attr_id]['id']}")
        if data.get("category") not in category_ids:
            problems.append(f"{where}: category {data.get('category')!r} is not in {CATEGORY_SCHEME_FILE}")
        flow["category"] = {**ref(cats), "item": data.get("category")}

        ext = data.get("extract") or {}
        columns = {k: [str(h) for h in (v if isinstance(v, list) else [v])]
                   for k, v in (ext.get("columns") or {}).items()}
        fixed = {k: str(v) for k, v in (ext.get("fixed") or {}).items()}
        for comp in list(columns) + list(fixed):
            if comp not in ids and comp != CELL_KEY:
                problems.append(f"{where}: extract maps unknown component {comp!r}")
        if CELL_KEY in columns and flow["measure"] != "count":
            problems.append(f"{where}: only counts have cell keys, not a {flow['measure']}")
        if CELL_KEY in fixed:
            problems.append(f"{where}: the cell key differs from cell to cell: {CELL_KEY} "
                            "belongs under extract.columns, not extract.fixed")
        for comp in [c["id"] for c in dsd["dimensions"]] + [td, pm]:
            if comp not in columns and comp not in fixed:
                # Without a declared header the component id itself is the header.
                columns[comp] = []
        for comp, code in fixed.items():
            if comp in bound and code not in {c["id"] for c in bound[comp]["codes"]}:
                problems.append(f"{where}: fixed {comp} {code!r} is not in {bound[comp]['id']}")

        if flow["id"] in dataflows:
            problems.append(f"{where}: dataflow {flow['id']} is defined twice")
        dataflows[flow["id"]] = Dataflow(flow, dsd, ExtractLayout(columns, fixed), bound)
        documents.extend([dsd, flow])
        documents.append({
            "kind": "categorisation", "agency": flow["agency"],
            "id": f"CAT_{flow['id']}", "version": "1.0",
            "name": flow["name"], "category": flow["category"], "artefact": ref(flow),
        })

    # A derived dataflow (disclosure.derived) names a protected source and its codes.
    from publisher.disclosure import derived
    for flow in dataflows.values():
        if "disclosure" in flow.document:
            problems.extend(derived.check_declaration(flow, dataflows))

    # Reference metadata (SIMS 2.0) for every dataflow: metadata/sims.yaml and metadata/sims/.
    from publisher import sims
    try:
        documents.extend(sims.documents(root, documents, dataflows))
    except ContentError as exc:
        problems.extend(exc.problems)

    if problems:
        raise ContentError(problems)
    # Building the sdmx1 objects is the last check: the content must make a model.
    build_model(documents)
    return Content(documents, dataflows)
