"""SDMX-ML 2.1 structure messages, written by sdmx1 from the stored documents.

Structures are small, so sdmx1's writer (the reference implementation of the
information model) is used as it is; store.documents sets the fields it needs for
its output to pass the official XSD.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import sdmx

from api.formats import register
from store.documents import structure_message


@register("structure", "application/vnd.sdmx.structure+xml; charset=utf-8; version=2.1", "structure")
def structure_21(documents: list[dict], selected: list[dict], prepared: datetime) -> Iterator[bytes]:
    """`documents`: everything published (to resolve references); `selected`: what to send."""
    msg = structure_message(documents, include=selected, prepared=prepared.strftime("%Y-%m-%dT%H:%M:%S"))
    yield sdmx.to_xml(msg, pretty_print=False)
