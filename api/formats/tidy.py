"""Tidy tables for people: one row per observation, a code and a label for each dimension,
the period, the value and its status. The friendly API (api.friendly) renders them as
JSON, CSV and Excel; the renderers are small functions registered by extension, as in
Datasette.

A withheld (confidential) observation has no value, ``confidential`` true and a note
saying why, in the reader's language: never a zero.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator

import orjson

from api.formats import Obs

# What a reader is told about a withheld number, and about each column.
WITHHELD_NOTE = {
    "en": "Confidential: withheld so that no person can be identified",
    "az": "Məxfi: heç bir şəxsin tanınmaması üçün gizlədilib",
    "ru": "Конфиденциально: скрыто, чтобы нельзя было установить личность",
}
COLUMN_LABELS = {
    "label": {"en": "{} (name)", "az": "{} (adı)", "ru": "{} (название)"},
    "TIME_PERIOD": {"en": "Period", "az": "Dövr", "ru": "Период"},
    "value": {"en": "Value", "az": "Dəyər", "ru": "Значение"},
    "status": {"en": "Status", "az": "Status", "ru": "Статус"},
    "status_label": {"en": "Status (name)", "az": "Status (adı)", "ru": "Статус (название)"},
    "confidential": {"en": "Confidential", "az": "Məxfi", "ru": "Конфиденциально"},
    "note": {"en": "Note", "az": "Qeyd", "ru": "Примечание"},
}


def name_in(names: dict | None, lang: str) -> str | None:
    """A multilingual name in `lang`, else English, else any."""
    if not names:
        return None
    return names.get(lang) or names.get("en") or next(iter(names.values()))


def columns(dimensions: list[tuple[str, str]], lang: str) -> list[dict]:
    """The tidy columns: (dimension id, its name) pairs, each as a code and a label column,
    then period, value and status."""
    out = []
    for dim_id, dim_name in dimensions:
        out.append({"id": dim_id, "label": dim_name})
        out.append({"id": f"{dim_id}_label", "label": COLUMN_LABELS["label"][lang].format(dim_name)})
    for col in ("TIME_PERIOD", "value", "status", "status_label", "confidential", "note"):
        out.append({"id": col, "label": COLUMN_LABELS[col][lang]})
    return out


def row_maker(dim_ids: list[str], code_names: dict[str, dict[str, str]],
              status_names: dict[str, str], lang: str) -> Callable[[Obs], dict]:
    """A function from a stored observation to its tidy row (a dict in column order)."""
    note = WITHHELD_NOTE[lang]

    def row(obs: Obs) -> dict:
        out: dict = {}
        for dim_id, code in zip(dim_ids, obs.key):
            out[dim_id] = code
            out[f"{dim_id}_label"] = code_names.get(dim_id, {}).get(code, code)
        withheld = obs.value is None
        value = obs.value
        if value is not None and float(value).is_integer():
            value = int(value)  # counts read as counts, not 1234.0
        out.update(TIME_PERIOD=obs.period, value=value, status=obs.obs_status,
                   status_label=status_names.get(obs.obs_status) if obs.obs_status else None,
                   confidential=withheld or obs.conf_status == "C", note=note if withheld else None)
        return out

    return row


# --- renderers: (columns, rows) -> bytes, by extension ----------------------------------------

RENDERERS: dict[str, tuple[str, Callable[[list[dict], Iterable[dict]], bytes]]] = {}


def renderer(extension: str, media_type: str):
    def wrap(fn):
        RENDERERS[extension] = (media_type, fn)
        return fn
    return wrap


def _cell(value) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


@renderer("csv", "text/csv; charset=utf-8")
def tidy_csv(cols: list[dict], rows: Iterable[dict]) -> bytes:
    """CSV that Excel opens correctly: UTF-8 with a byte-order mark (without it Excel reads
    ə and ş as two Latin-1 letters each), comma-separated, CRLF line ends, a header of ids."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    ids = [c["id"] for c in cols]
    writer.writerow(ids)
    for r in rows:
        writer.writerow([_cell(r[i]) for i in ids])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


@renderer("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
def tidy_xlsx(cols: list[dict], rows: Iterable[dict]) -> bytes:
    """An Excel workbook (openpyxl, write-only: rows stream into the file): a header row
    of readable column names, numbers as numbers, an empty cell for a withheld value."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ids = [c["id"] for c in cols]
    ws.append([c["label"] for c in cols])
    for r in rows:
        ws.append([r[i] for i in ids])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def tidy_json(document: dict) -> bytes:
    return orjson.dumps(document)


def rows_of(make_row: Callable[[Obs], dict], observations: Iterable[Obs]) -> Iterator[dict]:
    return (make_row(o) for o in observations)
