"""SDMX-CSV 1.0.0 data (github sdmx-twg/sdmx-csv, tag v1.0, data-message field guide).

Asked for with ``Accept: application/vnd.sdmx.data+csv;version=1.0.0`` (or ``version=1.0``)
or ``format=csvdata10`` (also ``csv10``); the unversioned CSV names (``csvdata``, ``csv``,
``text/csv``) stay SDMX-CSV 2.0.0.

One row per observation. Columns: ``DATAFLOW`` (``AGENCY:ID(VERSION)``), the dimensions
in DSD order, ``TIME_PERIOD``, ``OBS_VALUE``, then every attribute of the DSD in DSD order
(series-level ones replicated on each row). No ACTION column, no structure-type column:
those are 2.0. Comma separator, ``.`` decimals and CRLF line ends (RFC 4180) whatever the
language: the spec lets a service follow the client's locale (``;`` and ``,`` for fr) but
does not require it, and a fixed layout is what programs reading it expect.

Options, as the spec defines them (media-type parameters of the Accept header, e.g.
``application/vnd.sdmx.data+csv;version=1.0.0;labels=both;timeFormat=normalized``; also
taken from the query string, ``?labels=both`` and, once the app passes it into
``DataMessage.extra["timeFormat"]``, ``?timeFormat=normalized``; the Accept header wins):

* ``labels=id`` (default) writes ids. ``labels=both`` writes ``id: name`` with the name in
  the language of Accept-Language (az, en, ru; names missing in it fall back to English)
  in the header of every dimension, the time dimension and every attribute, and in every
  coded cell, the DATAFLOW cell included (``AZ_SMS:DF_RESPERM_TEMP(1.0): <name>``). The
  headers ``DATAFLOW`` and ``OBS_VALUE`` are fixed terms and stay as they are; period and
  value cells are not coded and stay as they are. SDMX-CSV 1.0 has no ``labels=name``
  (that is 2.0): asking for it is a 400.
* ``timeFormat=original`` (default) writes periods as stored (2024, 2024-Q1, 2024-01).
  ``timeFormat=normalized`` converts them "to the most granular ISO 8601 representation
  taking into account the highest frequency of the data in the message and the moment in
  time when the lower-frequency values were collected". Our finest frequency is the day
  and the spec's own example turns monthly 2014-01 into 2014-01-01, so every period is
  written as an ISO 8601 calendar date, the first day of the period (2024-Q1 -> 2024-01-01,
  2024 -> 2024-01-01, 2024-07 -> 2024-07-01): one sortable date column whatever the
  frequency. The first day is used for stocks too (valid work permits are counted at the
  end of the quarter); the stored dataflow documents do not say which flows are stocks.

Withheld observations are written as in SDMX-CSV 2.0: empty OBS_VALUE, OBS_STATUS ``Q``
and CONF_STATUS ``C``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from api.errors import bad_request, not_implemented
from api.formats import DataMessage, columns, format_value, register
from api.formats.chunks import CHUNK
from api.formats.sdmxcsv20 import _name, labeller
from store import periods as sdmx_periods
from store.documents import urn_ref

MEDIA_TYPE = "application/vnd.sdmx.data+csv; charset=utf-8; version=1.0.0"
LABELS = ("id", "both")
TIME_FORMATS = ("original", "normalized")


def check_options(labels: str, time_format: str) -> None:
    """400 for option values SDMX-CSV 1.0 does not define."""
    if labels not in LABELS:
        extra = " (labels=name is SDMX-CSV 2.0: ask for version=2.0.0)" if labels == "name" else ""
        raise bad_request(f"labels={labels} is not one of {', '.join(LABELS)} in SDMX-CSV 1.0{extra}")
    if time_format not in TIME_FORMATS:
        raise bad_request(f"timeFormat={time_format} is not one of {', '.join(TIME_FORMATS)}")


def normalized_period(period: str) -> str:
    """ISO 8601 calendar date of the period's first day: 2024-Q2 -> 2024-04-01."""
    return sdmx_periods.bounds(period)[0].isoformat()


