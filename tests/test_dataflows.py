"""Every dataflow of the statistical-content plan: its structure as the plan fixes it, its
metadata, and a demonstration extract that the extract reader accepts and whose totals
add up, recomputed here from the codelists' parents."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from publisher.content import CELL_KEY
from publisher.extract import read_extract

STANDARD = ["OBS_STATUS", "CONF_STATUS"]

# The plan: frequency, category, dimensions after FREQ with their codelists, disclosure.
PLAN = {
    "DF_REG_STAY": ("Q", "RESIDENCE", {"CITIZENSHIP": "CL_AREA", "SEX": "CL_SEX"}, "cellkey"),
    "DF_RESPERM_TEMP": ("Q", "RESIDENCE", {"CITIZENSHIP": "CL_AREA", "SEX": "CL_SEX",
                                           "RESIDENCE_GROUND": "CL_RESIDENCE_GROUND", "REGION": "CL_REGION"},
                        "suppression"),
    "DF_RESPERM_PERM": ("Q", "RESIDENCE", {"CITIZENSHIP": "CL_AREA", "AGE": "CL_AGE", "SEX": "CL_SEX"},
                        "suppression"),
    "DF_WORKPERM_ISSUED": ("A", "LABOUR", {"CITIZENSHIP": "CL_AREA", "PERMIT_ACTION": "CL_PERMIT_ACTION"},
                           "suppression"),
    "DF_WORKPERM_VALID": ("Q", "LABOUR", {"ECON_ACTIVITY": "CL_NACE", "AGE": "CL_AGE",
                                          "EDUCATION_LEV": "CL_EDUCATION_LEV", "SEX": "CL_SEX"}, "cellkey"),
    "DF_WORK_NOPERMIT": ("Q", "LABOUR", {"SEX": "CL_SEX"}, "suppression"),
    "DF_APPLICATIONS": ("M", "RESIDENCE", {"APPLICATION_TYPE": "CL_APPLICATION_TYPE",
                                           "APPL_STAGE": "CL_APPL_STAGE", "CITIZENSHIP": "CL_AREA",
                                           "SEX": "CL_SEX"}, "cellkey"),
    "DF_CITIZENSHIP": ("A", "CITIZENSHIP", {"CITIZENSHIP_ACT": "CL_CITIZENSHIP_ACT", "CITIZENSHIP": "CL_AREA",
                                            "SEX": "CL_SEX"}, "suppression"),
    "DF_REFUGEE": ("A", "ASYLUM", {"ASYL_DECISION": "CL_ASYL_DECISION", "CITIZENSHIP": "CL_AREA",
                                   "SEX": "CL_SEX", "AGE": "CL_AGE"}, "rounding"),
    "DF_ENFORCEMENT": ("Q", "IRREGULAR", {"ENFORCEMENT": "CL_ENFORCEMENT", "CITIZENSHIP": "CL_AREA",
                                          "SEX": "CL_SEX"}, "suppression"),
    "DF_READMISSION": ("A", "IRREGULAR", {"REQ_COUNTRY": "CL_AREA", "SEX": "CL_SEX"}, "suppression"),
    "DF_UAM": ("A", "ASYLUM", {"CITIZENSHIP": "CL_AREA", "SEX": "CL_SEX", "AGE": "CL_AGE_MINOR"}, "suppression"),
    "DF_EMIGRATION": ("A", "FLOWS", {"DESTINATION": "CL_AREA", "SEX": "CL_SEX", "AGE": "CL_AGE"}, "suppression"),
    "DF_MIGR_PERM": ("A", "FLOWS", {"FLOW": "CL_FLOW", "COUNTERPART_AREA": "CL_AREA", "SEX": "CL_SEX",
                                    "AGE": "CL_AGE"}, "suppression"),
    "DF_NET_MIGR": ("A", "FLOWS", {"REF_AREA": "CL_REGION"}, "none"),
    "DF_NET_MIGR_RATE": ("A", "FLOWS", {"REF_AREA": "CL_REGION"}, "none"),
    "DF_LABOUR_QUOTA": ("A", "LABOUR", {"QUOTA_INDICATOR": "CL_QUOTA_INDICATOR"}, "none"),
    "DF_BORDER_ARR": ("M", "FLOWS", {"CITIZENSHIP": "CL_AREA", "SEX": "CL_SEX"}, "cellkey"),
}
STOCKS = {"DF_WORKPERM_VALID", "DF_WORK_NOPERMIT"}  # counts at the end of the period
MEASURE = {"DF_NET_MIGR": "balance", "DF_NET_MIGR_RATE": "rate"}
# Codelists without a total: their codes are never summed.
NON_ADDITIVE = {"CL_APPL_STAGE", "CL_ASYL_DECISION", "CL_ENFORCEMENT", "CL_FLOW", "CL_QUOTA_INDICATOR"}
DEMO_PERIODS = {
    "Q": [f"{y}-Q{q}" for y in range(2019, 2026) for q in range(1, 5)],
    "A": [str(y) for y in range(2015, 2026)],
    "M": [f"{y}-{m:02d}" for y in range(2023, 2026) for m in range(1, 13)],
}
CYRILLIC = re.compile("[а-яА-ЯёЁ]")


@pytest.fixture(scope="module")
def extracts(content, demo_files) -> dict[str, pd.DataFrame]:
    """Each demonstration extract as the extract reader returns it (codes, not labels)."""
    return {flow_id: read_extract(path, content.dataflow(flow_id)).observations
            for flow_id, path in demo_files.items()}


def dims(content, flow_id: str) -> list[str]:
    flow = content.dataflow(flow_id)
    return [d for d in flow.dimension_ids if d not in flow.layout.fixed]


def codelist_doc(content, cl_id: str) -> dict:
    return next(d for d in content.documents if d["kind"] == "codelist" and d["id"] == cl_id)


# --- structure and metadata -----------------------------------------------------------

@pytest.mark.parametrize("flow_id", PLAN)
def test_dataflow_has_the_dimensions_and_codelists_of_the_plan(content, flow_id):
    freq, category, dimensions, _ = PLAN[flow_id]
    flow = content.dataflow(flow_id)
    dsd = flow.structure
    assert [d["id"] for d in dsd["dimensions"]] == ["FREQ", *dimensions]
    assert [d["codelist"]["id"] for d in dsd["dimensions"]] == ["CL_FREQ", *dimensions.values()]
    assert dsd["time_dimension"]["id"] == "TIME_PERIOD" and dsd["primary_measure"]["id"] == "OBS_VALUE"
    attributes = {a["id"]: a for a in dsd["attributes"]}
    assert attributes["UNIT_MEASURE"]["attached_to"] == "series" and attributes["UNIT_MEASURE"]["mandatory"]
    for a in STANDARD:
        assert attributes[a]["attached_to"] == "observation"
    assert flow.document["frequency"] == freq and flow.layout.fixed == {"FREQ": freq}
    assert flow.document["category"]["item"] == category
    assert flow.document["source"] == ("IAMAS" if flow_id == "DF_BORDER_ARR" else "VMMS")
    assert flow.document.get("measure", "count") == MEASURE.get(flow_id, "count")


def test_the_net_migration_rate_is_per_1000_with_one_decimal(content):
    flow = content.dataflow("DF_NET_MIGR_RATE")
    series = {a["id"]: a["codelist"]["id"] for a in flow.structure["attributes"] if a["attached_to"] == "series"}
    assert series == {"UNIT_MEASURE": "CL_UNIT_MEASURE", "UNIT_MULT": "CL_UNIT_MULT", "DECIMALS": "CL_DECIMALS"}
    assert flow.document["series_attributes"] == {"UNIT_MEASURE": "PER_1000", "UNIT_MULT": "0", "DECIMALS": "1"}


@pytest.mark.parametrize("flow_id", PLAN)
def test_names_and_descriptions_are_translated(content, flow_id):
    doc = content.dataflow(flow_id).document
    dsd = content.dataflow(flow_id).structure
    for texts in (doc["name"], doc["description"], dsd["name"]):
        assert all(texts[lang].strip() for lang in ("az", "en", "ru"))
        assert texts["az"] != texts["en"] and CYRILLIC.search(texts["ru"])
        assert not CYRILLIC.search(texts["az"] + texts["en"])


@pytest.mark.parametrize("flow_id", PLAN)
def test_disclosure_is_the_plans(content, flow_id):
    flow = content.dataflow(flow_id)
    policy = flow.document["disclosure"]
    assert policy["method"] == PLAN[flow_id][3]
    has_keys = CELL_KEY in flow.layout.columns
    assert has_keys == (policy["method"] == "cellkey")
    if policy["method"] == "suppression":
        assert (policy["threshold"], policy["width"]) == (3, 3)
        assert policy["time_additive"] == (flow_id not in STOCKS)
    if policy["method"] == "cellkey":
        assert policy["max_noise"] == 2 and policy["time_additive"] == (flow_id not in STOCKS)
    if policy["method"] == "rounding":
        assert policy["base"] == 5
    if policy["method"] == "none":
        assert all(policy["reason"][lang].strip() for lang in ("az", "en", "ru"))
    # SIMS 7.2 text, as the public reads it.
    sims = next(a for a in flow.document["annotations"] if a["type"] == "CONF_DATA_TR")
    assert all(sims["text"][lang].strip() for lang in ("az", "en", "ru"))


def test_every_referenced_codelist_and_concept_resolves(content):
    codelists = {d["id"] for d in content.documents if d["kind"] == "codelist"}
    concepts = {c["id"] for d in content.documents if d["kind"] == "conceptscheme" for c in d["concepts"]}
    for flow_id, flow in content.dataflows.items():
        components = flow.structure["dimensions"] + flow.structure["attributes"]
        for comp in components:
            assert comp["codelist"]["id"] in codelists, (flow_id, comp["id"])
            assert flow.codelists[comp["id"]]["id"] == comp["codelist"]["id"]
            assert comp["concept"]["item"] in concepts, (flow_id, comp["id"])


def test_codelists_without_a_total_are_the_non_additive_ones(content):
    for cl_id in {cl for *_, dims_, _ in PLAN.values() for cl in dims_.values()}:
        has_total = any((c.get("annotations") or {}).get("TOTAL") == "true"
                        for c in codelist_doc(content, cl_id)["codes"])
        assert has_total == (cl_id not in NON_ADDITIVE), cl_id


def test_the_new_concepts_have_descriptions_where_the_meaning_is_not_obvious(content):
    scheme = next(d for d in content.documents if d["kind"] == "conceptscheme")
    concepts = {c["id"]: c for c in scheme["concepts"]}
    for cid in ("PERMIT_ACTION", "APPLICATION_TYPE", "APPL_STAGE", "CITIZENSHIP_ACT", "ASYL_DECISION",
                "ENFORCEMENT", "REQ_COUNTRY", "DESTINATION", "FLOW", "COUNTERPART_AREA", "REF_AREA",
                "QUOTA_INDICATOR", "OCCUPATION", "UNIT_MULT", "DECIMALS"):
        assert cid in concepts
    for cid in ("APPL_STAGE", "CITIZENSHIP_ACT", "ENFORCEMENT", "REQ_COUNTRY", "DESTINATION", "FLOW",
                "COUNTERPART_AREA"):
        assert all(concepts[cid]["description"][lang].strip() for lang in ("az", "en", "ru")), cid


# --- the demonstration extracts -------------------------------------------------------

def test_every_dataflow_has_a_demonstration_extract(content, demo_files):
    assert set(PLAN) <= set(content.dataflows)
    assert set(demo_files) == set(content.dataflows)


@pytest.mark.parametrize("flow_id", PLAN)
def test_demo_extract_is_accepted_and_covers_the_demonstration_periods(content, extracts, flow_id):
    df = extracts[flow_id]
    assert sorted(set(df["TIME_PERIOD"])) == DEMO_PERIODS[PLAN[flow_id][0]]
    assert not df.duplicated(["series_key", "TIME_PERIOD"]).any()
    if MEASURE.get(flow_id, "count") == "count":
        assert (df["OBS_VALUE"] >= 0).all() and (df["OBS_VALUE"] % 1 == 0).all()
    assert (CELL_KEY in df.columns) == (PLAN[flow_id][3] == "cellkey")


def nearest_used_parent(codelist: dict, used: set[str]) -> dict[str, str]:
    """Code -> its nearest ancestor that the file uses (levels it skips are skipped)."""
    parent = {c["id"]: c.get("parent") for c in codelist["codes"]}
    out = {}
    for code in used:
        up = parent.get(code)
        while up is not None and up not in used:
            up = parent.get(up)
        if up is not None:
            out[code] = up
    return out


def hierarchy_checks(content, flow_id: str, df: pd.DataFrame, column: str) -> tuple[int, list]:
    """Recompute every parent from the codes directly under it (among the codes used);
    return how many parents were checked and the mismatches (`column` summed; cell
    keys mod 256)."""
    flow = content.dataflow(flow_id)
    checked, wrong = 0, []
    for dim in dims(content, flow_id):
        up = nearest_used_parent(flow.codelists[dim], set(df[dim]))
        if not up:
            continue
        others = [d for d in dims(content, flow_id) if d != dim] + ["TIME_PERIOD"]
        parts = df[df[dim].isin(list(up))].assign(**{dim: lambda x: x[dim].map(up)})
        sums = parts.groupby(others + [dim], as_index=False)[column].sum()
        both = df[others + [dim, column]].merge(sums, on=others + [dim], suffixes=("", "_parts"))
        if column == CELL_KEY:
            both[f"{column}_parts"] %= 256
        checked += len(both)
        wrong += both[both[column] != both[f"{column}_parts"]].head(3).to_dict("records")
    return checked, wrong


@pytest.mark.parametrize("flow_id", [f for f in PLAN if MEASURE.get(f) != "rate"])
def test_totals_are_the_sums_of_the_codes_under_them(content, extracts, flow_id):
    checked, wrong = hierarchy_checks(content, flow_id, extracts[flow_id], "OBS_VALUE")
    assert not wrong
    if flow_id not in ("DF_NET_MIGR", "DF_LABOUR_QUOTA"):  # (no hierarchy in use there)
        assert checked >= len(DEMO_PERIODS[PLAN[flow_id][0]])  # at least one total a period


@pytest.mark.parametrize("flow_id", [f for f in PLAN if PLAN[f][3] == "cellkey"])
def test_cell_keys_of_totals_are_the_sums_of_their_parts_mod_256(content, extracts, flow_id):
    df = extracts[flow_id]
    assert df[CELL_KEY].between(0, 255).all() and (df.loc[df["OBS_VALUE"] == 0, CELL_KEY] == 0).all()
    checked, wrong = hierarchy_checks(content, flow_id, df, CELL_KEY)
    assert not wrong and checked > 100


def test_a_broken_total_is_caught_by_the_recomputation(content, extracts):
    df = extracts["DF_MIGR_PERM"].copy()
    row = df.index[(df["COUNTERPART_AREA"] == "_T") & (df["SEX"] == "_T") & (df["AGE"] == "_T")][0]
    df.loc[row, "OBS_VALUE"] += 1
    assert hierarchy_checks(content, "DF_MIGR_PERM", df, "OBS_VALUE")[1]


def test_non_additive_dimensions_are_written_per_code_never_summed(content, extracts):
    apps = extracts["DF_APPLICATIONS"]
    assert set(apps["APPL_STAGE"]) == {"RECEIVED", "DECIDED", "GRANTED", "REFUSED"}
    wide = apps.pivot_table(index=["APPLICATION_TYPE", "CITIZENSHIP", "SEX", "TIME_PERIOD"],
                            columns="APPL_STAGE", values="OBS_VALUE", fill_value=0)
    assert (wide["DECIDED"] <= wide["RECEIVED"]).all()
    assert (wide["DECIDED"] == wide["GRANTED"] + wide["REFUSED"]).all()
    assert set(extracts["DF_ENFORCEMENT"]["ENFORCEMENT"]) == set(_codes(content, "CL_ENFORCEMENT"))
    assert set(extracts["DF_MIGR_PERM"]["FLOW"]) == {"ARR", "DEP"}
    refugees = extracts["DF_REFUGEE"].pivot_table(index=["CITIZENSHIP", "SEX", "AGE", "TIME_PERIOD"],
                                                  columns="ASYL_DECISION", values="OBS_VALUE", fill_value=0)
    assert (refugees["DEC"] == refugees["REC"] + refugees["REJ"]).all()


def _codes(content, cl_id: str) -> list[str]:
    return [c["id"] for c in codelist_doc(content, cl_id)["codes"]]


def grand_total(content, flow_id: str, df: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.Series:
    """The rows where every dimension but `keep` is `_T`, indexed by (keep..., period)."""
    at_total = pd.Series(True, index=df.index)
    for d in dims(content, flow_id):
        if d not in keep:
            at_total &= df[d] == "_T"
    return df[at_total].set_index([*keep, "TIME_PERIOD"])["OBS_VALUE"]


def test_net_migration_is_arrivals_minus_departures(content, extracts):
    flows = grand_total(content, "DF_MIGR_PERM", extracts["DF_MIGR_PERM"], keep=("FLOW",))
    expected = flows["ARR"] - flows["DEP"]
    net = grand_total(content, "DF_NET_MIGR", extracts["DF_NET_MIGR"])
    assert list(extracts["DF_NET_MIGR"]["REF_AREA"].unique()) == ["_T"]
    pd.testing.assert_series_equal(net.sort_index(), expected.sort_index(), check_names=False)


def test_net_migration_rate_is_net_migration_per_1000_of_a_plausible_population(content, extracts):
    net = grand_total(content, "DF_NET_MIGR", extracts["DF_NET_MIGR"])
    rate = grand_total(content, "DF_NET_MIGR_RATE", extracts["DF_NET_MIGR_RATE"])
    assert list(rate.index) == list(net.index)
    for period, value in rate.items():
        low, high = sorted((net[period] / 10.5e6 * 1000, net[period] / 9.5e6 * 1000))
        assert low - 0.05 <= value <= high + 0.05, period
        assert round(value, 1) == value


def test_the_quota_is_never_exceeded_and_its_use_is_part_of_the_permits_issued(content, extracts):
    quota = grand_total(content, "DF_LABOUR_QUOTA", extracts["DF_LABOUR_QUOTA"], keep=("QUOTA_INDICATOR",))
    issued = grand_total(content, "DF_WORKPERM_ISSUED", extracts["DF_WORKPERM_ISSUED"], keep=("PERMIT_ACTION",))
    assert (quota["USED"] <= quota["QUOTA"]).all()
    assert (quota["USED"] <= issued["ISSUED"]).all()
    assert (quota["USED"] > 0.5 * issued["ISSUED"]).all()


# --- orders of magnitude a user would check ----------------------------------------------

def test_work_permits_issued_to_citizens_of_turkiye_in_2024_are_well_above_the_threshold(extracts):
    df = extracts["DF_WORKPERM_ISSUED"]
    cell = df[(df.CITIZENSHIP == "TR") & (df.PERMIT_ACTION == "ISSUED") & (df.TIME_PERIOD == "2024")]
    assert len(cell) == 1 and cell["OBS_VALUE"].iloc[0] > 100


def test_orders_of_magnitude(content, extracts):
    def year_total(flow_id: str, year: str, **fixed) -> float:
        df = extracts[flow_id]
        keep = tuple(fixed)
        totals = grand_total(content, flow_id, df, keep=keep).reset_index()
        for d, code in fixed.items():
            totals = totals[totals[d] == code]
        return totals[totals["TIME_PERIOD"].str.startswith(year)]["OBS_VALUE"].sum()

    assert 500_000 < year_total("DF_REG_STAY", "2019") < 1_000_000
    assert 2_000 < year_total("DF_RESPERM_PERM", "2019") < 5_000
    assert year_total("DF_REG_STAY", "2020-Q2") < 0.5 * year_total("DF_REG_STAY", "2019-Q2")  # COVID-19
    assert 1_000_000 < year_total("DF_BORDER_ARR", "2024") < 5_000_000
    assert 1_500 < year_total("DF_MIGR_PERM", "2024", FLOW="ARR") < 4_000
    assert year_total("DF_MIGR_PERM", "2024", FLOW="DEP") < year_total("DF_MIGR_PERM", "2024", FLOW="ARR")


def test_unaccompanied_children_are_very_small_counts(content, extracts):
    df = extracts["DF_UAM"]
    cells = df[np.logical_or.reduce([df[d] != "_T" for d in ("CITIZENSHIP", "SEX", "AGE")])]
    assert (cells["OBS_VALUE"] <= 3).mean() > 0.8
    assert grand_total(content, "DF_UAM", df).max() < 30


def test_the_demonstration_stays_small_enough_to_publish_quickly(extracts):
    assert sum(len(df) for df in extracts.values()) < 150_000
    suppressed = [f for f in PLAN if PLAN[f][3] == "suppression"]
    for flow_id in suppressed:
        countries = [c for d in ("CITIZENSHIP", "REQ_COUNTRY", "DESTINATION", "COUNTERPART_AREA")
                     if d in extracts[flow_id] for c in set(extracts[flow_id][d])]
        if flow_id != "DF_RESPERM_TEMP":  # Form No. 1 tables 2-4 keep their long tail
            assert len(countries) <= 30, flow_id


def test_citizenships_come_from_one_fixed_list_with_turkiye_and_stateless_persons(extracts):
    from publisher.demo import CITIZENSHIPS

    assert 20 <= len(CITIZENSHIPS) <= 30 and {"TR", "RU", "STLS"} <= set(CITIZENSHIPS)
    for flow_id, df in extracts.items():
        if "CITIZENSHIP" in df.columns and flow_id != "DF_RESPERM_TEMP":  # tables 2-4: a long tail
            assert set(df["CITIZENSHIP"]) - {"_T"} <= set(CITIZENSHIPS), flow_id
