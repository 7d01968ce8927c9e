"""Conformance: schemathesis fuzzes the service with the official SDMX REST OpenAPI
definitions (v2.2.2 for the /sdmx/3.0 paths, v1.5.0 for /sdmx/2.1) and with the
service's own OpenAPI.

The official definitions come from ../shared/conformance/ (patched copies that validate;
its README says what was patched). What is checked, per generated request:

* no server error: any 5xx other than 501 fails; a 501 (a resource or parameter of the
  specification this service does not implement) must carry an SDMX error message;
* every status code answered is one the definition documents for that operation.

Not checked, for the reasons the conformance README gives: the response-body schema
(every 200 is declared `type: string`, so any JSON body would fail).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import status_code_conformance

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
if not CONFORMANCE.is_dir():
    pytest.skip(f"the official SDMX REST definitions are not at {CONFORMANCE} (../shared/conformance)",
                allow_module_level=True)

V2 = schemathesis.openapi.from_path(CONFORMANCE / "patched-2.2.2.yaml")
V15 = schemathesis.openapi.from_path(CONFORMANCE / "patched-1.5.0.yaml")


def _own_openapi() -> dict:
    """The service's own OpenAPI document (building it touches no database)."""
    import tempfile

    from api.app import create_app
    from api.config import Settings

    with tempfile.TemporaryDirectory() as cache:
        return create_app(Settings(database_url="sqlite://", cache_dir=cache, cache_size=2**26,
                                   cache_max_entry=2**20)).openapi()


OWN = schemathesis.openapi.from_dict(_own_openapi())

# Enough examples per operation to reach odd ids, keys and parameters; bounded in time.
FUZZ = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def no_server_error(ctx, response, case) -> None:
    """5xx only as 501 with an SDMX error message (SDMX-ML or SDMX-JSON)."""
    status = response.status_code
    if status == 501:
        body = response.content
        assert b"Error" in body or b'"errors"' in body, f"501 without an SDMX error body: {body[:200]!r}"
    elif status >= 500:
        raise AssertionError(f"server error {status} for {case.method} {case.formatted_path}: "
                             f"{response.content[:300]!r}")


CHECKS = [no_server_error, status_code_conformance]



@V2.parametrize()
@FUZZ
def test_rest_v2_paths_conform_to_the_official_definition(case, live_server):
    response = case.call(base_url=f"{live_server.base}/sdmx/3.0")
    case.validate_response(response, checks=CHECKS)


@V15.parametrize()
@FUZZ
def test_rest_v1_5_paths_conform_to_the_official_definition(case, live_server):
    response = case.call(base_url=f"{live_server.base}/sdmx/2.1")
    case.validate_response(response, checks=CHECKS)


@OWN.parametrize()
@FUZZ
def test_the_service_conforms_to_its_own_openapi(case, live_server):
    response = case.call(base_url=live_server.base)
    case.validate_response(response, checks=CHECKS)
