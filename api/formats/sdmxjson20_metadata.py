"""SDMX-JSON 2.0.0 reference metadata messages (sdmx-json-metadata-schema.json).

The 2.0.0 metadata message is SDMX 3.0's: a metadata set names its metadataflow and its
targets by URN and lists its attributes directly (no report, no target key as in
SDMX-ML 2.1). A multilingual text is a ``value`` that maps languages to texts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timezone

import orjson

from api import negotiation
from api.formats import register
from api.metadata import MetadataResponse, dataflow_urn, metadataflow_urn
from store.documents import LANGUAGES

SCHEMA = ("https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/metadata-message/tools/schemas/"
          "2.0.0/sdmx-json-metadata-schema.json")
JSON_METADATA = "application/vnd.sdmx.metadata+json; charset=utf-8; version=2.0.0"

negotiation.MEDIA.setdefault("metadata", {}).update({
    ("application/vnd.sdmx.metadata+json", "2.0.0"): "jsonmetadata",
    ("application/vnd.sdmx.metadata+json", "2.0"): "jsonmetadata",
    ("application/json", None): "jsonmetadata",
})
negotiation.LATEST["application/vnd.sdmx.metadata+json"] = "2.0.0"
negotiation.FORMAT_PARAM.setdefault("metadata", {}).update(
    {"jsonmetadata": "jsonmetadata", "json": "jsonmetadata", "sdmx-json": "jsonmetadata"})


def _best(texts: dict, lang: str) -> str:
    """The text in the asked language, else English, else any."""
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


def _attributes(attributes: list[dict]) -> list[dict]:
    out = []
    for a in attributes:
        if "attributes" in a:
            out.append({"id": a["id"], "attributes": _attributes(a["attributes"])})
        else:
            out.append({"id": a["id"], "value": {lang: a["text"][lang] for lang in LANGUAGES if lang in a["text"]}})
    return out


def metadata_set(s: dict, lang: str) -> dict:
    # No "version": the schema's VersionType takes semantic versions (1.0.0) only, and a
    # set's version (1.0, as every artefact here) would fail it.
    return {
        "id": s["id"], "agencyID": s["agency"],
        "name": _best(s["name"], lang), "names": s["name"],
        "metadataflow": metadataflow_urn(s["metadataflow"]),
        "targets": [dataflow_urn(s["target"])],
        "attributes": _attributes(s["attributes"]),
    }


def json_metadata_message(msg: MetadataResponse) -> bytes:
    languages = [msg.lang] + [lang for lang in LANGUAGES if lang != msg.lang]
    return orjson.dumps({
        "meta": {"schema": SCHEMA, "id": msg.message_id, "test": False,
                 "prepared": msg.prepared.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "contentLanguages": languages, "sender": {"id": msg.sender}},
        "data": {"metadataSets": [metadata_set(s, msg.lang) for s in msg.sets]},
    })


@register("jsonmetadata", JSON_METADATA, "metadata")
def json_metadata(msg: MetadataResponse) -> Iterator[bytes]:
    yield json_metadata_message(msg)
