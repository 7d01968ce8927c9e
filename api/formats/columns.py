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

from api.formats import Obs, format_value


@dataclass
class Batch:
    """Observations in series-key then period order, as columns."""

    series: np.ndarray  # each row's series, as a position in the message's series index
    period: pa.Array  # TIME_PERIOD (string)
    value: pa.Array  # OBS_VALUE as text (format_value), null for a withheld value
    obs_status: pa.Array  # string, null where absent
    conf_status: pa.Array
    number: pa.Array | None = None  # OBS_VALUE as float64 (null for a withheld value)

    def __len__(self) -> int:
        return len(self.series)

    def attribute(self, attr_id: str) -> pa.Array:
        return {"OBS_STATUS": self.obs_status, "CONF_STATUS": self.conf_status}[attr_id]


def value_text(values: pa.Array) -> pa.Array:
    """format_value, vectorised: whole numbers as integers, others with up to 6 decimals
    (rounded as ``f"{v:.6f}"`` does, trailing zeros dropped)."""
    values = values.cast(pa.float64())
    whole = pc.fill_null(pc.equal(values, pc.floor(values)), True)
    size = pc.abs(values)
    small = pc.fill_null(pc.less(size, 2.0 ** 53), True)  # an integer int64 holds exactly
    if pc.all(whole).as_py() and pc.all(small).as_py():  # counts: the usual case
        return pc.cast(pc.cast(values, pa.int64()), pa.string())
    # Fractions (rates): rounded to 6 decimals by Arrow, then the shortest text of the
    # rounded number, which is the 6-decimal text without its trailing zeros as long as
    # the number is well inside the double's precision. Where Arrow's rounding could part
    # from the exact decimal rounding of f"{:.6f}" (a near tie), where the magnitude is
    # outside that range, or where Arrow writes an exponent, format_value itself.
    scaled = pc.multiply(values, 1e6)
    tie = pc.abs(pc.subtract(pc.subtract(scaled, pc.floor(scaled)), 0.5))
    rounded = pc.divide(pc.round(scaled, round_mode="half_to_even"), 1e6)
    safe = pc.and_(pc.and_(pc.greater(tie, pc.add(pc.multiply(pc.abs(scaled), 1e-15), 1e-9)),
                           pc.greater_equal(size, 1e-6)), pc.less(size, 1e9))
    integral = pc.if_else(whole, values, rounded)  # the number written
    integral_whole = pc.and_(pc.equal(integral, pc.floor(integral)), pc.less(pc.abs(integral), 2.0 ** 53))
    texts = pc.if_else(integral_whole, _integers(integral, integral_whole), pc.cast(rounded, pa.string()))
    safe = pc.if_else(whole, small, pc.and_(safe, pc.invert(pc.match_substring(texts, "e"))))
    return _patched(texts, pc.invert(pc.fill_null(safe, True)), values, format_value)


def _integers(values: pa.Array, where: pa.Array) -> pa.Array:
    """The whole numbers of `values` (where `where`) as integer text, elsewhere ``"0"``."""
    return pc.cast(pc.cast(pc.if_else(where, values, 0.0), pa.int64()), pa.string())


def json_number(values: pa.Array) -> pa.Array:
    """Each number as orjson writes it after api.formats.sdmxjson20's ``_number`` (whole
    numbers as integers, others in the shortest form that reads back the same), and
    ``null`` for a missing value. Arrow writes the same shortest digits; it only places the
    decimal point otherwise than orjson for very small numbers and in some of its
    exponent forms: those few through orjson itself."""
    import orjson

    values = values.cast(pa.float64())
    whole = pc.fill_null(pc.equal(values, pc.floor(values)), True)
    size = pc.abs(values)
    small = pc.fill_null(pc.less(size, 2.0 ** 53), True)
    if pc.all(whole).as_py() and pc.all(small).as_py():  # counts: the usual case
        return pc.fill_null(pc.cast(pc.cast(values, pa.int64()), pa.string()), "null")
    texts = pc.if_else(whole, _integers(values, pc.and_(whole, small)),
                       pc.cast(values, pa.string()))
    safe = pc.if_else(whole, pc.less(size, 2.0 ** 53),
                      pc.and_(pc.greater_equal(size, 1e-4), pc.invert(pc.match_substring(texts, "e"))))
    texts = _patched(texts, pc.invert(pc.fill_null(safe, True)), values,
                     lambda v: orjson.dumps(int(v) if v.is_integer() else v).decode())
    return pc.fill_null(texts, "null")


def _patched(texts: pa.Array, where: pa.Array, values: pa.Array, text_of: Callable) -> pa.Array:
    """`texts` with the (few) elements `where` is true replaced by text_of(value)."""
    positions = np.flatnonzero(where.to_numpy(zero_copy_only=False))
    if len(positions) == 0:
        return texts
    fixed = [text_of(v) for v in values.take(pa.array(positions)).to_pylist()]
    mask = np.zeros(len(texts), dtype=bool)
    mask[positions] = True
    return pc.replace_with_mask(texts, pa.array(mask), pa.array(fixed, pa.string()))


def batch_of(record_batch: pa.RecordBatch, positions: Callable[[np.ndarray], np.ndarray]) -> Batch:
    """A record batch from api.store.data_batches, its series_ref mapped to positions."""
    cols = {name: record_batch.column(name) for name in record_batch.schema.names}
    series = positions(cols["series_ref"].to_numpy(zero_copy_only=False))
    number = cols["value"].cast(pa.float64())
    return Batch(series, cols["time_period"], value_text(number),
                 cols["obs_status"], cols["conf_status"], number)


