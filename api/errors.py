"""SDMX errors: an exception the routes raise, rendered as an SDMX error message.

Status codes and SDMX error codes follow the SDMX REST specification (section
"Error handling"): 100 no results (404), 140 syntax error (400), 150 semantic error
(400), 406 not acceptable, 413/510 response too large, 500 internal, 501 not implemented.
"""

from __future__ import annotations

from datetime import datetime, timezone
from xml.sax.saxutils import escape

import orjson

SDMX_CODES = {400: 140, 404: 100, 406: 406, 413: 510, 414: 140, 500: 500, 501: 501, 503: 503}


class SdmxError(Exception):
    def __init__(self, status: int, message: str, *, code: int | None = None):
        self.status = status
        self.code = code if code is not None else SDMX_CODES.get(status, status)
        self.message = message
        super().__init__(message)


def not_found(message: str = "No results found") -> SdmxError:
    return SdmxError(404, message)


def bad_request(message: str) -> SdmxError:
    return SdmxError(400, message)


def not_implemented(message: str) -> SdmxError:
    return SdmxError(501, message)


def error_xml(err: SdmxError) -> bytes:
    """An SDMX-ML 2.1 Error message (valid against SDMXMessage.xsd, whose Error type
    has no Header: only ErrorMessage elements)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<message:Error xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
        'xmlns:common="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">'
        f'<message:ErrorMessage code="{err.code}"><common:Text xml:lang="en">{escape(err.message)}'
        '</common:Text></message:ErrorMessage></message:Error>'
    ).encode()


def error_json(err: SdmxError) -> bytes:
    """An SDMX-JSON 2.0 error message."""
    return orjson.dumps({
        "meta": {"schema": "https://json.sdmx.org/2.0.0/sdmx-json-data-schema.json",
                 "prepared": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "contentLanguages": ["en"], "sender": {"id": "AZ_SMS"}},
        "errors": [{"code": err.code, "title": err.message}],
    })
