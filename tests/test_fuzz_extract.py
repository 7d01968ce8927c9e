"""Fuzzing the extract reader: whatever the file, a clean table or a report, never a crash.

The promise (publisher/extract.py): ``read_extract`` returns a ``CleanExtract`` or raises
``ExtractRejected`` whose problems each name the file, the row and column where there is
one, and a reason. No other exception, whatever the bytes. And a rejected extract is
never stored: the command line refuses it before writing anything to the staging area.

Inputs (hypothesis, derandomized so that CI runs the same cases every time):

* random bytes, as a .csv and as a .xlsx;
* the demonstration extracts (the ``demo_files`` fixture: one period of each of six
  dataflows, a count with labels, a count with cell keys, a balance, a rate...) mutated:
  columns swapped or deleted, headers changed, cells replaced by awkward values (huge,
  negative, infinite, fractional, empty, control characters, dates of birth, FINs...),
  rows duplicated or deleted, blank lines, other delimiters, line endings, encodings
  and byte-order marks, truncated files, identifying columns (unit-record look-alikes);
* the same mutated tables written as .xlsx.

A clean extract must hold what the staging area accepts: codes for every dimension,
SDMX periods, finite values, counts whole and not negative, cell keys 0..255.

About 2,000 cases in all, well under a minute.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from publisher.content import CELL_KEY
from publisher.extract import MAX_PROBLEMS, CleanExtract, ExtractRejected, Problem, read_extract
from store import periods as sdmx_periods
from store.db import make_engine
from store.migrate import upgrade
from store.schema import STAGING_TABLES

#: Dataflows whose demonstration extract is fuzzed, one period of each (the totals of a
#: period add up within the period, so the cut is itself a clean extract).
FLOWS = ["DF_RESPERM_TEMP", "DF_WORKPERM_VALID", "DF_NET_MIGR", "DF_NET_MIGR_RATE",
         "DF_LABOUR_QUOTA", "DF_UAM"]

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


# --- the base extracts ------------------------------------------------------------------

@pytest.fixture(scope="module")
def bases(content, demo_files) -> dict[str, list[list[str]]]:
    """flow id -> [header, rows...] of the first period of its demonstration extract."""
    out = {}
    for flow_id in FLOWS:
        with open(demo_files[flow_id], encoding="utf-8", newline="") as f:
            table = list(csv.reader(f))
        header, rows = table[0], table[1:]
        first = rows[0][0]
        out[flow_id] = [header, *(r for r in rows if r[0] == first)]
    return out


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="fuzz-extract-") as d:
        yield Path(d)


def test_the_base_extracts_read_cleanly_or_with_a_report(bases, content, workdir):
    """The starting points: a read of each cut, and most of them clean."""
    clean = 0
    for flow_id, table in bases.items():
        path = write_csv(workdir / "base.csv", table)
        result = outcome(path, content.dataflow(flow_id), record=False)
        clean += isinstance(result, CleanExtract)
    assert clean == len(FLOWS), "the fuzzing should start from clean extracts"


# --- the checks: what every outcome must be ---------------------------------------------

def check_rejection(exc: ExtractRejected, path: Path, lines: int | None) -> None:
    assert exc.problems, "a rejection without a problem"
    assert len(exc.problems) <= MAX_PROBLEMS
    assert exc.total >= len(exc.problems)
    str(exc)  # the message is built from the first problem
    for p in exc.problems:
        assert isinstance(p, Problem)
        assert p.file == path.name, f"the problem does not name the file: {p}"
        assert isinstance(p.reason, str) and p.reason.strip(), f"a problem without a reason: {p!r}"
        assert p.row is None or (isinstance(p.row, int) and p.row >= 1), f"bad row number: {p!r}"
        if p.row is not None and lines is not None:
            assert p.row <= lines + 1, f"row {p.row} beyond the file's {lines} lines: {p!r}"
        assert p.column is None or isinstance(p.column, str), f"bad column: {p!r}"
        assert p.value is None or isinstance(p.value, str), f"bad value: {p!r}"
        if p.value is not None:
            assert p.row is not None, f"a value named without its row: {p!r}"
        str(p)


def check_clean(clean: CleanExtract, flow) -> None:
    obs = clean.observations
    assert len(obs) > 0
    td = flow.structure["time_dimension"]["id"]
    measure = flow.structure["primary_measure"]["id"]
    for dim in flow.dimension_ids:
        ids = {c["id"] for c in flow.codelists[dim]["codes"]}
        assert obs[dim].isin(ids).all(), f"{dim}: a value that is not a code"
    assert obs["series_key"].notna().all()
    assert not obs.duplicated(["series_key", td]).any()
    for p in obs[td]:
        assert sdmx_periods.normalise(p) == p and sdmx_periods.frequency_of(p) == flow.document["frequency"]
    values = obs[measure].astype(float)
    assert values.map(math.isfinite).all(), "a value that is not finite"
    kind = flow.document.get("measure", "count")
    if kind != "rate":
        assert (values % 1 == 0).all(), "a count or balance that is not whole"
    if kind == "count":
        assert (values >= 0).all(), "a negative count"
    if CELL_KEY in obs:
        assert obs[CELL_KEY].between(0, 255).all()
    assert obs["row"].map(lambda r: isinstance(r, int) and r >= 2).all()


def outcome(path: Path, flow, lines: int | None = None, record: bool = True):
    """Read; check the outcome; return it. Any other exception fails the test (a crash)."""
    try:
        clean = read_extract(path, flow)
    except ExtractRejected as exc:
        check_rejection(exc, path, lines)
        if record:
            event("rejected")
        return exc
    assert isinstance(clean, CleanExtract)
    check_clean(clean, flow)
    if record:
        event("read cleanly")
    return clean


# --- writing tables ---------------------------------------------------------------------

def serialise(table: list[list[str]], *, delimiter: str = ",", newline: str = "\n",
              quoting: int = csv.QUOTE_MINIMAL) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    w.writerows(table)
    return buf.getvalue()


def write_csv(path: Path, table: list[list[str]], **kw) -> Path:
    path.write_bytes(serialise(table, **kw).encode("utf-8"))
    return path


def write_xlsx(path: Path, table: list[list[str]]) -> Path:
    header, rows = table[0], table[1:]
    width = max([len(header), *map(len, rows)]) if rows else len(header)
    header = [h if h else f"col{i}" for i, h in enumerate(header)]
    header += [f"extra{i}" for i in range(len(header), width)]
    rows = [r + [""] * (width - len(r)) for r in rows]
    pd.DataFrame(rows, columns=header).to_excel(path, index=False)
    return path


# --- strategies -------------------------------------------------------------------------

AWKWARD = [
    "", " ", "\t", "-1", "-0", "0", "+5", " 7 ", "5\u00a0000", "1 000", "1.5", "1,5", "2.0",
    "1e3", "1e400", "-1e400", "1e308", "99999999999999999999999999999", "-99999999999999999999",
    "inf", "-inf", "Infinity", "nan", "NaN", "NULL", "None", "N/A", "0x1F", "1_000", "١٢", "½",
    "2024-Q1", "2024-Q5", "2024-W01", "2024-13", "2024-00", "2024Q1", "9999-Q4", "0000", "-2024",
    "2019", "2019-01", "2019-Q1", "2019-S1", "2019-M01", "_T", "RU", "TR", "F", "M", "Qadın",
    "Cəmi", "Kişi", "Şəki-Zaqatala", "Azərbaycan Respublikası", "ЖЕНЩИНЫ", "Женщины",
    "=cmd|' /C calc'!A0", "\x00", '"', "'", ";", ",", "\n", "\r", "\u2028", "\ufeff",
    "1990-05-17", "17.05.1990", "5ZX8K2P", "AA1234567", "AZE12345678", "x" * 5000,
    "256", "255", "-1", "300", "44", "0.5",
]

cell_values = st.one_of(st.sampled_from(AWKWARD),
                        st.text(max_size=12),
                        st.integers(-10**30, 10**30).map(str),
                        st.floats(allow_nan=True, allow_infinity=True).map(repr))

IDENTIFYING_HEADERS = ["Name", "Soyad", "FIN", "Passport", "Doğum tarixi", "Ünvan", "Телефон",
                       "E-mail", "Person ID", "Şəxsiyyət vəsiqəsi"]


@st.composite
def mutated(draw, bases_: dict) -> tuple[str, list[list[str]], dict]:
    """(flow id, mutated table, how to write it)."""
    flow_id = draw(st.sampled_from(FLOWS))
    table = [list(r) for r in bases_[flow_id]]
    n_ops = draw(st.integers(0, 4))  # 0: only the encoding, delimiter, line endings...
    for _ in range(n_ops):
        op = draw(st.sampled_from([
            "cell", "cell", "cell", "cells", "swap_columns", "swap_headers", "delete_column",
            "rename_header", "add_column", "identifying_column", "duplicate_row", "delete_rows",
            "blank_rows", "short_row", "long_row", "only_header", "drop_count_column",
            "one_row_per_person"]))
        width = len(table[0])
        rows = len(table)
        if op == "cell" and rows > 1:
            r, c = draw(st.integers(1, rows - 1)), draw(st.integers(0, width - 1))
            if c < len(table[r]):
                table[r][c] = draw(cell_values)
        elif op == "cells" and rows > 1:
            c = draw(st.integers(0, width - 1))
            v = draw(cell_values)
            for r in table[1:]:
                if c < len(r):
                    r[c] = v
        elif op in ("swap_columns", "swap_headers") and width > 1:
            a, b = draw(st.integers(0, width - 1)), draw(st.integers(0, width - 1))
            for r in table if op == "swap_columns" else table[:1]:
                if max(a, b) < len(r):
                    r[a], r[b] = r[b], r[a]
        elif op == "delete_column" and width > 1:
            c = draw(st.integers(0, width - 1))
            for r in table:
                if c < len(r):
                    del r[c]
        elif op == "rename_header":
            c = draw(st.integers(0, width - 1))
            table[0][c] = draw(st.sampled_from(["", "Say", "Count", "Period", "Dövr", "OBS_VALUE",
                                                "TIME_PERIOD", "Unnamed: 0", "say", "SAY "]))
        elif op == "add_column":
            name = draw(st.sampled_from(["Qeyd", "", "Say", "Dövr", "x"]))
            table[0].append(name)
            for r in table[1:]:
                r.append(draw(cell_values))
        elif op == "identifying_column":
            table[0].append(draw(st.sampled_from(IDENTIFYING_HEADERS)))
            for r in table[1:]:
                r.append(draw(st.sampled_from(["Əliyev Vüqar", "5ZX8K2P", "AA1234567", "1990-05-17", ""])))
        elif op == "duplicate_row" and rows > 1:
            r = draw(st.integers(1, rows - 1))
            table.insert(draw(st.integers(1, rows)), list(table[r]))
        elif op == "delete_rows" and rows > 2:
            a = draw(st.integers(1, rows - 1))
            del table[a:a + draw(st.integers(1, 10))]
        elif op == "blank_rows":
            for _ in range(draw(st.integers(1, 3))):
                table.insert(draw(st.integers(1, rows)), draw(st.sampled_from([[], [""] * width, [" "] * width])))
        elif op == "short_row" and rows > 1:
            r = draw(st.integers(1, rows - 1))
            table[r] = table[r][:draw(st.integers(0, max(0, len(table[r]) - 1)))]
        elif op == "long_row" and rows > 1:
            r = draw(st.integers(1, rows - 1))
            table[r] = table[r] + [draw(cell_values) for _ in range(draw(st.integers(1, 3)))]
        elif op == "only_header":
            table = table[:1]
        elif op == "drop_count_column":
            # the measure is the count column: last but one with cell keys, else last
            c = width - 2 if flow_id == "DF_WORKPERM_VALID" else width - 1
            for r in table:
                if c < len(r):
                    del r[c]
        elif op == "one_row_per_person":
            # a unit-record look-alike: a person per row, no count column
            table = [["FIN", "Dövr", "Vətəndaşlıq", "Cins", "Doğum tarixi"]] + [
                [draw(st.sampled_from(["5ZX8K2P", "7AB2C3D"])), "2024-Q1", "RU", "Qadın", "1990-05-17"]
                for _ in range(draw(st.integers(0, 5)))]
    how = {
        "delimiter": draw(st.sampled_from([",", ",", ";", "\t", "|"])),
        "newline": draw(st.sampled_from(["\n", "\r\n", "\r"])),
        "quoting": draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "cp1251", "cp1254",
                                           "utf-16", "latin-1", "utf-32"])),
        "bom_twice": draw(st.booleans()) and draw(st.booleans()),
        "truncate": draw(st.one_of(st.none(), st.none(), st.none(), st.integers(0, 4000))),
        "flip": draw(st.one_of(st.none(), st.none(), st.none(),
                               st.tuples(st.integers(0, 4000), st.integers(0, 255)))),
        "trailing_blank_lines": draw(st.integers(0, 3)),
    }
    return flow_id, table, how


def encode(table: list[list[str]], how: dict) -> bytes:
    quoting = how["quoting"]
    if quoting == csv.QUOTE_NONNUMERIC:
        quoting = csv.QUOTE_MINIMAL if any(not isinstance(v, str) for r in table for v in r) else quoting
    text = serialise(table, delimiter=how["delimiter"], newline=how["newline"], quoting=quoting)
    text += how["newline"] * how["trailing_blank_lines"]
    data = text.encode(how["encoding"], errors="replace")
    if how["bom_twice"]:
        data = "\ufeff".encode("utf-8") + data
    if how["truncate"] is not None:
        data = data[:how["truncate"]]
    if how["flip"] is not None and data:
        i, b = how["flip"]
        i %= len(data)
        data = data[:i] + bytes([b]) + data[i + 1:]
    return data


# --- the fuzz tests ---------------------------------------------------------------------

@settings(FUZZ, max_examples=400)
@given(data=st.binary(max_size=2000), flow_id=st.sampled_from(FLOWS))
def test_random_bytes_as_csv(data, flow_id, content, workdir):
    path = workdir / "random.csv"
    path.write_bytes(data)
    outcome(path, content.dataflow(flow_id), lines=data.count(b"\n") + data.count(b"\r") + 1)


@settings(FUZZ, max_examples=80)
@given(data=st.one_of(st.binary(max_size=2000),
                      # a zip header, then junk: what a broken .xlsx looks like
                      st.binary(max_size=500).map(lambda b: b"PK\x03\x04" + b)),
       flow_id=st.sampled_from(FLOWS))
def test_random_bytes_as_xlsx(data, flow_id, content, workdir):
    path = workdir / "random.xlsx"
    path.write_bytes(data)
    outcome(path, content.dataflow(flow_id))


@settings(FUZZ, max_examples=900)
@given(data=st.data())
def test_mutated_demonstration_extracts_as_csv(data, bases, content, workdir):
    flow_id, table, how = data.draw(mutated(bases))
    raw = encode(table, how)
    path = workdir / "mutated.csv"
    path.write_bytes(raw)
    outcome(path, content.dataflow(flow_id), lines=raw.count(b"\n") + raw.count(b"\r") + 1)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_mutated_demonstration_extracts_as_xlsx(data, bases, content, workdir):
    flow_id, table, _ = data.draw(mutated(bases))
    table = [[v.replace("\x00", "") for v in r] for r in table]  # openpyxl refuses NUL itself
    table = [[v if not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in v) else "?" for v in r]
             for r in table]
    path = write_xlsx(workdir / "mutated.xlsx", table)
    outcome(path, content.dataflow(flow_id), lines=len(table) + 1)


# --- nothing stored ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def staging_store(workdir):
    url = f"sqlite:///{workdir / 'staging.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, engine
    engine.dispose()


def staged(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in STAGING_TABLES}


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_a_rejected_extract_is_never_stored(data, bases, content, workdir, staging_store):
    """The command line (`publisher ingest`) refuses a rejected extract before writing."""
    from publisher import cli

    url, engine = staging_store
    flow_id, table, how = data.draw(mutated(bases))
    raw = encode(table, how)
    path = workdir / "to_ingest.csv"
    path.write_bytes(raw)
    result = outcome(path, content.dataflow(flow_id))
    before = staged(engine)
    with mock.patch.object(cli, "_content", lambda: content):  # the content, loaded once
        run = CliRunner().invoke(cli.app, ["ingest", str(path), "--dataflow", flow_id, "--database-url", url])
    after = staged(engine)
    if isinstance(result, ExtractRejected):
        assert run.exit_code == 1, run.output
        assert after == before, f"a rejected extract changed the staging area: {before} -> {after}"
        assert "Nothing was stored." in run.output
    else:
        assert run.exit_code == 0, run.output
        assert after["staging_extract"] == before["staging_extract"] + 1


# --- defects found by fuzzing (fixed; kept as regressions) -----------------------------------------------------------

@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "Infinity"])
def test_an_infinite_rate_is_rejected(value, content, tmp_path):
    path = tmp_path / "rate.csv"
    path.write_text(f"Dövr,Ərazi,Əmsal\n2015,_T,{value}\n", encoding="utf-8")
    with pytest.raises(ExtractRejected) as info:
        read_extract(path, content.dataflow("DF_NET_MIGR_RATE"))
    p = info.value.problems[0]
    assert (p.file, p.row, p.column, p.value) == ("rate.csv", 2, "Əmsal", value)
