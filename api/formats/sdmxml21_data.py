"""SDMX-ML 2.1 data messages: GenericData and StructureSpecificData, as time series,
cross-sections (another dimension at the observation level) or flat (AllDimensions).

Written by hand as strings, not through sdmx1 or an XML tree: sdmx1 needs ~28 s and
GBs of memory to build a million observations as objects, while string building
streams the same message in about a second (../shared/sdmx-libraries.md). Codes and
periods are SDMX ids (validated when the content was loaded), so they need no
escaping; names never appear in data messages.
"""

from __future__ import annotations

from collections.abc import Iterator

from api.formats import DataMessage, DataSetPart, columns, format_value, register, xml_time
from api.formats.chunks import Chunker

NS_MESSAGE = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
NS_GENERIC = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic"
NS_SS = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def structure_id(message: DataMessage) -> str:
    f = message.dataflow
    return f"{f['agency']}_{f['id']}_{f['version']}".replace(".", "_")


def dsd_namespace(dataflow: dict, dimension_at_observation: str = "TIME_PERIOD") -> str:
    """The namespace of the dataflow's structure-specific schema (SDMX 2.1 rules): one per
    dimension at the observation level (TIME_PERIOD, another dimension or AllDimensions)."""
    return (f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={dataflow['agency']}:"
            f"{dataflow['id']}({dataflow['version']}):ObsLevelDim:{dimension_at_observation}")


def _header(message: DataMessage, namespace: str | None) -> str:
    f = message.dataflow
    ns_attr = f' namespace="{namespace}"' if namespace else ""
    return (
        f"<message:Header><message:ID>{message.message_id}</message:ID>"
        "<message:Test>false</message:Test>"
        f"<message:Prepared>{message.prepared.strftime('%Y-%m-%dT%H:%M:%SZ')}</message:Prepared>"
        f'<message:Sender id="{message.sender}"/>'
        f'<message:Structure structureID="{structure_id(message)}"{ns_attr} '
        f'dimensionAtObservation="{message.dimension_at_observation}">'
        f'<common:StructureUsage><Ref agencyID="{f["agency"]}" id="{f["id"]}" version="{f["version"]}"/>'
        "</common:StructureUsage></message:Structure></message:Header>"
    )


def _levels(message: DataMessage) -> tuple[dict[str, str], dict[str, str]]:
    """The constant series attributes (dataflow values) written on series, and those
    written on observations: a series attribute relates to every dimension but time, so
    it stays on the series only when TIME_PERIOD is at the observation level."""
    constants = message.series_attributes
    return (constants, {}) if message.time_series else ({}, constants)


def _generic_value(component: str, code: str) -> str:
    return f'<generic:Value id="{component}" value="{code}"/>'


def _generic_series_open(dims: list[str], key: tuple[str, ...], series_attrs: str) -> str:
    return ("<generic:Series><generic:SeriesKey>" + "".join(_generic_value(d, c) for d, c in zip(dims, key))
            + "</generic:SeriesKey>" + series_attrs)


def dataset_attributes(part: DataSetPart, prefix: str = "") -> str:
    """A data set's action and validity as XML attributes (ss: qualified in
    structure-specific messages, unqualified in generic ones)."""
    out = f' {prefix}action="{part.action}"'
    if part.valid_from is not None:
        out += f' {prefix}validFromDate="{xml_time(part.valid_from)}"'
    if part.valid_to is not None:
        out += f' {prefix}validToDate="{xml_time(part.valid_to)}"'
    return out


@register("genericdata", "application/vnd.sdmx.genericdata+xml; charset=utf-8; version=2.1", "data",
          columnar=True, datasets=True)
def generic_data(message: DataMessage) -> Iterator[bytes]:
    if message.datasets is None:
        yield from _generic_data(message, True, True)
        return
    parts = list(message.parts())
    for i, (part, one) in enumerate(parts):
        yield from _generic_data(one, i == 0, i == len(parts) - 1, part)


