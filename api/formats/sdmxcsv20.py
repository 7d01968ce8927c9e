"""SDMX-CSV 2.0.0 data (github sdmx-twg/sdmx-csv, v2): one row per observation.

`labels=id` (default) writes codes; `labels=name` writes names in the requested
language; `labels=both` writes "code: name", in the header and in coded cells alike.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from api.formats import DataMessage, columns, format_value, register
from api.formats.chunks import CHUNK
from store.documents import urn_ref


def _name(names: dict | None, lang: str) -> str | None:
    if not names:
        return None
    return names.get(lang) or names.get("en") or next(iter(names.values()))


def concept_names(message: DataMessage) -> dict[str, str]:
    """Component id -> its concept's name in the message language."""
    lang = message.lang
    schemes = {(d["agency"], d["id"], d["version"]): d for d in message.extra.get("conceptschemes") or []}
    out = {}
    dsd = message.dsd
    for comp in dsd["dimensions"] + dsd["attributes"] + [dsd["time_dimension"], dsd["primary_measure"]]:
        c = comp["concept"]
        scheme = schemes.get((c["agency"], c["id"], c["version"]))
        concept = next((x for x in (scheme or {}).get("concepts", []) if x["id"] == c["item"]), None)
        if concept and (n := _name(concept["name"], lang)):
            out[comp["id"]] = n
    return out


def labeller(message: DataMessage, labels: str):
    """(header(component id), cell(component id, code)) for the chosen labels mode."""
    if labels == "id":
        return (lambda comp: comp), (lambda comp, code: code)
    names = concept_names(message)
    code_names = {comp: {c["id"]: _name(c["name"], message.lang) for c in cl["codes"]}
                  for comp, cl in message.codelists.items()}

    def label(code: str, name: str | None) -> str:
        if name is None:
            return code
        return name if labels == "name" else f"{code}: {name}"

    return (lambda comp: label(comp, names.get(comp)),
            lambda comp, code: label(code, code_names.get(comp, {}).get(code)) if code else code)


@register("csvdata", "application/vnd.sdmx.data+csv; charset=utf-8; version=2.0.0", "data", columnar=True)
def sdmx_csv_20(message: DataMessage) -> Iterator[bytes]:
    labels = message.extra.get("labels", "id")
    if message.batches is not None and not (labels == "id" and columns.time_series_batches(message)):
        message = columns.as_rows(message)  # an option or view the columns are not written in
    header, cell = labeller(message, labels)
    dims = message.dimension_ids
    series_attrs = message.series_attributes
    obs_attrs = message.observation_attribute_ids
    td, measure = message.dsd["time_dimension"]["id"], message.dsd["primary_measure"]["id"]
    # The view: attributes= / detail= drop attribute columns (message.series_attributes and
    # observation_attribute_ids hold only those kept); measures=none drops OBS_VALUE.
    # Without observations (detail=serieskeysonly / nodata) a row per series: the spec lets
    # rows about partial keys leave the other components empty (TIME_PERIOD here).
    observations = message.observations
    with_measure = message.measures and observations
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")  # RFC 4180, as the SDMX-CSV spec asks
    out.writerow(["STRUCTURE", "STRUCTURE_ID", "ACTION", *map(header, dims), header(td),
                  *([header(measure)] if with_measure else []),
                  *map(header, series_attrs), *map(header, obs_attrs)])
    fixed = [cell(a, v) for a, v in series_attrs.items()]
    head = ["dataflow", urn_ref(message.dataflow), "I"]
    plain = labels == "id"
    if message.batches is not None:  # a large answer as columns: ids, time series
        yield buf.getvalue().encode("utf-8")
        yield from _csv_columns(message, ",".join(head) + ",", "".join(f",{v}" for v in fixed), obs_attrs,
                                with_measure)
        return
    for row in message.rows:
        key = row.key if plain else [cell(d, c) for d, c in zip(dims, row.key)]
        if not observations:
            out.writerow([*head, *key, "", *fixed])
        else:
            attrs = message.observation_attributes(row)
            if not plain:
                attrs = [cell(a, v) for a, v in zip(obs_attrs, attrs)]
            value = [format_value(row.value)] if with_measure else []
            out.writerow([*head, *key, row.period, *value, *fixed, *(v or "" for v in attrs)])
        if buf.tell() >= CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _csv_columns(message: DataMessage, head: str, fixed: str, obs_attrs: list[str],
                 with_measure: bool = True) -> Iterator[bytes]:
    """The rows of sdmx_csv_20 from columns. Codes, periods, values and the constant
    attribute values never hold a comma, a quote or a line break (SDMX ids), so the
    csv module would quote nothing here either."""
    def key_text(position: int) -> str:
        return head + ",".join(message.key_of_series(position)) + ","

    def line(batch: columns.Batch):
        parts = [columns.per_series(key_text, batch.series), batch.period,
                 *([",", batch.value] if with_measure else []), fixed]
        for a in obs_attrs:
            parts += [",", batch.attribute(a)]
        return columns.join(*parts, "\r\n")

    yield from columns.blocks(message.batches, line)
