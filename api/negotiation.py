"""Content negotiation: pick a registered format from `format=` or the Accept header.

The SDMX media types carry a `version` parameter; a request that names a version we
do not serve does not match. `*/*`, generic XML/JSON/CSV types and no header at all
get the default for the kind of resource. Nothing acceptable -> 406.

Some formats take options as media-type parameters of the Accept header (SDMX-CSV 1.0:
``labels``, ``timeFormat``; SDMX-CSV 2.0: ``labels``, ``timeFormat``, ``keys``);
negotiation binds them to the serialiser and repeats them in the Content-Type, so that
responses with different options are cached apart.
"""

from __future__ import annotations

import dataclasses
import functools

from api.errors import SdmxError, bad_request
from api.formats import REGISTRY, Format

# (media type, version or None) -> format name, per kind of resource.
MEDIA = {
    "data": {
        ("application/vnd.sdmx.structurespecificdata+xml", "2.1"): "structurespecificdata",
        ("application/vnd.sdmx.structurespecificdata+xml", "3.0.0"): "structurespecificdata30",
        ("application/vnd.sdmx.structurespecificdata+xml", "3.0"): "structurespecificdata30",
        ("application/vnd.sdmx.genericdata+xml", "2.1"): "genericdata",
        ("application/vnd.sdmx.data+json", "2.0.0"): "jsondata",
        ("application/vnd.sdmx.data+json", "2.0"): "jsondata",
        ("application/vnd.sdmx.data+csv", "2.0.0"): "csvdata",
        ("application/vnd.sdmx.data+csv", "2.0"): "csvdata",
        ("application/vnd.sdmx.data+csv", "1.0.0"): "csvdata10",
        ("application/vnd.sdmx.data+csv", "1.0"): "csvdata10",
        ("application/xml", None): "structurespecificdata",
        ("text/xml", None): "structurespecificdata",
        ("application/json", None): "jsondata",
        ("text/csv", None): "csvdata",
    },
    "structure": {
        ("application/vnd.sdmx.structure+xml", "2.1"): "structure",
        ("application/vnd.sdmx.structure+xml", "3.0.0"): "structure30",
        ("application/vnd.sdmx.structure+xml", "3.0"): "structure30",
        ("application/vnd.sdmx.structure+json", "2.0.0"): "structurejson",
        ("application/vnd.sdmx.structure+json", "2.0"): "structurejson",
        ("application/xml", None): "structure",
        ("text/xml", None): "structure",
        ("application/json", None): "structurejson",
    },
    "schema": {
        ("application/vnd.sdmx.schema+xml", "2.1"): "schema",
        ("application/vnd.sdmx.schema+xml", "3.0.0"): "schema30",
        ("application/vnd.sdmx.schema+xml", "3.0"): "schema30",
        ("application/xml", None): "schema",
        ("text/xml", None): "schema",
    },
}
DEFAULT = {"data": "structurespecificdata", "structure": "structure", "schema": "schema"}
# Versionless SDMX media types mean the newest version we serve.
LATEST = {
    # SDMX-ML 2.1 stays the default for data too; SDMX-ML 3.0 when asked with version=3.0.0.
    "application/vnd.sdmx.structurespecificdata+xml": "2.1",
    "application/vnd.sdmx.genericdata+xml": "2.1",
    "application/vnd.sdmx.data+json": "2.0.0",
    "application/vnd.sdmx.data+csv": "2.0.0",
    # SDMX-ML 2.1 stays the default for structures, on the REST v2 paths too: clients
    # (sdmx1, .Stat) expect it; SDMX-ML 3.0 when asked with version=3.0.0.
    "application/vnd.sdmx.structure+xml": "2.1",
    "application/vnd.sdmx.structure+json": "2.0.0",
    "application/vnd.sdmx.schema+xml": "2.1",
}
# format= values (ours, .Stat Suite's and Eurostat's spellings), case-insensitive.
FORMAT_PARAM = {
    "data": {"structurespecificdata": "structurespecificdata", "xml": "structurespecificdata",
             "sdmx-ml": "structurespecificdata", "genericdata": "genericdata",
             "structurespecificdata30": "structurespecificdata30", "xml30": "structurespecificdata30",
             "jsondata": "jsondata", "json": "jsondata", "sdmx-json": "jsondata",
             "csvdata": "csvdata", "csv": "csvdata", "sdmx-csv": "csvdata",
             "csvdata10": "csvdata10", "csv10": "csvdata10"},
    "structure": {"structure": "structure", "xml": "structure", "sdmx-ml": "structure",
                  "structure30": "structure30", "xml30": "structure30",
                  "structurejson": "structurejson", "json": "structurejson", "sdmx-json": "structurejson"},
    "schema": {"xml": "schema", "schema": "schema", "xml30": "schema30", "schema30": "schema30"},
}

# Media-type parameters a format takes as options: format name -> {parameter as
# parse_accept lower-cases it: (its spelling, serialiser keyword, allowed values)}.
MEDIA_OPTIONS = {
    "csvdata10": {"labels": ("labels", "labels", ("id", "both")),
                  "timeformat": ("timeFormat", "time_format", ("original", "normalized"))},
    "csvdata": {"labels": ("labels", "labels", ("id", "name", "both")),
                "timeformat": ("timeFormat", "time_format", ("original", "normalized")),
                "keys": ("keys", "keys", ("none", "obs", "series", "both"))},
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
            return with_options(REGISTRY[name], params)
    served = sorted({f"{m}; version={v}" if v else m for m, v in table})
    raise SdmxError(406, f"none of the requested media types is served for {kind}; "
                         f"available: {', '.join(served)}")


def with_options(fmt: Format, params: dict[str, str]) -> Format:
    """The format with the options its media type carried bound to its serialiser
    (and written into its Content-Type); a value the format does not define is a 400."""
    options = MEDIA_OPTIONS.get(fmt.name)
    if not options:
        return fmt
    kwargs, suffix = {}, ""
    for key, (spelling, keyword, allowed) in options.items():
        if key not in params:
            continue
        value = params[key]
        if value not in allowed:
            media = "; ".join(p for p in fmt.media_type.split("; ") if not p.startswith("charset="))
            raise bad_request(f"{spelling}={value} is not one of {', '.join(allowed)} for {media}")
        kwargs[keyword] = value
        suffix += f"; {spelling}={value}"
    if not kwargs:
        return fmt
    return dataclasses.replace(fmt, media_type=fmt.media_type + suffix,
                               serialise=functools.partial(fmt.serialise, **kwargs))


def accept_language(header: str | None, default: str = "en", languages: tuple[str, ...] = ("en", "az", "ru")) -> str:
    """The first of `languages` that an Accept-Language header names, in its order (the
    primary subtag only: az-Latn-AZ is az), else `default`."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in languages:
            return tag
    return default
