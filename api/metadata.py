"""Reference metadata queries: which metadata sets a query asks for, and what a metadata
serialiser receives.

Metadata sets are documents of the store (kind ``metadataset``, see store.documents),
one per dataflow, each reported against a metadataflow and describing one target
dataflow. The routes (api.app) select sets with the functions here, then hand a
``MetadataResponse`` to a serialiser (api.formats.sdmxml21_metadata, sdmxjson20_metadata).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.errors import not_found
from api.query import check_agency, check_id, check_version, split_flow_ref
from api.store import find, select_versions
from store.documents import urn_ref

URN = "urn:sdmx:org.sdmx.infomodel."


def dataflow_urn(r: dict) -> str:
    return f"{URN}datastructure.Dataflow={urn_ref(r)}"


def msd_urn(r: dict) -> str:
    return f"{URN}metadatastructure.MetadataStructure={urn_ref(r)}"


def metadataflow_urn(r: dict) -> str:
    return f"{URN}metadatastructure.Metadataflow={urn_ref(r)}"


@dataclass
class MetadataResponse:
    """Everything a metadata serialiser needs; plain data."""

    message_id: str
    prepared: datetime  # UTC
    sets: list[dict]  # metadataset documents
    structures: dict[str, dict]  # AGENCY:ID(VERSION) -> the MSD document of each set
    lang: str = "en"  # the best language for single-language fields
    sender: str = "AZ_SMS"

    def structure_of(self, metadata_set: dict) -> dict:
        return self.structures[urn_ref(metadata_set["structure"])]


def _same(r: dict, doc: dict) -> bool:
    return (r["agency"], r["id"], r["version"]) == (doc["agency"], doc["id"], doc["version"])


def metadata_sets(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] == "metadataset"]


def structures_for(docs: list[dict], sets: list[dict]) -> dict[str, dict]:
    wanted = {urn_ref(s["structure"]) for s in sets}
    return {urn_ref(d): d for d in docs if d["kind"] == "metadatastructure" and urn_ref(d) in wanted}


def concept_names(docs: list[dict], msd: dict) -> dict[str, dict]:
    """Concept id -> {lang: name} for the concepts of an MSD's attributes."""
    schemes = set()

    def walk(attributes):
        for a in attributes:
            schemes.add(urn_ref(a["concept"]))
            walk(a.get("children") or [])
    walk(msd["attributes"])
    return {c["id"]: c["name"] for d in docs if d["kind"] == "conceptscheme" and urn_ref(d) in schemes
            for c in d["concepts"]}


def parse_flow_ref(flow_ref: str) -> tuple[str, str, str]:
    """REST v1.5 flowRef: ID, AGENCY,ID or AGENCY,ID,VERSION (all, *: any)."""
    agency, flow_id, version = split_flow_ref(flow_ref)
    agency = check_agency(agency)
    flow_id = "*" if flow_id in ("all", "*") else check_id(flow_id, "metadataflow")
    return agency, flow_id, check_version(version)


def by_metadataflow(docs: list[dict], agency: str, flow_id: str, version: str) -> list[dict]:
    """The metadata sets reported against the metadataflow(s) a reference selects."""
    flows = find(docs, "metadataflow", agency, flow_id, version)
    if not flows:
        raise not_found(f"no metadataflow {agency}:{flow_id}({version}) is published")
    return [s for s in metadata_sets(docs) if any(_same(s["metadataflow"], f) for f in flows)]


def by_target(docs: list[dict], kind: str, agency: str, artefact_id: str, version: str) -> list[dict]:
    """The metadata sets about the artefact(s) a structure reference selects."""
    if kind != "dataflow":
        raise not_found(f"no metadata sets describe {kind} artefacts (only dataflows)")
    targets = find(docs, kind, check_agency(agency), "*" if artefact_id in ("*", "all")
                   else check_id(artefact_id, kind), check_version(version))
    if not targets:
        raise not_found(f"no {kind} {agency}:{artefact_id}({version}) is published")
    return [s for s in metadata_sets(docs) if any(_same(s["target"], t) for t in targets)]


def by_id(docs: list[dict], provider: str, set_id: str, version: str) -> list[dict]:
    """REST v2 metadataset/{providerRef}/{metadatasetID}/{version}. Metadata providers are
    not modelled: the agency that maintains a set provides it."""
    provider = "*" if provider in ("*", "all") else check_agency(provider)
    set_id = "*" if set_id in ("*", "all") else check_id(set_id, "metadataset")
    hits = [s for s in metadata_sets(docs)
            if provider in ("*", s["agency"]) and set_id in ("*", s["id"])]
    return select_versions(hits, check_version(version))


def with_key(sets: list[dict], key: str) -> list[dict]:
    """REST v1.5 metadata key: the target dataflow ids, + for OR (all, *: every one)."""
    if key in ("all", "*", ""):
        return sets
    ids = {check_id(k, "dataflow") for k in key.split("+")}
    return [s for s in sets if s["target"]["id"] in ids]


def with_provider(sets: list[dict], provider: str) -> list[dict]:
    if provider in ("all", "*"):
        return sets
    return [s for s in sets if s["agency"] == check_agency(provider)]
