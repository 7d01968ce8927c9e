"""SDMX-ML 3.0 structure-specific schema (XSD) for a dataflow.

The 3.0 counterpart of api.formats.sdmxml21_schema, for the messages that
api.formats.sdmxml30_data writes: it restricts the abstract types of the official
SDMX-ML 3.0.0 SDMXDataStructureSpecific.xsd (``dsd:DataSetType``, ``dsd:SeriesType``,
``dsd:ObsType``) so that every dimension and attribute is an explicit, typed XML
attribute and every codelist an enumerated simple type. It has the same target namespace
(``...Dataflow=AGENCY:ID(VERSION):ObsLevelDim:<dimension>``) and the same shape per
organisation (time series, cross-sections, flat); the 2.1 module's helpers write the
simple types and restrictions. What 3.0 changes:

* the imports name the v3_0 common and structure-specific namespaces;
* the base types have new optional content (``Atts`` and ``Group`` in a data set,
  ``Comp`` and ``Metadata`` in series and observations), which the restrictions leave
  out: this service writes none of it;
* ``TIME_PERIOD`` is declared, optional, on the base SeriesType and ObsType, so each
  restriction requires it where it is a key and prohibits it elsewhere; 3.0 has no
  ``REPORTING_YEAR_START_DAY``.

The /schema resource serves the 2.1 schema (api.app); this one is for validating the
3.0 messages (tests/test_format_sdmxml30_data.py).
"""

from __future__ import annotations

from lxml import etree

from api.formats.sdmxml21_data import dsd_namespace
from api.formats.sdmxml21_schema import (
    TIME_DIMENSION,
    _codelist_type,
    _documentation,
    _prohibit,
    _restriction,
    _sub,
    _type_names,
    _xs,
)

NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common"
NS_DSD = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/data/structurespecific"


def dsd_schema_30(dataflow: dict, dsd: dict, codelists: dict[str, dict], *, base_location: str = "",
                  dimension_at_observation: str = TIME_DIMENSION) -> bytes:
    """The SDMX-ML 3.0 structure-specific schema of a dataflow, as UTF-8 XSD bytes.

    Arguments as api.formats.sdmxml21_schema.dsd_schema: ``dimension_at_observation``
    is TIME_PERIOD (time series), another dimension id (cross-sections: the series key
    is every other dimension plus the period) or ``AllDimensions`` (flat);
    ``base_location`` is prefixed to the official schemas' file names in the imports.
    Every attribute is optional (detail=dataonly/serieskeysonly and attributes=none
    leave them out); series attributes go on observations outside time series.
    """
    namespace = dsd_namespace(dataflow, dimension_at_observation)
    schema = etree.Element(
        _xs("schema"),
        nsmap={"xs": NS_XS, "common": NS_COMMON, "dsd": NS_DSD, None: namespace},
        targetNamespace=namespace,
        elementFormDefault="unqualified",
        attributeFormDefault="unqualified",
    )
    _documentation(schema, dataflow.get("name"))
    _sub(schema, "import", namespace=NS_COMMON, schemaLocation=base_location + "SDMXCommon.xsd")
    _sub(schema, "import", namespace=NS_DSD, schemaLocation=base_location + "SDMXDataStructureSpecific.xsd")

    type_names = _type_names(dsd, codelists)
    written: set[str] = set()
    for comp_id, name in type_names.items():
        if name not in written:
            written.add(name)
            _codelist_type(schema, name, codelists[comp_id])

    def typed(restriction: etree._Element, comp_id: str, use: str) -> None:
        _sub(restriction, "attribute", name=comp_id, type=type_names.get(comp_id, "xs:string"), use=use)

    def time_period(restriction: etree._Element) -> None:
        _sub(restriction, "attribute", name=TIME_DIMENSION, type="common:ObservationalTimePeriodType",
             use="required")

    attributes = dsd.get("attributes", [])
    dims = [d["id"] for d in dsd["dimensions"]]
    flat = dimension_at_observation == "AllDimensions"
    time_series = dimension_at_observation == TIME_DIMENSION
    series_attrs = [a for a in attributes if a.get("attached_to") in ("series", "group")]
    obs_attrs = [a for a in attributes if a.get("attached_to") == "observation"]

    # DataSet: series (or, flat, observations); data set attributes as XML attributes.
    data_set = _restriction(schema, "DataSetType", "dsd:DataSetType")
    seq = _sub(data_set, "sequence")
    _sub(seq, "element", ref="common:Annotations", minOccurs="0")
    _sub(seq, "element", name="DataProvider", type="common:DataProviderReferenceType",
         form="unqualified", minOccurs="0")
    _sub(_sub(seq, "choice", minOccurs="0", maxOccurs="unbounded"), "element",
         name="Obs" if flat else "Series", type="ObsType" if flat else "SeriesType", form="unqualified")
    for attr in attributes:
        if attr.get("attached_to") == "dataset":
            typed(data_set, attr["id"], "optional")

    if not flat:
        series = _restriction(schema, "SeriesType", "dsd:SeriesType")
        seq = _sub(series, "sequence")
        _sub(seq, "element", ref="common:Annotations", minOccurs="0")
        _sub(seq, "element", name="Obs", type="ObsType", form="unqualified", minOccurs="0",
             maxOccurs="unbounded")
        for dim in dims:
            if dim != dimension_at_observation:
                typed(series, dim, "required")
        if time_series:
            for attr in series_attrs:
                typed(series, attr["id"], "optional")
            _prohibit(series, TIME_DIMENSION)
        else:
            time_period(series)

    obs = _restriction(schema, "ObsType", "dsd:ObsType")
    _sub(_sub(obs, "sequence"), "element", ref="common:Annotations", minOccurs="0")
    obs_dims = [*dims, TIME_DIMENSION] if flat else [dimension_at_observation]
    for dim in obs_dims:
        if dim == TIME_DIMENSION:
            time_period(obs)
        else:
            typed(obs, dim, "required")
    _sub(obs, "attribute", name=dsd["primary_measure"]["id"], type="xs:double", use="optional")
    for attr in ([] if time_series else series_attrs) + obs_attrs:
        typed(obs, attr["id"], "optional")
    # ``type`` names an explicit measure; this schema has none.
    _prohibit(obs, "type")
    if TIME_DIMENSION not in obs_dims:
        _prohibit(obs, TIME_DIMENSION)

    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(schema, encoding="UTF-8", pretty_print=True)
