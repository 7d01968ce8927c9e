"""SDMX-CSV 2.0.0 data (github sdmx-twg/sdmx-csv, v2): one row per observation."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from api.formats import DataMessage, format_value, register
from api.formats.chunks import CHUNK
from store.documents import urn_ref


@register("csvdata", "application/vnd.sdmx.data+csv; charset=utf-8; version=2.0.0", "data")
def sdmx_csv_20(message: DataMessage) -> Iterator[bytes]:
    series_attrs = message.series_attributes
    obs_attrs = message.observation_attribute_ids
    structure_id = urn_ref(message.dataflow)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")  # RFC 4180, as the SDMX-CSV spec asks
    out.writerow(["STRUCTURE", "STRUCTURE_ID", "ACTION", *message.dimension_ids,
                  message.dsd["time_dimension"]["id"], message.dsd["primary_measure"]["id"],
                  *series_attrs, *obs_attrs])
    fixed = list(series_attrs.values())
    head = ["dataflow", structure_id, "I"]
    for row in message.rows:
        out.writerow([*head, *row.key, row.period, format_value(row.value), *fixed,
                      *(v or "" for v in message.observation_attributes(row))])
        if buf.tell() >= CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")
