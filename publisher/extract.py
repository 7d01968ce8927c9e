"""Read an aggregated extract (CSV or .xlsx) and check it against its dataflow.

The result is either a clean table of observations ready for the staging area, or an
``ExtractRejected`` whose problems each name the file, row, column, value and reason.
Row numbers are those a person sees in a spreadsheet: the header is row 1.

Nothing here touches the store, so validation and ingestion check exactly the same way.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from publisher import microdata
from publisher.content import CELL_KEY, Dataflow, children
from publisher.text import fold
from store import periods

MAX_PROBLEMS = 1000  # a report longer than this is cut, with the count of what was left out


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        if self.value is not None:
            where += f", value {self.value!r}"
        return f"{where}: {self.reason}"


class ExtractRejected(Exception):
    def __init__(self, problems: list[Problem], total: int | None = None):
        self.problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(f"extract rejected with {self.total} problem(s); first: {problems[0]}")


@dataclass
class CleanExtract:
    dataflow: Dataflow
    filename: str
    sha256: str
    encoding: str
    # One row per observation: the dimension columns (codes), TIME_PERIOD, OBS_VALUE,
    # series_key (codes joined by '.', in DSD order) and, when the dataflow's layout maps
    # it, CELL_KEY (int, 0..255: the cell key of the cell-key method).
    observations: pd.DataFrame = field(repr=False)

    @property
    def row_count(self) -> int:
        return len(self.observations)


# --- reading the file -------------------------------------------------------------------

def _decode(raw: bytes) -> tuple[str, str]:
    """Text and the encoding it was read in: UTF-8 (with or without BOM), else the
    legacy Windows code page that fits best, as charset-normalizer judges it: cp1254
    (Turkish, used for Azerbaijani Latin) or cp1251 (Cyrillic). cp1252 is left out on
    purpose: it decodes the same bytes and would turn ş and ı into þ and ý."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=["cp1254", "cp1251"]).best()
    if best is None:
        raise ValueError("the file is neither UTF-8 nor a Windows code page (cp1254, cp1251); give --encoding")
    return str(best), best.encoding


def _read_table(path: Path, raw: bytes, encoding: str | None) -> tuple[pd.DataFrame, str]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        frame = pd.read_excel(io.BytesIO(raw), dtype=str, keep_default_na=False, engine="openpyxl")
        return frame, "xlsx"
    if encoding and encoding != "auto":
        text, used = raw.decode(encoding), encoding
    else:
        text, used = _decode(raw)
    first_line = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter,
                        skip_blank_lines=False)
    return frame, used


# --- checking ---------------------------------------------------------------------------

def _code_lookup(codelist: dict) -> dict[str, str]:
    """Accepted spelling -> code id: the id itself, then names in every language, folded."""
    lookup: dict[str, str] = {}
    for code in codelist["codes"]:
        for name in code["name"].values():
            lookup.setdefault(fold(name), code["id"])
    for code in codelist["codes"]:
        lookup[fold(code["id"])] = code["id"]
    return lookup


def _map_columns(frame: pd.DataFrame, flow: Dataflow, name: str) -> tuple[dict[str, str], list[Problem]]:
    """Component id -> the extract's column header, and problems with the header row."""
    problems: list[Problem] = []
    by_folded = {fold(str(c)): str(c) for c in frame.columns}
    mapping: dict[str, str] = {}
    for comp, headers in flow.layout.columns.items():
        for h in [comp, *headers]:
            if fold(h) in by_folded:
                mapping[comp] = by_folded[fold(h)]
                break
        else:
            if comp in flow.layout.fixed:
                continue
            accepted = ", ".join(repr(h) for h in [*headers, comp])
            problems.append(Problem(name, 1, None, None,
                                    f"no column for {comp} (accepted headers: {accepted})"))
    used = set(mapping.values())
    for col in frame.columns:
        if str(col) not in used:
            problems.append(Problem(name, 1, str(col), None,
                                    f"column is not part of dataflow {flow.document['id']}'s extract layout"))
    return mapping, problems


