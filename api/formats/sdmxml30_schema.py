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

The /schema resource serves it for Accept version=3.0.0 (api.app); the 2.1 module writes
both, from one function, with the differences above as a SchemaVersion.
"""

from __future__ import annotations

from api.formats.sdmxml21_schema import TIME_DIMENSION, SchemaVersion, structure_specific_schema

NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common"
NS_DSD = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/data/structurespecific"
V30 = SchemaVersion(NS_COMMON, NS_DSD, repeat_choice=True, reporting_year_start_day=False)


def dsd_schema_30(dataflow: dict, dsd: dict, codelists: dict[str, dict], *, base_location: str = "",
                  dimension_at_observation: str = TIME_DIMENSION) -> bytes:
    """The SDMX-ML 3.0 structure-specific schema of a dataflow, as UTF-8 XSD bytes.

    Arguments as api.formats.sdmxml21_schema.dsd_schema: ``dimension_at_observation``
    is TIME_PERIOD (time series), another dimension id (cross-sections: the series key
    is every other dimension plus the period) or ``AllDimensions`` (flat);
    ``base_location`` is prefixed to the official schemas' file names in the imports.
    """
    return structure_specific_schema(dataflow, dsd, codelists, V30, base_location=base_location,
                                     dimension_at_observation=dimension_at_observation)
