"""SDMX-ML 2.1 structure-specific schema (XSD) for a dataflow.

A StructureSpecificData message is only valid together with a schema derived from its
data structure: the SDMX 2.1 rules for structure-specific schemas (SDMX-ML 2.1, the
base types in SDMXDataStructureSpecificBase.xsd) restrict the abstract ``dsd:DataSetType``,
``dsd:SeriesType`` and ``dsd:ObsType`` so that every dimension and attribute becomes an
explicit, typed XML attribute, and every codelist an enumerated simple type. This module
writes that schema for each organisation the service emits (time series with
TIME_PERIOD at the observation level, cross-sections, flat), no groups, no explicit
measures.

Built as an lxml tree (not strings, unlike the data writers): the schema is small, made
once per request, and names come from content, so escaping must be right.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

# One definition of the namespace, shared with the data writer whose header names it.
from api.formats.sdmxml21_data import dsd_namespace

NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
NS_DSD = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
NS_XML = "http://www.w3.org/XML/1998/namespace"

#: The time dimension: at the observation level by default (…:ObsLevelDim:TIME_PERIOD).
TIME_DIMENSION = "TIME_PERIOD"


def _xs(tag: str) -> str:
    return f"{{{NS_XS}}}{tag}"


def _sub(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, _xs(tag), {k: v for k, v in attrs.items() if v is not None})


def _documentation(parent: etree._Element, texts: dict | None) -> None:
    """Names as xs:documentation, one per language, as generated SDMX schemas carry them."""
    if not texts:
        return
    annotation = _sub(parent, "annotation")
    for lang, text in sorted(texts.items()):
        doc = _sub(annotation, "documentation")
        doc.set(f"{{{NS_XML}}}lang", lang)
        doc.text = text


def _type_names(dsd: dict, codelists: dict[str, dict]) -> dict[str, str]:
    """Component id -> simple type name; one type per distinct codelist.

    A type is named after its codelist id; the rare clash of two codelists with the same
    id (other agency or version) is resolved by qualifying both with agency and version."""
    refs: dict[str, tuple[str, str, str]] = {}
    for comp in [*dsd["dimensions"], *dsd.get("attributes", [])]:
        if comp["id"] in codelists:
            cl = codelists[comp["id"]]
            refs[comp["id"]] = (cl.get("agency", ""), cl["id"], cl.get("version", ""))
    ids: dict[str, set] = {}
    for r in refs.values():
        ids.setdefault(r[1], set()).add(r)

    def name(r: tuple[str, str, str]) -> str:
        # xs:NCName allows '.', '-' and '_' (SDMX ids and versions use only those).
        return r[1] if len(ids[r[1]]) == 1 else f"{r[0]}.{r[1]}.{r[2]}"

    return {comp: name(r) for comp, r in refs.items()}


def _codelist_type(schema: etree._Element, name: str, codelist: dict) -> None:
    simple = _sub(schema, "simpleType", name=name)
    _documentation(simple, codelist.get("name"))
    restriction = _sub(simple, "restriction", base="xs:string")
    for code in codelist["codes"]:
        _documentation(_sub(restriction, "enumeration", value=code["id"]), code.get("name"))


def _restriction(schema: etree._Element, name: str, base: str) -> etree._Element:
    complex_content = _sub(_sub(schema, "complexType", name=name), "complexContent")
    return _sub(complex_content, "restriction", base=base)


def _prohibit(restriction: etree._Element, *names: str) -> None:
    # Restriction inherits the base type's attribute uses; these must not appear here.
    for n in names:
        _sub(restriction, "attribute", name=n, use="prohibited")


def dsd_schema(dataflow: dict, dsd: dict, codelists: dict[str, dict], *, base_location: str = "",
               dimension_at_observation: str = TIME_DIMENSION) -> bytes:
    """The SDMX-ML 2.1 structure-specific schema of a dataflow, as UTF-8 XSD bytes.

    ``dimension_at_observation`` chooses the organisation the schema describes (and its
    namespace, ``...:ObsLevelDim:<it>``): TIME_PERIOD (time series, the default), another
    dimension id (cross-sections: the series key is every other dimension plus the
    period), or ``AllDimensions`` (flat: observations directly in the data set, each with
    every dimension). A series attribute relates to every dimension but time, so outside
    time series it is written on the observations.

    ``codelists`` maps component ids to codelist documents (store.documents); components
    without one are typed as plain strings. ``base_location`` is prefixed to the official
    schemas' file names (SDMXCommon.xsd, SDMXDataStructureSpecific.xsd) in the imports.
    """
    return structure_specific_schema(dataflow, dsd, codelists, V21, base_location=base_location,
                                     dimension_at_observation=dimension_at_observation)


@dataclass(frozen=True)
class SchemaVersion:
    """What differs between the SDMX-ML 2.1 and 3.0 structure-specific schemas."""

    ns_common: str
    ns_dsd: str
    # 2.1 repeats the series (or observations) inside one optional choice; 3.0 repeats the choice.
    repeat_choice: bool
    # 2.1's base types carry REPORTING_YEAR_START_DAY, which the restrictions prohibit.
    reporting_year_start_day: bool


V21 = SchemaVersion(NS_COMMON, NS_DSD, repeat_choice=False, reporting_year_start_day=True)


def structure_specific_schema(dataflow: dict, dsd: dict, codelists: dict[str, dict], version: SchemaVersion, *,
                              base_location: str = "", dimension_at_observation: str = TIME_DIMENSION) -> bytes:
    """The structure-specific schema of a dataflow in the given SDMX-ML version (see dsd_schema)."""
    namespace = dsd_namespace(dataflow, dimension_at_observation)
    schema = etree.Element(
        _xs("schema"),
        nsmap={"xs": NS_XS, "common": version.ns_common, "dsd": version.ns_dsd, None: namespace},
        targetNamespace=namespace,
        elementFormDefault="unqualified",
        attributeFormDefault="unqualified",
    )
    _documentation(schema, dataflow.get("name"))
    _sub(schema, "import", namespace=version.ns_common, schemaLocation=base_location + "SDMXCommon.xsd")
    _sub(schema, "import", namespace=version.ns_dsd, schemaLocation=base_location + "SDMXDataStructureSpecific.xsd")

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

    def prohibit(restriction: etree._Element, *names: str) -> None:
        names = (*names, "REPORTING_YEAR_START_DAY") if version.reporting_year_start_day else names
        if names:
            _prohibit(restriction, *names)

    # Every attribute is optional, even when the DSD makes it mandatory: detail=dataonly,
    # serieskeysonly and attributes=none leave attributes out, and such messages must
    # still validate (the SDMX schema-generation rules allow this).
    optional = "optional"
    attributes = dsd.get("attributes", [])
    dims = [d["id"] for d in dsd["dimensions"]]
    flat = dimension_at_observation == "AllDimensions"
    time_series = dimension_at_observation == TIME_DIMENSION
    series_attrs = [a for a in attributes if a.get("attached_to") in ("series", "group")]
    obs_attrs = [a for a in attributes if a.get("attached_to") == "observation"]

    # DataSet: series (or, flat, observations); attributes attached to the data set, if
    # any, are XML attributes of DataSet.
    data_set = _restriction(schema, "DataSetType", "dsd:DataSetType")
    seq = _sub(data_set, "sequence")
    _sub(seq, "element", ref="common:Annotations", minOccurs="0")
    _sub(seq, "element", name="DataProvider", type="common:DataProviderReferenceType",
         form="unqualified", minOccurs="0")
    content = {"name": "Obs" if flat else "Series", "type": "ObsType" if flat else "SeriesType", "form": "unqualified"}
    if version.repeat_choice:
        _sub(_sub(seq, "choice", minOccurs="0", maxOccurs="unbounded"), "element", **content)
    else:
        _sub(_sub(seq, "choice", minOccurs="0"), "element", **content, maxOccurs="unbounded")
    for attr in attributes:
        if attr.get("attached_to") == "dataset":
            typed(data_set, attr["id"], optional)
    prohibit(data_set)

    if not flat:
        # Series: the key (every dimension but the one at the observation level, all
        # required) and, for time series, the series-level attributes.
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
                typed(series, attr["id"], optional)
            prohibit(series, TIME_DIMENSION)
        else:
            time_period(series)
            prohibit(series)

    # Obs: the observation dimension(s) (required), the value (absent when withheld) and
    # the attributes written on observations.
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
        typed(obs, attr["id"], optional)
    # ``type`` names an explicit measure; this schema has none.
    prohibit(obs, "type")
    if TIME_DIMENSION not in obs_dims:
        _prohibit(obs, TIME_DIMENSION)

    # lxml's own declaration uses single quotes; write the usual one.
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(schema, encoding="UTF-8", pretty_print=True)
