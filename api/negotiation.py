"""Content negotiation: pick a registered format from `format=` or the Accept header.

The SDMX media types carry a `version` parameter; a request that names a version we
do not serve does not match. `*/*`, generic XML/JSON/CSV types and no header at all
get the default for the kind of resource. Nothing acceptable -> 406.
"""

from __future__ import annotations

from api.errors import SdmxError
from api.formats import REGISTRY, Format

# (media type, version or None) -> format name, per kind of resource.
MEDIA = {
    "data": {
        ("application/vnd.sdmx.structurespecificdata+xml", "2.1"): "structurespecificdata",
        ("application/vnd.sdmx.genericdata+xml", "2.1"): "genericdata",
        ("application/vnd.sdmx.data+json", "2.0.0"): "jsondata",
        ("application/vnd.sdmx.data+json", "2.0"): "jsondata",
        ("application/vnd.sdmx.data+csv", "2.0.0"): "csvdata",
        ("application/vnd.sdmx.data+csv", "2.0"): "csvdata",
        ("application/xml", None): "structurespecificdata",
        ("text/xml", None): "structurespecificdata",
        ("application/json", None): "jsondata",
        ("text/csv", None): "csvdata",
    },
    "structure": {
        ("application/vnd.sdmx.structure+xml", "2.1"): "structure",
        ("application/xml", None): "structure",
        ("text/xml", None): "structure",
    },
    "schema": {
        ("application/vnd.sdmx.schema+xml", "2.1"): "schema",
        ("application/xml", None): "schema",
        ("text/xml", None): "schema",
    },
}
DEFAULT = {"data": "structurespecificdata", "structure": "structure", "schema": "schema"}
# Versionless SDMX media types mean the newest version we serve.
LATEST = {
    "application/vnd.sdmx.structurespecificdata+xml": "2.1",
    "application/vnd.sdmx.genericdata+xml": "2.1",
    "application/vnd.sdmx.data+json": "2.0.0",
    "application/vnd.sdmx.data+csv": "2.0.0",
    "application/vnd.sdmx.structure+xml": "2.1",
    "application/vnd.sdmx.schema+xml": "2.1",
}
# format= values (ours, .Stat Suite's and Eurostat's spellings), case-insensitive.
FORMAT_PARAM = {
    "data": {"structurespecificdata": "structurespecificdata", "xml": "structurespecificdata",
             "sdmx-ml": "structurespecificdata", "genericdata": "genericdata",
             "jsondata": "jsondata", "json": "jsondata", "sdmx-json": "jsondata",
             "csvdata": "csvdata", "csv": "csvdata", "sdmx-csv": "csvdata"},
    "structure": {"structure": "structure", "xml": "structure", "sdmx-ml": "structure"},
    "schema": {"xml": "schema", "schema": "schema"},
}


def parse_accept(header: str) -> list[tuple[str, dict[str, str], float]]:
    """Media ranges with their parameters and q, best first (stable for equal q)."""
    out = []
    for i, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        params, q = {}, 1.0
        for f in fields[1:]:
            k, _, v = f.partition("=")
            k, v = k.strip().lower(), v.strip().strip('"')
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
            elif k:
                params[k] = v
        out.append((media, params, q, i))
    out.sort(key=lambda t: (-t[2], t[3]))
    return [(m, p, q) for m, p, q, _ in out if q > 0]


def negotiate(kind: str, accept: str | None, format_param: str | None) -> Format:
    table = MEDIA[kind]
    if format_param:
        name = FORMAT_PARAM[kind].get(format_param.lower())
        if name is None:
            raise SdmxError(406, f"format={format_param} is not served for {kind}; "
                                 f"use one of: {', '.join(sorted(FORMAT_PARAM[kind]))}")
        return REGISTRY[name]
    if not accept or not accept.strip():
        return REGISTRY[DEFAULT[kind]]
    for media, params, _q in parse_accept(accept):
        if media in ("*/*", "application/*", "text/*"):
            return REGISTRY[DEFAULT[kind]]
        version = params.get("version", LATEST.get(media))
        name = table.get((media, version)) or table.get((media, None))
        if name:
            return REGISTRY[name]
    served = sorted({f"{m}; version={v}" if v else m for m, v in table})
    raise SdmxError(406, f"none of the requested media types is served for {kind}; "
                         f"available: {', '.join(served)}")
