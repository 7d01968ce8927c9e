"""Serialisers: one module per format and version, each a small function registered here.

A data serialiser is ``fn(message: DataMessage) -> Iterator[bytes]``: it streams the
message in chunks as the rows arrive from the store, so memory stays flat however many
observations a response holds. A structure serialiser is
``fn(message: StructureResponse) -> Iterator[bytes]``.

``REGISTRY`` maps a media type (without parameters) plus its ``version`` parameter to
a ``Format``; content negotiation (api.negotiation) picks one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


#: The observation-level attributes the store keeps (public_observation columns).
OBSERVATION_ATTRIBUTES = ("OBS_STATUS", "CONF_STATUS")


class Obs(NamedTuple):
    """One observation row as the store yields it, in series-key then period order."""

    key: tuple[str, ...]  # one code per dimension, in DSD order
    period: str  # TIME_PERIOD, SDMX form: 2024, 2024-Q1, 2024-01
    value: float | None  # None for a withheld value
    obs_status: str | None
    conf_status: str | None


@dataclass
class DataMessage:
    """Everything a data serialiser needs; plain data, no database handles."""

    message_id: str
    prepared: datetime  # UTC
    dataflow: dict  # the dataflow document (store.documents)
    dsd: dict  # the datastructure document
    codelists: dict[str, dict]  # component id -> codelist document (names for labels)
    # Per dimension, the codes that occur in the result, in codelist order; and the
    # periods that occur, in time order. Known before the rows stream (SDMX-JSON needs them).
    dimension_codes: list[list[str]]
    periods: list[str]
    rows: Iterator[Obs]
    lang: str = "en"
    sender: str = "AZ_SMS"
    schema_url: str | None = None  # where the DSD-specific XSD is served (structure-specific XML)
    extra: dict = field(default_factory=dict)

    @property
    def dimension_ids(self) -> list[str]:
        return [d["id"] for d in self.dsd["dimensions"]]

    @property
    def series_attributes(self) -> dict[str, str]:
        return dict(self.dataflow.get("series_attributes") or {})

    @property
    def observation_attribute_ids(self) -> list[str]:
        return [a["id"] for a in self.dsd["attributes"] if a["attached_to"] == "observation"]

    def observation_attributes(self, row: Obs) -> list[str | None]:
        """The row's values of the observation-level attributes, in DSD order."""
        values = {"OBS_STATUS": row.obs_status, "CONF_STATUS": row.conf_status}
        return [values[a] for a in self.observation_attribute_ids]


@dataclass(frozen=True)
class Format:
    name: str  # short name for format=, e.g. "csvdata"
    media_type: str  # the full media type sent in Content-Type
    serialise: Callable[..., Iterator[bytes]]
    kind: str  # "data" or "structure"


REGISTRY: dict[str, Format] = {}


def register(name: str, media_type: str, kind: str):
    """Decorator: register a serialiser under a short name and its SDMX media type."""

    def wrap(fn):
        REGISTRY[name] = Format(name, media_type, fn, kind)
        return fn

    return wrap


def format_value(value: float | None) -> str:
    """Counts print as integers; other values with up to 6 decimals and no trailing zeros."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")