def time_series_batches(message) -> bool:
    """Whether the message's batches are in the view the columnar branches write: time
    series with their observations (the view the app sends batches for). The writers turn
    batches in any other view into rows (as_rows)."""
    return message.batches is not None and message.time_series and message.observations


def rows_of(message) -> Iterator[Obs]:
    """The observations of ``message.batches`` as the rows api.store.data_rows yields
    (``Obs``, in the same order): for a writer given batches with an option or a view its
    columnar branch does not write. Python work per observation, as on the row path.

    Batches come in series-key then period order, the order of the time-series and flat
    views; a cross-section (another dimension at the observation level) wants the rows
    ordered by the other dimensions, the period, then that dimension: they are sorted so
    in memory (the app sends batches for the default view only). Without observations
    (detail=serieskeysonly / nodata) a row per series, its period and value None, as
    data_rows gives them.

    Cross-section rows are sorted by Python's string order of the codes, which is the
    database's for SQLite and for PostgreSQL under the C collation."""
    def series_rows() -> Iterator[Obs]:
        previous = None
        for batch in message.batches:
            for s in batch.series[np.flatnonzero(np.diff(batch.series, prepend=-1) != 0)].tolist():
                if s != previous:
                    yield Obs(tuple(message.key_of_series(s)), None, None, None, None)
                previous = s

    def rows() -> Iterator[Obs]:
        for batch in message.batches:
            keys: dict[int, tuple[str, ...]] = {}
            numbers = batch.number if batch.number is not None else batch.value.cast(pa.float64())
            for s, p, v, o, c in zip(batch.series.tolist(), batch.period.to_pylist(), numbers.to_pylist(),
                                     batch.obs_status.to_pylist(), batch.conf_status.to_pylist()):
                key = keys.get(s)
                if key is None:
                    key = keys[s] = tuple(message.key_of_series(s))
                yield Obs(key, p, v, o, c)

    if not message.observations:
        return series_rows()
    dims = message.dimension_ids
    if message.dimension_at_observation not in dims:
        return rows()
    from store import periods

    at = dims.index(message.dimension_at_observation)
    return iter(sorted(rows(), key=lambda r: (*r.key[:at], *r.key[at + 1:], *periods.bounds(r.period), r.key[at])))


def as_rows(message):
    """The message with its batches turned into rows (rows_of), for the row branch."""
    import dataclasses

    return dataclasses.replace(message, rows=rows_of(message), batches=None, key_of_series=None)


def join(*parts) -> pa.Array:
    """Concatenate strings element-wise; literal pieces repeat; nulls count as empty."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def optional(prefix: str, column: pa.Array, suffix: str) -> pa.Array:
    """prefix + value + suffix where the column has a (non-empty) value, else null (which
    `join` writes as nothing)."""
    if isinstance(column, pa.Scalar):  # e.g. a join of literal pieces alone
        text = column.as_py()
        return pa.scalar(prefix + text + suffix if text else None, pa.string())
    joined = pc.binary_join_element_wise(prefix, column, suffix, "")  # null where the column is
    if len(column) and pc.min(pc.binary_length(column)).as_py() == 0:  # some empty values (rare)
        joined = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), joined)
    return joined


def per_series(text_of: Callable[[int], str], series: np.ndarray) -> pa.Array:
    """Each row's text of its series (`text_of(series position)`, once per run of rows of
    a series: once per series, the rows of a series being adjacent)."""
    if len(series) == 0:
        return pa.array([], pa.string())
    starts = np.flatnonzero(np.diff(series, prepend=series[0] - 1) != 0)
    runs = np.repeat(np.arange(len(starts), dtype=np.int32), np.diff(starts, append=len(series)))
    return pa.array([text_of(int(series[i])) for i in starts], pa.string()).take(pa.array(runs))


def encode(lines: pa.Array) -> bytes:
    """The UTF-8 bytes of all strings of `lines`, end to end (Arrow keeps them so already)."""
    if len(lines) == 0:
        return b""
    lines = lines.cast(pa.string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()


class SeriesWriter:
    """Series elements around observations, across batches: ``open_series(position)``
    before the first observation of each series, ``close`` after its last; ``separator``
    between two series, ``between`` between two observations of a series (JSON's commas)."""

    def __init__(self, open_series: Callable[[int], str], close: str, *, separator: str = "",
                 between: str = ""):
        self.open_series, self.close = open_series, close
        self.separator, self.between = separator, between
        self.previous = -1  # the series of the last row written

    def lines(self, batch: Batch, *observation) -> pa.Array:
        """Each row's text (the `join` of the `observation` pieces), with the series
        boundaries it starts put in front of it (one join: no copy in between)."""
        series = batch.series
        starts = np.flatnonzero(np.diff(series, prepend=self.previous) != 0)
        heads = [self.between]
        for i in starts:
            first = i == 0 and self.previous == -1
            heads.append(("" if first else self.close + self.separator) + self.open_series(int(series[i])))
        where = np.zeros(len(series), dtype=np.int32)
        where[starts] = np.arange(1, len(starts) + 1, dtype=np.int32)
        if len(series):
            self.previous = int(series[-1])
        return join(pa.array(heads, pa.string()).take(pa.array(where)), *observation)

    def end(self) -> str:
        return self.close if self.previous != -1 else ""


def blocks(batches: Iterator[Batch], line: Callable[[Batch], pa.Array]) -> Iterator[bytes]:
    for batch in batches:
        if len(batch):
            yield encode(line(batch))