def _generic_data(message: DataMessage, first: bool, last: bool,
                  part: DataSetPart = DataSetPart("Information", [])) -> Iterator[bytes]:
    """One generic DataSet, with the message's start before it when `first` and its end
    after it when `last`."""
    if message.batches is not None and not columns.time_series_batches(message):
        message = columns.as_rows(message)  # a view the columns are not written in
    obs_attrs = message.observation_attribute_ids
    on_series, on_obs = _levels(message)
    series_attrs = "".join(_generic_value(k, v) for k, v in on_series.items())
    series_attrs = f"<generic:Attributes>{series_attrs}</generic:Attributes>" if series_attrs else ""
    obs_constants = [_generic_value(k, v) for k, v in on_obs.items()]
    measures = message.measures
    out = Chunker()
    end = "</message:DataSet></message:GenericData>\n" if last else "</message:DataSet>"
    if first:
        out.add('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<message:GenericData xmlns:message="{NS_MESSAGE}" xmlns:common="{NS_COMMON}" '
                f'xmlns:generic="{NS_GENERIC}">' + _header(message, None))
    out.add(f'<message:DataSet structureRef="{structure_id(message)}"{dataset_attributes(part)}>')
    if message.batches is not None:  # a large answer as columns, in the time-series view
        yield out.flush()
        yield from _generic_columns(message, series_attrs, obs_constants, obs_attrs, out)
        out.add(end)
        yield out.flush()
        return

    def observation(parts: list[str], row, key: str) -> None:
        parts.append(key)
        if measures and row.value is not None:
            parts.append(f'<generic:ObsValue value="{format_value(row.value)}"/>')
        attrs = obs_constants + [_generic_value(a, v)
                                 for a, v in zip(obs_attrs, message.observation_attributes(row)) if v]
        if attrs:
            parts.append("<generic:Attributes>" + "".join(attrs) + "</generic:Attributes>")
        parts.append("</generic:Obs>")

    if message.flat:
        obs_dims = message.observation_dimension_ids
        for row in message.rows:
            parts: list[str] = []
            observation(parts, row, "<generic:Obs><generic:ObsKey>" + "".join(
                _generic_value(d, c) for d, c in zip(obs_dims, message.observation_key(row)))
                + "</generic:ObsKey>")
            if block := out.add("".join(parts)):
                yield block
    else:
        dims = message.series_dimension_ids
        for key, rows in message.series():
            parts = [_generic_series_open(dims, key, series_attrs)]
            if message.observations:
                for row in rows:
                    observation(parts, row, f'<generic:Obs><generic:ObsDimension value="{message.observation_key(row)[0]}"/>')
            parts.append("</generic:Series>")
            if block := out.add("".join(parts)):
                yield block
    out.add(end)
    yield out.flush()


def _generic_columns(message: DataMessage, series_attrs: str, obs_constants: list[str],
                     obs_attrs: list[str], out: Chunker) -> Iterator[bytes]:
    """The series of generic_data from columns (time series: the period is the
    observation's dimension); the closing tag of the last series is left in ``out``."""
    dims = message.series_dimension_ids
    series = columns.SeriesWriter(
        lambda p: _generic_series_open(dims, message.key_of_series(p), series_attrs), "</generic:Series>")
    constants = "".join(obs_constants)

    def line(batch: columns.Batch):
        value = [columns.optional('<generic:ObsValue value="', batch.value, '"/>')] if message.measures else []
        attrs = []  # <generic:Attributes> where the observation has any
        if constants or obs_attrs:
            attrs = [columns.optional("<generic:Attributes>", columns.join(constants, *[
                columns.optional(f'<generic:Value id="{a}" value="', batch.attribute(a), '"/>') for a in obs_attrs]),
                "</generic:Attributes>")]
        return series.lines(batch, '<generic:Obs><generic:ObsDimension value="', batch.period, '"/>', *value,
                            *attrs, "</generic:Obs>")

    yield from columns.blocks(message.batches, line)
    out.add(series.end())


@register("structurespecificdata",
          "application/vnd.sdmx.structurespecificdata+xml; charset=utf-8; version=2.1", "data",
          columnar=True, datasets=True)
def structure_specific_data(message: DataMessage) -> Iterator[bytes]:
    namespace = dsd_namespace(message.dataflow, message.dimension_at_observation)
    schema_url = message.schema_url
    if schema_url and not message.time_series:
        schema_url += f"?dimensionAtObservation={message.dimension_at_observation}"
    schema_loc = f' xsi:schemaLocation="{namespace} {schema_url}"' if schema_url else ""
    out = Chunker()
    out.add('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<message:StructureSpecificData xmlns:message="{NS_MESSAGE}" xmlns:ss="{NS_SS}" '
            f'xmlns:common="{NS_COMMON}" xmlns:xsi="{NS_XSI}" xmlns:ns1="{namespace}"{schema_loc}>'
            + _header(message, namespace))
    yield from structure_specific_datasets(message, out, ' ss:dataScope="DataStructure"')


