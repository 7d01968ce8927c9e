"""Reading aggregated extracts: what is accepted, and what is rejected with which report.

Each rejection names the file, the row (as a spreadsheet shows it: header = row 1), the
column, the value and the reason.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from publisher.extract import ExtractRejected, read_extract
from publisher.staging import ingest
from store.db import make_engine
from store.schema import metadata, staging_observation

HEADER = "Dövr,Vətəndaşlıq,Cins,Əsas,Region,Say\n"
GOOD_ROWS = [
    "2024-Q1,RU,Qadın,_T,_T,10",
    "2024-Q1,RU,Kişi,_T,_T,15",
    "2024-Q1,RU,Cəmi,_T,_T,25",
    "2024-Q1,_T,Cəmi,_T,Şəki-Zaqatala,4",
]


def write(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "extract.csv",
          encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes((header + "\n".join(rows) + "\n").encode(encoding))
    return path


@pytest.fixture
def flow(content):
    return content.dataflow("DF_RESPERM_TEMP")


def rejected(path: Path, flow) -> list:
    with pytest.raises(ExtractRejected) as info:
        read_extract(path, flow)
    return info.value.problems


def test_a_good_extract_maps_azerbaijani_labels_to_codes(tmp_path, flow):
    clean = read_extract(write(tmp_path, GOOD_ROWS), flow)
    obs = clean.observations.set_index("series_key")
    assert obs.loc["Q.RU.F._T._T", "OBS_VALUE"] == 10
    assert obs.loc["Q._T._T._T.SHAKI_ZAGATALA", "OBS_VALUE"] == 4
    assert set(obs["TIME_PERIOD"]) == {"2024-Q1"}


def test_labels_typed_without_azerbaijani_letters_still_match(tmp_path, flow):
    rows = ["2024Q1,RU,Qadin,_T,_T,10", "2024-Q1,_T,cemi,_T,Seki-Zaqatala,4"]
    clean = read_extract(write(tmp_path, rows, header="Dovr,Vetendasliq,Cins,Esas,Region,Say\n"), flow)
    assert sorted(clean.observations["series_key"]) == ["Q.RU.F._T._T", "Q._T._T._T.SHAKI_ZAGATALA"]
    assert set(clean.observations["TIME_PERIOD"]) == {"2024-Q1"}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1254", "cp1251"])
def test_legacy_windows_code_pages(tmp_path, flow, encoding):
    # cp1254 (Turkish) has no ə: legacy files wrote ä, which the reader folds to ə.
    rows = ["2024-Q1,RU,Qadın,_T,_T,10", "2024-Q1,TR,Kişi,_T,Şəki-Zaqatala,3"]
    header = HEADER
    if encoding == "cp1254":
        rows = [r.replace("ə", "ä") for r in rows]
        header = header.replace("ə", "ä").replace("Ə", "Ä")
    if encoding == "cp1251":  # Russian labels, Cyrillic code page
        rows = ["2024-Q1,RU,Женщины,_T,_T,10", "2024-Q1,TR,Мужчины,_T,Шеки-Загатала,3"]
        header = "Период,Citizenship,Пол,Ground,Region,Count\n".replace("Период", "Period").replace("Пол", "Sex")
    clean = read_extract(write(tmp_path, rows, header=header, encoding=encoding), flow)
    assert sorted(clean.observations["series_key"]) == ["Q.RU.F._T._T", "Q.TR.M._T.SHAKI_ZAGATALA"]


def test_xlsx(tmp_path, flow):
    path = tmp_path / "extract.xlsx"
    pd.DataFrame([r.split(",") for r in GOOD_ROWS], columns=HEADER.strip().split(",")).to_excel(path, index=False)
    clean = read_extract(path, flow)
    assert clean.row_count == 4


def test_semicolon_separated(tmp_path, flow):
    rows = [r.replace(",", ";") for r in GOOD_ROWS]
    assert read_extract(write(tmp_path, rows, header=HEADER.replace(",", ";")), flow).row_count == 4


@pytest.mark.parametrize("row, column, value, reason", [
    ("2024-Q1,XX,Qadın,_T,_T,10", "Vətəndaşlıq", "XX", "unknown code"),
    ("2024-Q1,RU,Qadın,_T,Atlantis,10", "Region", "Atlantis", "unknown code"),
    ("2024-Q1,RU,Qadın,_T,_T,-3", "Say", "-3", "negative"),
    ("2024-Q1,RU,Qadın,_T,_T,2.5", "Say", "2.5", "not a whole number"),
    ("2024-Q1,RU,Qadın,_T,_T,many", "Say", "many", "not a number"),
    ("2024-03,RU,Qadın,_T,_T,10", "Dövr", "2024-03", "frequency"),
    ("2024-Q5,RU,Qadın,_T,_T,10", "Dövr", "2024-Q5", "not a reporting period"),
])
def test_each_bad_value_is_reported_with_file_row_column_value_and_reason(tmp_path, flow, row, column,
                                                                           value, reason):
    problems = rejected(write(tmp_path, ["2024-Q1,TR,Kişi,_T,_T,1", row]), flow)
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.row, p.column, p.value) == ("extract.csv", 3, column, value)
    assert reason in p.reason


def test_duplicate_keys(tmp_path, flow):
    problems = rejected(write(tmp_path, ["2024-Q1,RU,Qadın,_T,_T,10", "2024-Q1,TR,Kişi,_T,_T,1",
                                         "2024-Q1,RU,qadin,_T,_T,11"]), flow)
    assert [(p.row, "row 2" in p.reason) for p in problems] == [(4, True)]


def test_totals_that_disagree_with_their_parts(tmp_path, flow):
    rows = GOOD_ROWS[:2] + ["2024-Q1,RU,Cəmi,_T,_T,26"]
    problems = rejected(write(tmp_path, rows), flow)
    assert len(problems) == 1
    assert problems[0].row == 4 and problems[0].value == "26"
    assert "SEX=_T" in problems[0].reason and "add up to 25" in problems[0].reason


def test_missing_and_unexpected_columns(tmp_path, flow):
    problems = rejected(write(tmp_path, ["2024-Q1,RU,Qadın,_T,10,x"],
                              header="Dövr,Vətəndaşlıq,Cins,Əsas,Say,Qeyd\n"), flow)
    reasons = {(p.column, p.reason.split(" (")[0]) for p in problems}
    assert (None, "no column for REGION") in reasons
    assert ("Qeyd", "column is not part of dataflow DF_RESPERM_TEMP's extract layout") in reasons


def test_the_report_is_complete_not_just_the_first_error(tmp_path, flow):
    rows = [f"2024-Q1,X{i},Qadın,_T,_T,1" for i in range(5)]
    problems = rejected(write(tmp_path, rows), flow)
    assert [p.row for p in problems] == [2, 3, 4, 5, 6]


# --- cell keys (cell-key method) -------------------------------------------------------

KEYED_HEADER = "Dövr,İqtisadi fəaliyyət,Yaş qrupu,Təhsil,Cins,Say,Hüceyrə açarı\n"
KEYED_ROWS = [
    "2024-Q1,F,_T,_T,Qadın,10,200",
    "2024-Q1,F,_T,_T,Kişi,15,100",
    "2024-Q1,F,_T,_T,Cəmi,25,44",  # (200 + 100) mod 256
    "2024-Q1,_T,Y15T29,_T,Cəmi,0,0",
]


@pytest.fixture
def keyed_flow(content):
    flow = content.dataflow("DF_WORKPERM_VALID")
    assert "CELL_KEY" in flow.layout.columns
    return flow


def test_a_good_extract_with_cell_keys_brings_them_through(tmp_path, keyed_flow):
    clean = read_extract(write(tmp_path, KEYED_ROWS, header=KEYED_HEADER), keyed_flow)
    obs = clean.observations.set_index("series_key")
    assert obs["CELL_KEY"].dtype == "int64"
    assert obs.loc["Q.F._T._T.F", "CELL_KEY"] == 200
    assert obs.loc["Q.F._T._T._T", ["OBS_VALUE", "CELL_KEY"]].tolist() == [25, 44]
    assert obs.loc["Q._T.Y15T29._T._T", "CELL_KEY"] == 0
    # The English header is accepted too.
    english = KEYED_HEADER.replace("Hüceyrə açarı", "Cell key")
    assert read_extract(write(tmp_path, KEYED_ROWS, header=english), keyed_flow).row_count == 4


def test_dataflows_without_cell_keys_have_no_cell_key_column(tmp_path, flow):
    assert "CELL_KEY" not in read_extract(write(tmp_path, GOOD_ROWS), flow).observations


@pytest.mark.parametrize("key, reason", [
    ("abc", "not a number"),
    ("300", "out of range"),
    ("256", "out of range"),
    ("-1", "out of range"),
    ("1.5", "not a whole number"),
    ("", "missing"),
])
def test_a_bad_cell_key_is_reported_with_file_row_column_and_reason(tmp_path, keyed_flow, key, reason):
    rows = [KEYED_ROWS[0], f"2024-Q1,B,_T,_T,Kişi,3,{key}"]
    problems = rejected(write(tmp_path, rows, header=KEYED_HEADER), keyed_flow)
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.row, p.column, p.value) == ("extract.csv", 3, "Hüceyrə açarı", key)
    assert reason in p.reason and "0 to 255" in p.reason


def test_the_cell_key_column_is_required_when_the_layout_has_one(tmp_path, keyed_flow):
    header = KEYED_HEADER.replace(",Hüceyrə açarı", "")
    problems = rejected(write(tmp_path, [r.rsplit(",", 1)[0] for r in KEYED_ROWS], header=header), keyed_flow)
    assert [(p.row, p.column) for p in problems] == [(1, None)]
    assert "no column for CELL_KEY" in problems[0].reason and "Hüceyrə açarı" in problems[0].reason


def test_a_total_whose_key_is_not_the_sum_of_its_parts_keys_mod_256(tmp_path, keyed_flow):
    rows = KEYED_ROWS[:2] + ["2024-Q1,F,_T,_T,Cəmi,25,45"]
    problems = rejected(write(tmp_path, rows, header=KEYED_HEADER), keyed_flow)
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.row, p.column, p.value) == ("extract.csv", 4, "Hüceyrə açarı", "45")
    assert "SEX=_T" in p.reason and "add up to 300" in p.reason and "44 mod 256" in p.reason
    # The plain sum (not reduced mod 256) is wrong too.
    rows = KEYED_ROWS[:2] + ["2024-Q1,F,_T,_T,Cəmi,25,300"]
    assert "out of range" in rejected(write(tmp_path, rows, header=KEYED_HEADER), keyed_flow)[0].reason


def test_a_total_with_a_wrong_count_is_reported_once_for_its_count(tmp_path, keyed_flow):
    rows = KEYED_ROWS[:2] + ["2024-Q1,F,_T,_T,Cəmi,26,45"]
    problems = rejected(write(tmp_path, rows, header=KEYED_HEADER), keyed_flow)
    assert [(p.row, p.column) for p in problems] == [(4, "Say")]


def test_ingest_stores_the_cell_key_or_null(empty_store, content, demo_files):
    engine = make_engine(empty_store)
    extracts = {f: read_extract(demo_files[f], content.dataflow(f))
                for f in ("DF_WORKPERM_VALID", "DF_RESPERM_TEMP")}
    for clean in extracts.values():
        ingest(engine, clean)
    s = staging_observation
    with engine.connect() as conn:
        stored = {f: pd.DataFrame(conn.execute(
            select(s.c.series_key, s.c.time_period, s.c.cell_key)
            .where(s.c.dataflow == content.dataflow(f).ref)).all(),
            columns=["series_key", "TIME_PERIOD", "cell_key"]) for f in extracts}
    engine.dispose()
    work = stored["DF_WORKPERM_VALID"]
    assert len(work) == extracts["DF_WORKPERM_VALID"].row_count and work["cell_key"].notna().all()
    both = work.merge(extracts["DF_WORKPERM_VALID"].observations, on=["series_key", "TIME_PERIOD"])
    assert len(both) == len(work) and (both["cell_key"] == both["CELL_KEY"]).all()
    assert work["cell_key"].between(0, 255).all() and work["cell_key"].nunique() > 200
    res = stored["DF_RESPERM_TEMP"]
    assert len(res) == extracts["DF_RESPERM_TEMP"].row_count and res["cell_key"].isna().all()


# --- unit records are refused at the door --------------------------------------------

@pytest.mark.parametrize("header, row, column", [
    ("Dövr,Vətəndaşlıq,Cins,Əsas,Region,Say,Pasport nömrəsi\n", "2024-Q1,RU,Qadın,_T,_T,1,C01234567", "Pasport nömrəsi"),
    ("Dövr,Soyadı,Vətəndaşlıq,Cins,Əsas,Region,Say\n", "2024-Q1,Məmmədov,RU,Qadın,_T,_T,1", "Soyadı"),
    ("Dövr,Doğum tarixi,Vətəndaşlıq,Cins,Əsas,Region,Say\n", "2024-Q1,1990-01-02,RU,Qadın,_T,_T,1", "Doğum tarixi"),
    ("Dövr,X,Vətəndaşlıq,Cins,Əsas,Region,Say\n", "2024-Q1,5ZX7K2P,RU,Qadın,_T,_T,1", "X"),
    ("Dövr,Y,Vətəndaşlıq,Cins,Əsas,Region,Say\n", "2024-Q1,02.01.1990,RU,Qadın,_T,_T,1", "Y"),
])
def test_files_with_personal_identifiers_are_refused(tmp_path, flow, header, row, column):
    problems = rejected(write(tmp_path, [row, row.replace("RU", "TR")], header=header), flow)
    assert [p.column for p in problems] == [column]
    assert "Microdata never leave the agency" in problems[0].reason
    # The report never repeats a personal value.
    assert problems[0].value is None


def test_one_row_per_person_without_a_count_is_refused(tmp_path, flow):
    problems = rejected(write(tmp_path, ["2024-Q1,RU,Qadın,_T,_T", "2024-Q1,RU,Qadın,_T,_T"],
                              header="Dövr,Vətəndaşlıq,Cins,Əsas,Region\n"), flow)
    assert "no count column" in problems[0].reason and "microdata" in problems[0].reason


# --- a rejected extract leaves the store exactly as it was ------------------------------

def snapshot(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
               for t in metadata.sorted_tables}
    engine.dispose()
    return out


def test_rejected_extracts_leave_the_store_unchanged(empty_store, content, demo_files, tmp_path,
                                                    monkeypatch):
    from typer.testing import CliRunner

    from publisher.cli import app

    flow = content.dataflow("DF_RESPERM_TEMP")
    engine = make_engine(empty_store)
    ingest(engine, read_extract(demo_files["DF_RESPERM_TEMP"], flow))
    before = snapshot(empty_store)
    assert len(before["staging_observation"]) > 1000

    # A demonstration file with one bad cell deep inside is rejected whole.
    lines = demo_files["DF_RESPERM_TEMP"].read_text(encoding="utf-8").splitlines()
    lines[5000] = lines[5000].rsplit(",", 1)[0] + ",-1"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(bad), "-d", "DF_RESPERM_TEMP",
                                      "--database-url", empty_store])
    assert result.exit_code == 1
    assert "row 5001" in str(result.output) or "5001" in str(result.output)
    assert snapshot(empty_store) == before

    # A failure in the middle of writing (the connection lost after the first batch of
    # rows went in) rolls everything back too.
    import publisher.staging as staging

    real_insert, calls = staging.insert, []

    def failing_insert(table):
        calls.append(table.name)
        if calls.count("staging_observation") == 2:
            raise ConnectionError("connection lost")
        return real_insert(table)

    monkeypatch.setattr(staging, "insert", failing_insert)
    with pytest.raises(ConnectionError):
        ingest(engine, read_extract(demo_files["DF_RESPERM_TEMP"], flow))
    assert calls.count("staging_observation") == 2  # the first batch had been written
    assert snapshot(empty_store) == before
    engine.dispose()


def test_ingest_refuses_values_a_checked_extract_never_has(content, demo_files, tmp_path):
    clean = read_extract(demo_files["DF_RESPERM_TEMP"], content.dataflow("DF_RESPERM_TEMP"))
    clean.observations.loc[7000, "OBS_VALUE"] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        ingest(make_engine(f"sqlite:///{tmp_path}/x.sqlite"), clean)
