"""SDMX-ML 2.1 data messages: GenericData and StructureSpecificData, time series.

Written by hand as strings, not through sdmx1 or an XML tree: sdmx1 needs ~28 s and
GBs of memory to build a million observations as objects, while string building
streams the same message in about a second (../shared/sdmx-libraries.md). Codes and
periods are SDMX ids (validated when the content was loaded), so they need no
escaping; names never appear in data messages.
"""

from __future__ import annotations

from collections.abc import Iterator

from api.formats import DataMessage, format_value, register
from api.formats.chunks import Chunker, series_groups

NS_MESSAGE = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
NS_GENERIC = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic"
NS_SS = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def structure_id(message: DataMessage) -> str:
    f = message.dataflow
    return f"{f['agency']}_{f['id']}_{f['version']}".replace(".", "_")


def dsd_namespace(dataflow: dict) -> str:
    """The namespace of the dataflow's structure-specific schema (SDMX 2.1 rules)."""
    return (f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={dataflow['agency']}:"
            f"{dataflow['id']}({dataflow['version']}):ObsLevelDim:TIME_PERIOD")


def _header(message: DataMessage, namespace: str | None) -> str:
    f = message.dataflow
    ns_attr = f' namespace="{namespace}"' if namespace else ""
    return (
        f"<message:Header><message:ID>{message.message_id}</message:ID>"
        "<message:Test>false</message:Test>"
        f"<message:Prepared>{message.prepared.strftime('%Y-%m-%dT%H:%M:%SZ')}</message:Prepared>"
        f'<message:Sender id="{message.sender}"/>'
        f'<message:Structure structureID="{structure_id(message)}"{ns_attr} dimensionAtObservation="TIME_PERIOD">'
        f'<common:StructureUsage><Ref agencyID="{f["agency"]}" id="{f["id"]}" version="{f["version"]}"/>'
        "</common:StructureUsage></message:Structure></message:Header>"
    )


@register("genericdata", "application/vnd.sdmx.genericdata+xml; charset=utf-8; version=2.1", "data")
def generic_data(message: DataMessage) -> Iterator[bytes]:
    dims = message.dimension_ids
    obs_attrs = message.observation_attribute_ids
    series_attrs = "".join(f'<generic:Value id="{k}" value="{v}"/>' for k, v in message.series_attributes.items())
    series_attrs = f"<generic:Attributes>{series_attrs}</generic:Attributes>" if series_attrs else ""
    out = Chunker()
    out.add('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<message:GenericData xmlns:message="{NS_MESSAGE}" xmlns:common="{NS_COMMON}" '
            f'xmlns:generic="{NS_GENERIC}">' + _header(message, None)
            + f'<message:DataSet structureRef="{structure_id(message)}" action="Information">')
    for key, rows in series_groups(message.rows):
        parts = ["<generic:Series><generic:SeriesKey>"]
        parts += [f'<generic:Value id="{d}" value="{c}"/>' for d, c in zip(dims, key)]
        parts.append("</generic:SeriesKey>" + series_attrs)
        for row in rows:
            parts.append(f'<generic:Obs><generic:ObsDimension value="{row.period}"/>')
            if row.value is not None:
                parts.append(f'<generic:ObsValue value="{format_value(row.value)}"/>')
            attrs = [f'<generic:Value id="{a}" value="{v}"/>'
                     for a, v in zip(obs_attrs, message.observation_attributes(row)) if v]
            if attrs:
                parts.append("<generic:Attributes>" + "".join(attrs) + "</generic:Attributes>")
            parts.append("</generic:Obs>")
        parts.append("</generic:Series>")
        if block := out.add("".join(parts)):
            yield block
    out.add("</message:DataSet></message:GenericData>\n")
    yield out.flush()


@register("structurespecificdata",
          "application/vnd.sdmx.structurespecificdata+xml; charset=utf-8; version=2.1", "data")
def structure_specific_data(message: DataMessage) -> Iterator[bytes]:
    dims = message.dimension_ids
    obs_attrs = message.observation_attribute_ids
    measure = message.dsd["primary_measure"]["id"]
    td = message.dsd["time_dimension"]["id"]
    series_attrs = "".join(f' {k}="{v}"' for k, v in message.series_attributes.items())
    namespace = dsd_namespace(message.dataflow)
    schema_loc = f' xsi:schemaLocation="{namespace} {message.schema_url}"' if message.schema_url else ""
    out = Chunker()
    out.add('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<message:StructureSpecificData xmlns:message="{NS_MESSAGE}" xmlns:ss="{NS_SS}" '
            f'xmlns:common="{NS_COMMON}" xmlns:xsi="{NS_XSI}" xmlns:ns1="{namespace}"{schema_loc}>'
            + _header(message, namespace)
            + f'<message:DataSet ss:structureRef="{structure_id(message)}" xsi:type="ns1:DataSetType" '
            'ss:dataScope="DataStructure" ss:action="Information">')
    for key, rows in series_groups(message.rows):
        parts = ["<Series", *[f' {d}="{c}"' for d, c in zip(dims, key)], series_attrs, ">"]
        for row in rows:
            parts.append(f'<Obs {td}="{row.period}"')
            if row.value is not None:
                parts.append(f' {measure}="{format_value(row.value)}"')
            for a, v in zip(obs_attrs, message.observation_attributes(row)):
                if v:
                    parts.append(f' {a}="{v}"')
            parts.append("/>")
        parts.append("</Series>")
        if block := out.add("".join(parts)):
            yield block
    out.add("</message:DataSet></message:StructureSpecificData>\n")
    yield out.flush()