def structure_specific_datasets(message: DataMessage, out: Chunker, scope: str = "") -> Iterator[bytes]:
    """Every data set of the message (DataMessage.parts), each a DataSet element around its
    structure-specific content, then the end of the message: the same in SDMX-ML 2.1 and
    3.0 but for the 2.1 data scope (`scope`)."""
    for part, one in message.parts():
        out.add(f'<message:DataSet ss:structureRef="{structure_id(message)}" xsi:type="ns1:DataSetType"'
                f'{scope}{dataset_attributes(part, "ss:")}>')
        yield from structure_specific_content(one, out)
        out.add("</message:DataSet>")
    out.add("</message:StructureSpecificData>\n")
    yield out.flush()


def structure_specific_content(message: DataMessage, out: Chunker) -> Iterator[bytes]:
    """The content of a structure-specific data set, streamed through ``out``: ``Series``
    with their ``Obs`` (or, flat, ``Obs`` alone), every dimension, measure and attribute
    an unqualified XML attribute. The same in SDMX-ML 2.1 and 3.0, whose writers add
    their own message, header and DataSet element around it (api.formats.sdmxml30_data).

    Yields the blocks ``out`` fills; what remains in ``out`` is the caller's to flush.
    A large answer given as columns (``message.batches``) is written from them in the
    time-series view, from rows made of them in the others."""
    if message.batches is not None and not columns.time_series_batches(message):
        message = columns.as_rows(message)
    obs_attrs = message.observation_attribute_ids
    measure = message.dsd["primary_measure"]["id"]
    on_series, on_obs = _levels(message)
    series_attrs = "".join(f' {k}="{v}"' for k, v in on_series.items())
    obs_constants = "".join(f' {k}="{v}"' for k, v in on_obs.items())
    measures = message.measures
    obs_dims = message.observation_dimension_ids
    if message.batches is not None:
        yield out.flush()
        yield from _structure_specific_columns(message, series_attrs, obs_constants, obs_attrs, out)
        return

    def observation(parts: list[str], row) -> None:
        parts.append("<Obs")
        parts += [f' {d}="{c}"' for d, c in zip(obs_dims, message.observation_key(row))]
        if measures and row.value is not None:
            parts.append(f' {measure}="{format_value(row.value)}"')
        parts.append(obs_constants)
        for a, v in zip(obs_attrs, message.observation_attributes(row)):
            if v:
                parts.append(f' {a}="{v}"')
        parts.append("/>")

    if message.flat:
        for row in message.rows:
            parts: list[str] = []
            observation(parts, row)
            if block := out.add("".join(parts)):
                yield block
    else:
        dims = message.series_dimension_ids
        for key, rows in message.series():
            parts = [_series_element(dims, key, series_attrs)]
            if message.observations:
                parts.append(">")
                for row in rows:
                    observation(parts, row)
                parts.append("</Series>")
            else:
                parts.append("/>")
            if block := out.add("".join(parts)):
                yield block


def _series_element(dims: list[str], key: tuple[str, ...], series_attrs: str) -> str:
    """A structure-specific ``<Series`` with its key and attributes, not yet closed."""
    return "<Series" + "".join(f' {d}="{c}"' for d, c in zip(dims, key)) + series_attrs


def _structure_specific_columns(message: DataMessage, series_attrs: str, obs_constants: str,
                                obs_attrs: list[str], out: Chunker) -> Iterator[bytes]:
    """The series of structure_specific_content from columns (time series: the period is
    the observation's dimension); the closing tag of the last series is left in ``out``."""
    dims = message.series_dimension_ids
    series = columns.SeriesWriter(
        lambda p: _series_element(dims, message.key_of_series(p), series_attrs) + ">", "</Series>")
    measure = message.dsd["primary_measure"]["id"]
    (obs_dim,) = message.observation_dimension_ids

    def line(batch: columns.Batch):
        value = [columns.optional(f' {measure}="', batch.value, '"')] if message.measures else []
        attrs = [columns.optional(f' {a}="', batch.attribute(a), '"') for a in obs_attrs]
        return series.lines(batch, f'<Obs {obs_dim}="', batch.period, '"', *value, obs_constants, *attrs, "/>")

    yield from columns.blocks(message.batches, line)
    out.add(series.end())
