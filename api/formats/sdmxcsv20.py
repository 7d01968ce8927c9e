"""SDMX-CSV 2.0.0 data (github sdmx-twg/sdmx-csv, tag v2.0.0, data-message field guide).

One row per observation (one per series for detail=serieskeysonly / nodata). Columns:
``STRUCTURE`` (``dataflow``), ``STRUCTURE_ID`` (``AGENCY:ID(VERSION)``), ``ACTION``
(``I``), the dimensions in DSD order, ``TIME_PERIOD``, ``OBS_VALUE``, the series-level
attributes, the observation-level attributes (those the view keeps).

Options, as the field guide's "Optional parameters" define them: media-type parameters of
the Accept header (``application/vnd.sdmx.data+csv; version=2.0.0; labels=name;
timeFormat=normalized; keys=both``, bound by api.negotiation and repeated in the
Content-Type), else the query string (``?labels=``, ``?timeFormat=``, ``?keys=``, which
the app passes in ``DataMessage.extra``). The Accept header wins; a value outside those
below is a 400 naming it, raised before anything is written.

* ``labels=id`` (default): ids. ``labels=both``: ``id: name`` in the header of every
  component column (``OBS_VALUE: Observation value``), in every coded cell and in
  STRUCTURE_ID (``AZ_SMS:DF_RESPERM_TEMP(1.0): Temporary residence permits issued``);
  periods and values are not coded and stay as they are. ``labels=name``: every id
  column stays, and right after it comes a column with the localised name: in the header
  the component's concept name, in the cells the code's name, empty where the value has
  no localised name (TIME_PERIOD, OBS_VALUE, an empty attribute); a STRUCTURE_NAME column
  (the dataflow's name) comes right after STRUCTURE_ID. Names are in the language of
  Accept-Language (az, en, ru; a name missing in it falls back to English).
* ``timeFormat=original`` (default): periods as stored (2024, 2024-Q1, 2024-01).
  ``timeFormat=normalized``: TIME_PERIOD as the ISO 8601 date of the period's first day,
  as in SDMX-CSV 1.0 (api.formats.sdmxcsv10.normalized_period, where the choice is
  explained).
* ``keys=none`` (default), ``series``, ``obs``, ``both``: SERIES_KEY and/or OBS_KEY
  columns (SERIES_KEY first) right after ACTION. SERIES_KEY: the ids of the dimensions
  not at the observation level, in DSD order (the time dimension last), joined by ``.``:
  the series key of the view (all dimensions but TIME_PERIOD for time series, all but
  the dimension at the observation level plus TIME_PERIOD for a cross-section, empty for
  dimensionAtObservation=AllDimensions). OBS_KEY: every dimension, TIME_PERIOD last,
  joined by ``.``; empty on the rows of series without observations. Keys are made of
  ids and periods as stored, whatever ``labels`` and ``timeFormat`` (the spec's
  ``M.USD.EUR.SP00.2020-01``): they identify, they are not display.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from api.errors import bad_request
from api.formats import DataMessage, columns, format_value, register
from api.formats.chunks import CHUNK
from store.documents import urn_ref

MEDIA_TYPE = "application/vnd.sdmx.data+csv; charset=utf-8; version=2.0.0"
LABELS = ("id", "name", "both")
TIME_FORMATS = ("original", "normalized")
KEYS = ("none", "obs", "series", "both")


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


def code_names(message: DataMessage) -> dict[str, dict[str, str | None]]:
    """Component id -> {code: its name in the message language}, for coded components."""
    return {comp: {c["id"]: _name(c["name"], message.lang) for c in cl["codes"]}
            for comp, cl in message.codelists.items()}


def labeller(message: DataMessage, labels: str):
    """(header(component id), cell(component id, code)) for labels=id or labels=both
    ("id: name"; the id alone where there is no name)."""
    if labels == "id":
        return (lambda comp: comp), (lambda comp, code: code)
    names = concept_names(message)
    codes = code_names(message)

    def label(code: str, name: str | None) -> str:
        return code if name is None else f"{code}: {name}"

    return (lambda comp: label(comp, names.get(comp)),
            lambda comp, code: label(code, codes.get(comp, {}).get(code)) if code else code)


def check_options(labels: str, time_format: str, keys: str) -> None:
    """400 for option values SDMX-CSV 2.0 does not define."""
    for spelling, value, allowed in (("labels", labels, LABELS), ("timeFormat", time_format, TIME_FORMATS),
                                     ("keys", keys, KEYS)):
        if value not in allowed:
            raise bad_request(f"{spelling}={value} is not one of {', '.join(allowed)} in SDMX-CSV 2.0")


@register("csvdata", MEDIA_TYPE, "data", columnar=True)
def sdmx_csv_20(message: DataMessage, *, labels: str | None = None, time_format: str | None = None,
                keys: str | None = None) -> Iterator[bytes]:
    """Check the options now (a bad one is a 400 before anything is sent), then stream.

    `labels`, `time_format` and `keys` come from the Accept header's media-type parameters
    (bound by api.negotiation); without them, from the query string through
    ``message.extra``."""
    labels = labels or message.extra.get("labels") or "id"
    time_format = time_format or message.extra.get("timeFormat") or "original"
    keys = keys or message.extra.get("keys") or "none"
    check_options(labels, time_format, keys)
    if message.batches is not None and not (labels == "id" and columns.time_series_batches(message)):
        # labels (bound from the Accept header, which the app does not read) or a view the
        # columns are not written in: the rows of the batches.
        message = columns.as_rows(message)
    return _write(message, labels, time_format, keys)


def _write(message: DataMessage, labels: str, time_format: str, keys: str) -> Iterator[bytes]:
    dims = message.dimension_ids
    series_attrs = message.series_attributes
    obs_attrs = message.observation_attribute_ids
    td, measure = message.time_dimension_id, message.dsd["primary_measure"]["id"]
    # The view: attributes= / detail= drop attribute columns (message.series_attributes and
    # observation_attribute_ids hold only those kept); measures=none drops OBS_VALUE.
    # Without observations (detail=serieskeysonly / nodata) a row per series: the spec lets
    # rows about partial keys leave the other components empty (TIME_PERIOD here).
    observations = message.observations
    with_measure = message.measures and observations
    components = [*dims, td, *([measure] if with_measure else []), *series_attrs, *obs_attrs]
    series_key, obs_key = keys in ("series", "both"), keys in ("obs", "both")
    normalize = time_format == "normalized"

    flow, flow_name = urn_ref(message.dataflow), _name(message.dataflow.get("name"), message.lang)
    head = ["dataflow", flow, "I"]
    fixed_head = ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    if labels == "both" and flow_name:
        head[1] = f"{flow}: {flow_name}"
    if labels == "name":
        head.insert(2, flow_name or "")
        fixed_head.insert(2, "STRUCTURE_NAME")
    fixed_head += ["SERIES_KEY"] * series_key + ["OBS_KEY"] * obs_key

    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")  # RFC 4180, as the SDMX-CSV spec asks
    if labels == "name":
        heads = concept_names(message)
        # The name column's header: the component's concept name (its id if it had none).
        out.writerow([*fixed_head, *(h for c in components for h in (c, heads.get(c, c)))])
    else:
        header, _ = labeller(message, labels)
        out.writerow([*fixed_head, *map(header, components)])

    if message.batches is not None:  # a large answer as columns: ids, time series
        yield buf.getvalue().encode("utf-8")
        yield from _csv_columns(message, ",".join(head) + ",", "".join(f",{v}" for v in series_attrs.values()),
                                obs_attrs, with_measure, series_key, obs_key, normalize)
        return

    # Imported here: api.formats.sdmxcsv10 imports this module.
    from api.formats.sdmxcsv10 import normalized_period

    relabel = _relabeller(message, labels, components)

    period_text: dict[str, str] = {}  # each period normalised once
    fixed = [v or "" for v in series_attrs.values()]
    positions = [(dims + [td]).index(d) for d in message.series_dimension_ids]  # SERIES_KEY's
    for row in message.rows:
        period = row.period or ""
        cells = [*row.key, period]
        key_cells = []
        if series_key:
            key_cells.append(".".join(cells[i] for i in positions))
        if obs_key:
            key_cells.append(".".join(cells) if observations else "")
        if normalize and period:
            cells[-1] = period_text.get(period) or period_text.setdefault(period, normalized_period(period))
        if observations:
            if with_measure:
                cells.append(format_value(row.value))
            cells += fixed
            cells += (v or "" for v in message.observation_attributes(row))
        else:
            cells += fixed
        out.writerow([*head, *key_cells, *(relabel(cells) if relabel else cells)])
        if buf.tell() >= CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _relabeller(message: DataMessage, labels: str, components: list[str]):
    """The component cells of a row (ids, in `components` order) as `labels` writes them;
    None for labels=id (written as they are)."""
    if labels == "id":
        return None
    names = code_names(message)
    coded = [names.get(c) if c not in (message.time_dimension_id, message.dsd["primary_measure"]["id"]) else None
             for c in components]
    if labels == "both":
        # "id: name" in coded cells; the id alone where the code has no name; empty stays empty.
        def both(cells: list[str]) -> list[str]:
            return [f"{v}: {n}" if (m is not None and v and (n := m.get(v)) is not None) else v
                    for v, m in zip(cells, coded)]
        return both

    # labels=name: each id followed by its localised name, empty if the value has none.
    # TIME_PERIOD and OBS_VALUE are not coded, so their name cells are empty: the field
    # guide's text says "empty if the value has no localised name" (its example 6 repeats
    # the period there; the text is followed).
    def name(cells: list[str]) -> list[str]:
        out = []
        for v, m in zip(cells, coded):
            out += (v, (m.get(v) or "") if m is not None and v else "")
        return out
    return name


def _normalized(periods: pa.Array) -> pa.Array:
    """normalized_period of each period, computed once per distinct period."""
    from api.formats.sdmxcsv10 import normalized_period  # (imported here: see _write)

    distinct = pc.unique(periods)
    dates = pa.array([normalized_period(p) if p else p for p in distinct.to_pylist()], pa.string())
    return pc.take(dates, pc.index_in(periods, value_set=distinct))


def _csv_columns(message: DataMessage, head: str, fixed: str, obs_attrs: list[str],
                 with_measure: bool = True, series_key: bool = False, obs_key: bool = False,
                 normalize: bool = False) -> Iterator[bytes]:
    """The rows of sdmx_csv_20 from columns (labels=id, time series). Codes, periods,
    values and the constant attribute values never hold a comma, a quote or a line break
    (SDMX ids), so the csv module would quote nothing here either. SERIES_KEY is the
    series' key; OBS_KEY the series' key, ".", the period as stored."""
    def key_text(position: int) -> str:
        key = ".".join(message.key_of_series(position))
        return head + (key + "," if series_key else "") + (key + "." if obs_key else "")

    def dims_text(position: int) -> str:
        return ("," if obs_key else "") + ",".join(message.key_of_series(position)) + ","

    def line(batch: columns.Batch):
        period = _normalized(batch.period) if normalize else batch.period
        if obs_key:  # head, SERIES_KEY, OBS_KEY (the series' key, its period), the key
            parts = [columns.per_series(key_text, batch.series), batch.period,
                     columns.per_series(dims_text, batch.series)]
        else:
            parts = [columns.per_series(lambda s: key_text(s) + dims_text(s), batch.series)]
        parts += [period, *([",", batch.value] if with_measure else []), fixed]
        for a in obs_attrs:
            parts += [",", batch.attribute(a)]
        return columns.join(*parts, "\r\n")

    yield from columns.blocks(message.batches, line)
