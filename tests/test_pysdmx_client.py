"""A second, independent client (pysdmx, the BIS library) reads every data format it
can read, for every dataflow, with exactly the numbers released.

pysdmx reads SDMX-ML 2.1 (structure-specific and generic), SDMX-ML 3.0 (structure-specific)
and SDMX-CSV 1.0 and 2.0 data;
it has no SDMX-JSON data reader (tests/test_formats.py compares SDMX-JSON with SDMX-CSV).
The released numbers come from the publisher's private log (the `ingested` fixture of
tests/test_sdmx_client.py): withheld cells must be read as missing.
"""

from __future__ import annotations

import math

import pytest

from tests.test_sdmx_client import DIMS, FLOWS, ingested  # noqa: F401  (a fixture)

pysdmx_io = pytest.importorskip("pysdmx.io", reason="pysdmx is in the test extra: pip install -e '.[test]'")

FORMATS = {
    "SDMX-ML 2.1 structure-specific": "structurespecificdata",
    "SDMX-ML 2.1 generic": "genericdata",
    "SDMX-ML 3.0 structure-specific": "structurespecificdata30",
    "SDMX-CSV 2.0": "csvdata",
    "SDMX-CSV 1.0": "csvdata10",
}


def numbers(frame, dims: list[str]) -> dict[tuple[str, str], float | None]:
    out = {}
    for row in frame.to_dict("records"):
        raw = row.get("OBS_VALUE")
        value = None if raw in (None, "") or (isinstance(raw, float) and math.isnan(raw)) else float(raw)
        out[(".".join(str(row[d]) for d in dims), str(row["TIME_PERIOD"]))] = value
    return out


@pytest.mark.parametrize("flow_id", FLOWS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_pysdmx_reads_every_number_back(api_client, ingested, flow_id, fmt):  # noqa: F811
    r = api_client.get(f"/sdmx/2.1/data/AZ_SMS,{flow_id},1.0?format={FORMATS[fmt]}")
    assert r.status_code == 200, r.text[:300]
    msg = pysdmx_io.read_sdmx(r.text, validate=fmt.startswith("SDMX-ML"))
    (dataset,) = msg.get_datasets()
    assert dataset.short_urn == f"Dataflow=AZ_SMS:{flow_id}(1.0)"
    assert numbers(dataset.data, DIMS[flow_id]) == ingested[flow_id]
