"""The synthetic demonstration extracts (publisher.demo): labelled, reproducible, consistent.

Each test reads the written CSV files back the way a statistician would check them:
map the Azerbaijani headers and labels back to component ids and codes, then check
the totals, the codes and the shape of the numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import publisher.demo as demo
from publisher.content import load
from publisher.demo import generate

FLOWS = ["DF_RESPERM_TEMP", "DF_WORKPERM_VALID"]
PERIODS = [f"{y}-Q{q}" for y in range(2019, 2026) for q in range(1, 5)]
LARGE = {"RU", "TR", "GE", "IR", "CN", "IN", "UA", "PK"}


@pytest.fixture(scope="module")
def content():
    return load()


@pytest.fixture(scope="module")
def written(content, tmp_path_factory) -> dict[str, Path]:
    outdir = tmp_path_factory.mktemp("demo")
    return dict(generate(content, outdir, seed=2026))


def read_extract(content, flow_id: str, path: Path) -> pd.DataFrame:
    """The extract with component ids as columns and codes (not labels) as values."""
    flow = content.dataflow(flow_id)
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    df = df.rename(columns={headers[0]: comp for comp, headers in flow.layout.columns.items()})
    for dim in ("SEX", "REGION"):
        if dim in df.columns:
            by_name = {c["name"]["az"]: c["id"] for c in flow.codelists[dim]["codes"]}
            unknown = set(df[dim]) - set(by_name)
            assert not unknown, f"{dim} labels not in {flow.codelists[dim]['id']}: {unknown}"
            df[dim] = df[dim].map(by_name)
    df["OBS_VALUE"] = df["OBS_VALUE"].astype("int64")
    if "CELL_KEY" in df.columns:
        df["CELL_KEY"] = df["CELL_KEY"].astype("int64")
    return df


@pytest.fixture(scope="module")
def extracts(content, written) -> dict[str, pd.DataFrame]:
    return {fid: read_extract(content, fid, written[fid]) for fid in FLOWS}


def dims(content, flow_id: str) -> list[str]:
    flow = content.dataflow(flow_id)
    return [d for d in flow.dimension_ids if d not in flow.layout.fixed]


def test_files_are_written_and_labelled_synthetic(content, written):
    # Every dataflow of the content gets its demonstration extract (tests/test_dataflows.py
    # checks the others; this file looks closely at the two Form No. 1 cubes).
    assert set(FLOWS) <= set(written) and set(written) == set(content.dataflows)
    outdir = next(iter(written.values())).parent
    for flow_id, path in written.items():
        assert path.name == f"SYNTHETIC_{flow_id}.csv"
        assert path.exists()
    readme = (outdir / "README.txt").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "NOT OFFICIAL STATISTICS" in readme.upper()
    for path in written.values():
        assert path.name in readme
    assert "synthetic" in demo.__doc__.lower()
    assert "not official statistics" in demo.__doc__.lower()


def test_headers_are_the_azerbaijani_extract_headers(content, written):
    header = written["DF_RESPERM_TEMP"].read_text(encoding="utf-8").splitlines()[0]
    assert header == "Dövr,Vətəndaşlıq,Cins,Əsas,Region,Say"
    header = written["DF_WORKPERM_VALID"].read_text(encoding="utf-8").splitlines()[0]
    assert header == "Dövr,İqtisadi fəaliyyət,Yaş qrupu,Təhsil,Cins,Say,Hüceyrə açarı"
    # SEX and REGION carry Azerbaijani names, to exercise the label mapping.
    text = written["DF_RESPERM_TEMP"].read_text(encoding="utf-8")
    for label in ("Qadın", "Kişi", "Cəmi", "Şəki-Zaqatala", "Azərbaycan Respublikası"):
        assert f",{label}," in text


def test_same_seed_same_files_other_seed_other_numbers(content, written, tmp_path):
    again = dict(generate(content, tmp_path / "again", seed=2026))
    assert set(again) == set(written)
    for flow_id in written:
        assert again[flow_id].read_bytes() == written[flow_id].read_bytes(), flow_id
    other = dict(generate(content, tmp_path / "other", seed=7))
    assert other["DF_RESPERM_TEMP"].read_bytes() != written["DF_RESPERM_TEMP"].read_bytes()
    # Every table of some size changes with the seed (a handful of rates to one decimal may not).
    for flow_id, path in written.items():
        if len(path.read_text(encoding="utf-8").splitlines()) > 50:
            assert other[flow_id].read_bytes() != path.read_bytes(), flow_id


def test_generation_is_fast(content, tmp_path):
    start = time.perf_counter()
    generate(content, tmp_path, seed=1)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("flow_id", FLOWS)
def test_every_total_equals_the_sum_of_its_parts(content, extracts, flow_id):
    df = extracts[flow_id]
    key = ["TIME_PERIOD", *dims(content, flow_id)]
    checked = 0
    for dim in dims(content, flow_id):
        rest = [k for k in key if k != dim]
        parts = df[df[dim] != "_T"].groupby(rest, as_index=False)["OBS_VALUE"].sum()
        totals = df[df[dim] == "_T"][rest + ["OBS_VALUE"]]
        both = parts.merge(totals, on=rest, how="left", suffixes=("_parts", "_total"))
        # Every group of parts has its total row, and the total is their exact sum.
        assert both["OBS_VALUE_total"].notna().all(), f"parts along {dim} without a total"
        mismatch = both[both["OBS_VALUE_parts"] != both["OBS_VALUE_total"]]
        assert mismatch.empty, f"totals along {dim} differ from the sums:\n{mismatch.head()}"
        checked += len(both)
    assert checked > 1000


def test_workperm_carries_cell_keys_and_every_total_key_is_the_sum_of_its_parts_mod_256(content, extracts):
    assert "CELL_KEY" not in extracts["DF_RESPERM_TEMP"].columns
    df = extracts["DF_WORKPERM_VALID"]
    assert "CELL_KEY" in df.columns
    assert df["CELL_KEY"].between(0, 255).all()
    assert (df.loc[df["OBS_VALUE"] == 0, "CELL_KEY"] == 0).all()  # an empty cell has key 0
    assert df["CELL_KEY"].nunique() == 256  # keys spread over the whole range
    key = ["TIME_PERIOD", *dims(content, "DF_WORKPERM_VALID")]
    checked = 0
    for dim in dims(content, "DF_WORKPERM_VALID"):
        rest = [k for k in key if k != dim]
        parts = df[df[dim] != "_T"].groupby(rest, as_index=False)["CELL_KEY"].sum()
        totals = df[df[dim] == "_T"][rest + ["CELL_KEY"]]
        both = parts.merge(totals, on=rest, how="left", suffixes=("_parts", "_total"))
        assert both["CELL_KEY_total"].notna().all(), f"parts along {dim} without a total"
        mismatch = both[both["CELL_KEY_parts"] % 256 != both["CELL_KEY_total"]]
        assert mismatch.empty, f"cell keys of totals along {dim} differ from the sums mod 256:\n{mismatch.head()}"
        checked += len(both)
    assert checked > 1000


def test_each_published_table_adds_up_to_the_grand_total(content, extracts):
    df = extracts["DF_RESPERM_TEMP"]
    grand = df[(df.CITIZENSHIP == "_T") & (df.SEX == "_T") & (df.RESIDENCE_GROUND == "_T")
               & (df.REGION == "_T")].set_index("TIME_PERIOD")["OBS_VALUE"]
    assert list(grand.index) == PERIODS  # exactly once per quarter
    for dim in ("CITIZENSHIP", "RESIDENCE_GROUND", "REGION"):
        others = [d for d in ("CITIZENSHIP", "RESIDENCE_GROUND", "REGION") if d != dim]
        table = df[(df[dim] != "_T") & (df.SEX == "_T") & (df[others] == "_T").all(axis=1)]
        assert table.groupby("TIME_PERIOD")["OBS_VALUE"].sum().equals(grand), dim


@pytest.mark.parametrize("flow_id", FLOWS)
def test_no_duplicate_keys_and_counts_are_non_negative(content, extracts, flow_id):
    df = extracts[flow_id]
    assert not df.duplicated(["TIME_PERIOD", *dims(content, flow_id)]).any()
    assert (df["OBS_VALUE"] >= 0).all()


@pytest.mark.parametrize("flow_id", FLOWS)
def test_periods_are_2019q1_to_2025q4(extracts, flow_id):
    assert sorted(set(extracts[flow_id]["TIME_PERIOD"])) == PERIODS


@pytest.mark.parametrize("flow_id", FLOWS)
def test_all_codes_exist_in_the_codelists(content, extracts, flow_id):
    flow = content.dataflow(flow_id)
    for dim in dims(content, flow_id):
        codes = {c["id"] for c in flow.codelists[dim]["codes"]}
        assert set(extracts[flow_id][dim]) <= codes, dim


def test_big_citizenships_dominate_with_a_long_tail_of_small_cells(extracts):
    df = extracts["DF_RESPERM_TEMP"]
    by_cit = df[(df.CITIZENSHIP != "_T") & (df.SEX == "_T")]
    totals = by_cit.groupby("CITIZENSHIP")["OBS_VALUE"].sum().sort_values(ascending=False)
    assert set(totals.index[:8]) == LARGE
    assert totals[list(LARGE)].sum() > 0.7 * totals.sum()
    assert len(totals) > 100 and "STLS" in totals.index
    assert (df["OBS_VALUE"] < 5).sum() > 200
    # Zero cells are written only for the large citizenships.
    assert set(df.loc[df["OBS_VALUE"] == 0, "CITIZENSHIP"]) <= LARGE


def test_resperm_orders_of_magnitude(extracts):
    df = extracts["DF_RESPERM_TEMP"]
    grand = df[(df.CITIZENSHIP == "_T") & (df.SEX == "_T") & (df.RESIDENCE_GROUND == "_T")
               & (df.REGION == "_T")].set_index("TIME_PERIOD")["OBS_VALUE"]
    assert 35_000 < grand[[p for p in PERIODS if p.startswith("2019")]].sum() < 47_000
    assert grand["2020-Q2"] < 0.6 * grand["2019-Q2"]  # COVID-19
    by_sex = df[(df.CITIZENSHIP == "_T") & (df.RESIDENCE_GROUND == "_T") & (df.REGION == "_T")]
    men = by_sex[by_sex.SEX == "M"]["OBS_VALUE"].sum() / by_sex[by_sex.SEX == "_T"]["OBS_VALUE"].sum()
    assert 0.62 < men < 0.78
    by_region = df[(df.CITIZENSHIP == "_T") & (df.SEX == "_T") & (df.RESIDENCE_GROUND == "_T")
                   & (df.REGION != "_T")].groupby("REGION")["OBS_VALUE"].sum()
    assert list(by_region.sort_values(ascending=False).index[:2]) == ["BAKU", "ABSHERON_KHIZI"]


def test_workperm_stock_matches_published_levels_and_leading_sections(extracts):
    df = extracts["DF_WORKPERM_VALID"]
    total = df[(df.ECON_ACTIVITY == "_T") & (df.AGE == "_T") & (df.EDUCATION_LEV == "_T")
               & (df.SEX == "_T")].set_index("TIME_PERIOD")["OBS_VALUE"]
    assert list(total.index) == PERIODS
    assert (total["2020-Q4"], total["2022-Q4"], total["2025-Q3"]) == (5287, 7926, 6607)
    by_nace = df[(df.ECON_ACTIVITY != "_T") & (df.AGE == "_T") & (df.EDUCATION_LEV == "_T")
                 & (df.SEX == "_T")].groupby("ECON_ACTIVITY")["OBS_VALUE"].sum()
    assert set(by_nace.sort_values(ascending=False).index[:6]) == {"F", "B", "C", "G", "I", "P"}
