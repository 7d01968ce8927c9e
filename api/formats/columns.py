"""Large time-series answers written a batch of observations at a time, as columns.

A data serialiser writes the same bytes whether it gets rows (``DataMessage.rows``, one
Python object per observation) or, for a large answer in the default time-series view,
Arrow record batches (``DataMessage.batches``, read by the database's ADBC driver). With
batches, each observation's text is put together by Arrow's compute kernels (C++) from
literal pieces and columns, and the series elements around them from the series index:
no Python work per observation, which is what makes a million observations take a
fraction of a second instead of several. No library writes SDMX from Arrow, hence this.

The pieces here are the format-independent part: the batch as columns, values in the
text the row writers give them (``format_value``), optional pieces (an XML attribute
only where there is a value), and the series boundaries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.formats import format_value


@dataclass
class Batch:
    """Observations in series-key then period order, as columns."""

    series: np.ndarray  # each row's series, as a position in the message's series index
    period: pa.Array  # TIME_PERIOD (string)
    value: pa.Array  # OBS_VALUE as text (format_value), null for a withheld value
    obs_status: pa.Array  # string, null where absent
    conf_status: pa.Array

    def __len__(self) -> int:
        return len(self.series)

    def attribute(self, attr_id: str) -> pa.Array:
        return {"OBS_STATUS": self.obs_status, "CONF_STATUS": self.conf_status}[attr_id]


def value_text(values: pa.Array) -> pa.Array:
    """format_value, vectorised: whole numbers as integers, others with up to 6 decimals."""
    values = values.cast(pa.float64())
    whole = pc.fill_null(pc.equal(values, pc.floor(values)), True)
    if pc.all(whole).as_py():  # counts: the usual case
        return pc.cast(pc.cast(values, pa.int64()), pa.string())
    # Some fractions (rates): those few through format_value itself, the rest vectorised.
    ints = pc.cast(pc.cast(pc.if_else(whole, values, 0.0), pa.int64()), pa.string())
    texts = ints.to_pylist()
    for i in np.flatnonzero(~whole.to_numpy(zero_copy_only=False)):
        texts[i] = format_value(values[i].as_py())
    return pc.if_else(pc.is_valid(values), pa.array(texts, pa.string()), pa.scalar(None, pa.string()))


def batch_of(record_batch: pa.RecordBatch, positions: Callable[[np.ndarray], np.ndarray]) -> Batch:
    """A record batch from api.store.data_batches, its series_ref mapped to positions."""
    cols = {name: record_batch.column(name) for name in record_batch.schema.names}
    series = positions(cols["series_ref"].to_numpy(zero_copy_only=False))
    return Batch(series, cols["time_period"], value_text(cols["value"]),
                 cols["obs_status"], cols["conf_status"])


def join(*parts) -> pa.Array:
    """Concatenate strings element-wise; literal pieces repeat; nulls count as empty."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def optional(prefix: str, column: pa.Array, suffix: str) -> pa.Array:
    """prefix + value + suffix where the column has a (non-empty) value, else empty."""
    present = pc.and_(pc.is_valid(column), pc.not_equal(column, ""))
    return pc.if_else(pc.fill_null(present, False),
                      pc.binary_join_element_wise(prefix, column, suffix, ""), "")


def per_series(text_of: Callable[[int], str], series: np.ndarray) -> pa.Array:
    """Each row's text of its series (`text_of(series position)`, once per series)."""
    unique, inverse = np.unique(series, return_inverse=True)
    return pa.array([text_of(int(p)) for p in unique], pa.string()).take(pa.array(inverse.astype(np.int32)))


def encode(lines: pa.Array) -> bytes:
    """The UTF-8 bytes of all strings of `lines`, end to end (Arrow keeps them so already)."""
    if len(lines) == 0:
        return b""
    lines = lines.cast(pa.string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()


class SeriesWriter:
    """Series elements around observations, across batches: ``open_series(position)``
    before the first observation of each series, ``close`` after its last."""

    def __init__(self, open_series: Callable[[int], str], close: str):
        self.open_series, self.close = open_series, close
        self.previous = -1  # the series of the last row written

    def lines(self, batch: Batch, observations: pa.Array) -> pa.Array:
        """Each row's text, with the series boundaries it starts put in front of it."""
        series = batch.series
        starts = np.flatnonzero(np.diff(series, prepend=self.previous) != 0)
        heads = [""]
        for i in starts:
            first = i == 0 and self.previous == -1
            heads.append(("" if first else self.close) + self.open_series(int(series[i])))
        where = np.zeros(len(series), dtype=np.int32)
        where[starts] = np.arange(1, len(starts) + 1, dtype=np.int32)
        if len(series):
            self.previous = int(series[-1])
        return join(pa.array(heads, pa.string()).take(pa.array(where)), observations)

    def end(self) -> str:
        return self.close if self.previous != -1 else ""


def blocks(batches: Iterator[Batch], line: Callable[[Batch], pa.Array]) -> Iterator[bytes]:
    for batch in batches:
        if len(batch):
            yield encode(line(batch))