def read_extract(path: Path | str, flow: Dataflow, *, encoding: str | None = "auto") -> CleanExtract:
    """Read and check one extract; return it clean or raise ExtractRejected."""
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExtractRejected([Problem(name, None, None, None, f"cannot be read: {exc.strerror}")]) from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        frame, used_encoding = _read_table(path, raw, encoding)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a rejection, with its reason
        raise ExtractRejected([Problem(name, None, None, None, f"cannot be parsed as a table: {exc}")]) from None

    # The door check comes first, before any value is looked at.
    if ident := microdata.identifying_columns(frame):
        raise ExtractRejected([Problem(name, 1, col, None, f"{microdata.MESSAGE} ({why})")
                               for col, why in ident])
    mapping, problems = _map_columns(frame, flow, name)
    measure = flow.structure["primary_measure"]["id"]
    if measure not in mapping:
        raise ExtractRejected([Problem(name, 1, None, None,
                                       f"{microdata.MESSAGE} (there is no count column: one row per person?)")]
                              + problems)
    if problems:
        raise ExtractRejected(problems)

    # Drop wholly blank rows but keep spreadsheet row numbers for the report.
    frame = frame[[mapping[c] for c in mapping]].astype(str).apply(lambda s: s.str.strip())
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    frame = frame[(frame != "").any(axis=1)]
    if frame.empty:
        raise ExtractRejected([Problem(name, None, None, None, "the extract has no data rows")])

    out = pd.DataFrame(index=frame.index)
    problems = []

    def bad(rows: pd.Index, comp: str, reason: str, values: pd.Series | None = None) -> None:
        col = mapping.get(comp, comp)
        vals = values if values is not None else frame[col]
        for r in rows:
            problems.append(Problem(name, int(r), col, str(vals.loc[r]), reason))

    dims = flow.dimension_ids
    for dim in dims:
        codelist = flow.codelists[dim]
        if dim in flow.layout.fixed and dim not in mapping:
            out[dim] = flow.layout.fixed[dim]
            continue
        raw_values = frame[mapping[dim]]
        codes = raw_values.map(lambda v, lk=_code_lookup(codelist): lk.get(fold(v)))
        unknown = codes.isna()
        bad(raw_values.index[unknown], dim, f"unknown code: not an id or a name in {codelist['id']}")
        out[dim] = codes

    # Periods: SDMX form, and the dataflow's frequency.
    td = flow.structure["time_dimension"]["id"]
    freq = flow.document["frequency"]
    period_col = frame[mapping[td]]
    normalised = {}
    for r, v in period_col.items():
        try:
            p = periods.normalise(v)
        except periods.PeriodError as exc:
            problems.append(Problem(name, int(r), mapping[td], v, str(exc)))
            continue
        if periods.frequency_of(p) != freq:
            problems.append(Problem(name, int(r), mapping[td], v,
                                    f"period does not match the dataflow's frequency {freq!r} "
                                    f"(expected {'2024' if freq == 'A' else '2024-Q1' if freq == 'Q' else '2024-01'})"))
            continue
        normalised[r] = p
    out[td] = pd.Series(normalised, dtype=object)

    # Values: counts are whole and not negative, a balance is whole, a rate any number.
    kind = flow.document.get("measure", "count")
    what = {"count": "the count", "balance": "the balance", "rate": "the rate"}[kind]
    counts = frame[mapping[measure]].str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    if kind == "rate":  # rates may come with a decimal comma, as spreadsheets in az write them
        counts = counts.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(counts, errors="coerce")
    numbers = numbers.where(numbers.abs() != float("inf"))  # inf, -inf, 1e400: "not a number"
    bad(counts.index[numbers.isna()], measure, f"{what} is not a number")
    ok = numbers.notna()
    if kind == "count":
        bad(counts.index[ok & (numbers < 0)], measure, "the count is negative")
    if kind != "rate":
        whole_checked = ok & (numbers >= 0) if kind == "count" else ok  # a negative count is reported once
        bad(counts.index[whole_checked & (numbers % 1 != 0)], measure, f"{what} is not a whole number")
    out[measure] = numbers

    # Cell keys (cell-key method): whole numbers 0..255, when the layout has them.
    if CELL_KEY in mapping:
        out[CELL_KEY] = _cell_keys(frame[mapping[CELL_KEY]], bad)

    if not problems:
        out["series_key"] = out[dims].agg(".".join, axis=1)
        problems.extend(_duplicates(out, td, name, mapping))
    if not problems and kind != "rate":  # rates of parts do not add up to the total's rate
        problems.extend(_totals(out, flow, td, measure, name, mapping))
    if problems:
        problems.sort(key=lambda p: (p.row or 0, p.column or ""))
        raise ExtractRejected(problems[:MAX_PROBLEMS], total=len(problems))
    out[measure] = out[measure].astype(float)
    if CELL_KEY in out:
        out[CELL_KEY] = out[CELL_KEY].astype("int64")
    return CleanExtract(flow, name, digest, used_encoding, out.reset_index(names="row"))


