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
class DataSetPart:
    """One data set of a message with several (includeHistory, updatedAfter with deletions):
    what it does (SDMX action: Replace, or Delete for observations withdrawn) and from or
    until when its content was valid (the release time)."""

    action: str
    rows: list[Obs]
    valid_from: datetime | None = None
    valid_to: datetime | None = None


def xml_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DataMessage:
    """Everything a data serialiser needs; plain data, no database handles."""

    message_id: str
    prepared: datetime  # UTC
    dataflow: dict  # the dataflow document (store.documents)
    dsd: dict  # the datastructure document
    codelists: dict[str, dict]  # component id -> codelist document (names for labels)
    # Per dimension, the codes that occur in the result, in codelist order; and the
    # periods that occur, in time order. Known before the rows stream for the formats
    # registered with needs_outline (SDMX-JSON); may be empty for the others.
    dimension_codes: list[list[str]]
    periods: list[str]
    rows: Iterator[Obs]
    lang: str = "en"
    # A large answer in the default view may come as columns instead of rows, to the
    # formats registered with columnar=True (api.formats.columns): batches of
    # observations, and each series' key by its position (the batches' `series` column).
    batches: Iterator | None = None
    key_of_series: Callable[[int], tuple[str, ...]] | None = None
    sender: str = "AZ_SMS"
    schema_url: str | None = None  # where the DSD-specific XSD is served (structure-specific XML)
    extra: dict = field(default_factory=dict)
    # The view (api.query.DataView): the dimension at the observation level (a dimension
    # id, TIME_PERIOD, or "AllDimensions" for a flat view); whether observations are
    # written (False for detail=serieskeysonly / nodata: rows are one per series, with
    # period and value None); the attributes written (None: all); whether OBS_VALUE is.
    dimension_at_observation: str = "TIME_PERIOD"
    observations: bool = True
    attribute_selection: frozenset[str] | None = None
    measures: bool = True
    # Several data sets (formats registered with datasets=True): then `rows` is unused.
    datasets: list[DataSetPart] | None = None

    def parts(self) -> Iterator[tuple[DataSetPart, "DataMessage"]]:
        """The message's data sets, each with a message whose rows are that set's: one
        "Information" set (the message itself) unless `datasets` is given."""
        if self.datasets is None:
            yield DataSetPart("Information", []), self
            return
        import dataclasses

        for part in self.datasets:
            yield part, dataclasses.replace(self, rows=iter(part.rows), batches=None, datasets=None)

    @property
    def dimension_ids(self) -> list[str]:
        return [d["id"] for d in self.dsd["dimensions"]]

    def wants_attribute(self, attr_id: str) -> bool:
        return self.attribute_selection is None or attr_id in self.attribute_selection

    @property
    def series_attributes(self) -> dict[str, str]:
        """The dataflow's constant series attribute values (those the view keeps)."""
        return {k: v for k, v in (self.dataflow.get("series_attributes") or {}).items()
                if self.wants_attribute(k)}

    @property
    def observation_attribute_ids(self) -> list[str]:
        """Observation-level attributes the view keeps (none without observations)."""
        if not self.observations:
            return []
        return [a["id"] for a in self.dsd["attributes"]
                if a["attached_to"] == "observation" and self.wants_attribute(a["id"])]

    # --- the levels of the view ---------------------------------------------------------

    @property
    def time_dimension_id(self) -> str:
        return self.dsd["time_dimension"]["id"]

    @property
    def flat(self) -> bool:
        return self.dimension_at_observation == "AllDimensions"

    @property
    def time_series(self) -> bool:
        return self.dimension_at_observation == self.time_dimension_id

    @property
    def series_dimension_ids(self) -> list[str]:
        """The dimensions of a series key, in DSD order (the time dimension last)."""
        if self.time_series:
            return self.dimension_ids
        if self.flat:
            return []
        return [d for d in self.dimension_ids if d != self.dimension_at_observation] + [self.time_dimension_id]

    @property
    def observation_dimension_ids(self) -> list[str]:
        if self.flat:
            return [*self.dimension_ids, self.time_dimension_id]
        return [self.dimension_at_observation]

    def series_key(self, row: Obs) -> tuple[str, ...]:
        if self.time_series:
            return row.key
        at = self.dimension_ids.index(self.dimension_at_observation)
        return (*row.key[:at], *row.key[at + 1:], row.period)

    def observation_key(self, row: Obs) -> tuple[str, ...]:
        if self.time_series:
            return (row.period,)
        if self.flat:
            return (*row.key, row.period)
        return (row.key[self.dimension_ids.index(self.dimension_at_observation)],)

    def series(self) -> Iterator[tuple[tuple[str, ...], list[Obs]]]:
        """The rows grouped into (series key, rows), for views with series."""
        key_of = (lambda r: r.key) if self.time_series else self.series_key
        key, batch = None, []
        for row in self.rows:
            k = key_of(row)
            if k != key:
                if batch:
                    yield key, batch
                key, batch = k, []
            batch.append(row)
        if batch:
            yield key, batch

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
    # True when the serialiser reads DataMessage.dimension_codes / periods (the outline of
    # the result, written before the observations). For other formats the API skips the
    # queries that compute it on large responses.
    needs_outline: bool = False
    # True when the serialiser also writes DataMessage.batches (api.formats.columns).
    columnar: bool = False
    # True when the serialiser writes several data sets (DataMessage.datasets), each with
    # its action and validity: includeHistory needs such a format.
    datasets: bool = False


REGISTRY: dict[str, Format] = {}


def register(name: str, media_type: str, kind: str, *, needs_outline: bool = False,
             columnar: bool = False, datasets: bool = False):
    """Decorator: register a serialiser under a short name and its SDMX media type."""

    def wrap(fn):
        REGISTRY[name] = Format(name, media_type, fn, kind, needs_outline, columnar, datasets)
        return fn

    return wrap


def format_value(value: float | None) -> str:
    """Counts print as integers; other values with up to 6 decimals and no trailing zeros."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")