@register("csvdata10", MEDIA_TYPE, "data", columnar=True)
def sdmx_csv_10(message: DataMessage, *, labels: str | None = None,
                time_format: str | None = None) -> Iterator[bytes]:
    """Check the options now (a bad one is a 400 before anything is sent), then stream.

    `labels` and `time_format` come from the Accept header's media-type parameters (bound
    by api.negotiation); without them, from the query string through ``message.extra``."""
    labels = labels or message.extra.get("labels") or "id"
    time_format = time_format or message.extra.get("timeFormat") or "original"
    check_options(labels, time_format)
    check_view(message)
    if message.batches is not None and not (labels == "id" and time_format == "original"
                                            and columns.time_series_batches(message)):
        # Options (bound from the Accept header, which the app does not read) or a view
        # the columns are not written in: the rows of the batches.
        message = columns.as_rows(message)
    return _rows(message, labels, time_format)


def check_view(message: DataMessage) -> None:
    """501 for views SDMX-CSV 1.0 cannot express: every row of it is one observation with
    its OBS_VALUE column (the field guide has no rows for series alone)."""
    if not message.observations:
        raise not_implemented("SDMX-CSV 1.0 has one row per observation and cannot carry series "
                              "without observations (detail=serieskeysonly/nodata): ask for "
                              "SDMX-CSV 2.0, SDMX-ML or SDMX-JSON")
    if not message.measures:
        raise not_implemented("SDMX-CSV 1.0 always has an OBS_VALUE column (measures=none): "
                              "ask for SDMX-CSV 2.0, SDMX-ML or SDMX-JSON")


def _rows(message: DataMessage, labels: str, time_format: str) -> Iterator[bytes]:
    header, cell = labeller(message, labels)
    dsd = message.dsd
    dims = message.dimension_ids
    td = dsd["time_dimension"]["id"]
    # attributes= / detail=dataonly keep some attributes only: their columns alone.
    attributes = [a["id"] for a in dsd["attributes"] if message.wants_attribute(a["id"])]
    series_attrs = message.series_attributes
    obs_attrs = message.observation_attribute_ids
    # Each attribute column, in DSD order: a constant (series level) or the row's value.
    constant = {a: cell(a, series_attrs.get(a) or "") for a in attributes if a not in obs_attrs}
    obs_slot = {a: i for i, a in enumerate(obs_attrs)}

    flow = urn_ref(message.dataflow)
    if labels == "both" and (name := _name(message.dataflow.get("name"), message.lang)):
        flow = f"{flow}: {name}"
    normalize = time_format == "normalized"
    period_text: dict[str, str] = {}  # each period normalised once
    plain = labels == "id"

    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")  # RFC 4180, as the SDMX-CSV spec asks
    out.writerow(["DATAFLOW", *map(header, dims), header(td), "OBS_VALUE", *map(header, attributes)])
    if message.batches is not None:  # a large answer as columns: ids, periods as stored
        yield buf.getvalue().encode("utf-8")
        yield from _columns(message, flow, [constant.get(a) for a in attributes], attributes)
        return
    for row in message.rows:
        key = row.key if plain else [cell(d, c) for d, c in zip(dims, row.key)]
        values = message.observation_attributes(row)
        attrs = [constant[a] if a in constant else cell(a, values[obs_slot[a]] or "") for a in attributes]
        period = row.period
        if normalize:
            period = period_text.get(period) or period_text.setdefault(period, normalized_period(period))
        out.writerow([flow, *key, period, format_value(row.value), *attrs])
        if buf.tell() >= CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _columns(message: DataMessage, flow: str, constants: list[str | None],
             attributes: list[str]) -> Iterator[bytes]:
    """The rows of _rows from columns (labels=id, timeFormat=original): per attribute
    column, its constant (`constants`, written through the csv module as the row branch
    does) or the observation's value (None). Codes, periods and values hold no comma,
    quote or line break (SDMX ids), so the csv module would quote none of them."""
    def csv_cell(text: str) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow([text, ""])
        return buf.getvalue()[:-1]  # the cell as the csv module writes it in a row

    def key_text(position: int) -> str:
        return csv_cell(flow) + "," + ",".join(message.key_of_series(position)) + ","

    def line(batch: columns.Batch):
        parts = [columns.per_series(key_text, batch.series), batch.period, ",", batch.value]
        for a, constant in zip(attributes, constants):
            parts += [",", csv_cell(constant) if constant is not None else batch.attribute(a)]
        return columns.join(*parts, "\r\n")

    yield from columns.blocks(message.batches, line)