def _cell_keys(values: pd.Series, bad) -> pd.Series:
    """The cell keys as numbers (NaN where wrong); each wrong one is reported via `bad`."""
    keys = values.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    numbers = pd.to_numeric(keys, errors="coerce")
    missing = keys == ""
    bad(keys.index[missing], CELL_KEY, "the cell key is missing (cell keys are whole numbers from 0 to 255)")
    bad(keys.index[numbers.isna() & ~missing], CELL_KEY,
        "the cell key is not a number (cell keys are whole numbers from 0 to 255)")
    ok = numbers.notna()
    fractional = ok & (numbers % 1 != 0)
    bad(keys.index[fractional], CELL_KEY, "the cell key is not a whole number (cell keys are 0 to 255)")
    bad(keys.index[ok & ~fractional & ((numbers < 0) | (numbers > 255))], CELL_KEY,
        "the cell key is out of range (cell keys are whole numbers from 0 to 255)")
    return numbers


def _duplicates(out: pd.DataFrame, td: str, name: str, mapping: dict) -> list[Problem]:
    dup = out.duplicated(["series_key", td], keep=False)
    problems = []
    if dup.any():
        first: dict[tuple, int] = {}
        for r, key, period in out.loc[dup, ["series_key", td]].itertuples():
            if (key, period) in first:
                problems.append(Problem(name, int(r), None, f"{key} {period}",
                                        f"duplicate key: the same cell is already on row {first[(key, period)]}"))
            else:
                first[(key, period)] = r
    return problems


def _totals(out: pd.DataFrame, flow: Dataflow, td: str, measure: str, name: str,
            mapping: dict) -> list[Problem]:
    """Where the extract carries a total and some of its parts, the parts must add up.

    Parts absent from the extract count as zero (extracts omit empty cells). Checked for
    every parent code of every dimension's hierarchy, one level at a time; a level the
    extract never uses is skipped over (publisher.content.children).

    Cell keys are additive too: where the extract has them, the key of a total must be
    the sum of its parts' keys mod 256. An absent part is an empty cell, whose key is 0,
    so once the counts add up the parts present are all the parts. A total whose count
    is already wrong is reported once, for its count.
    """
    problems = []
    dims = flow.dimension_ids
    has_keys = CELL_KEY in out
    summed_columns = [measure, CELL_KEY] if has_keys else [measure]
    for dim in dims:
        others = [d for d in dims if d != dim] + [td]
        for parent, kids in children(flow.codelists[dim], present=set(out[dim])).items():
            totals = out[out[dim] == parent]
            parts = out[out[dim].isin(kids)]
            if totals.empty or parts.empty:
                continue
            summed = parts.groupby(others, sort=False)[summed_columns].sum().add_prefix("parts_")
            merged = totals.reset_index(names="row").merge(summed.reset_index(), on=others, how="inner")
            wrong = merged[measure] != merged[f"parts_{measure}"]
            for row in merged[wrong].itertuples(index=False):
                r = row._asdict()
                problems.append(Problem(
                    name, int(r["row"]), mapping.get(measure, measure), f"{r[measure]:g}",
                    f"total for {dim}={parent} is {r[measure]:g} but its parts "
                    f"({', '.join(kids)}) add up to {r[f'parts_{measure}']:g}"))
            if not has_keys:
                continue
            merged["expected_key"] = merged[f"parts_{CELL_KEY}"].astype("int64") % 256
            for row in merged[~wrong & (merged[CELL_KEY] != merged["expected_key"])].itertuples(index=False):
                r = row._asdict()
                key, parts_sum = int(r[CELL_KEY]), int(r[f"parts_{CELL_KEY}"])
                problems.append(Problem(
                    name, int(r["row"]), mapping[CELL_KEY], str(key),
                    f"cell key of the total for {dim}={parent} is {key} but the keys of its parts "
                    f"({', '.join(kids)}) add up to {parts_sum}, which is {r['expected_key']} mod 256"))
    return problems
