"""What a dataflow's measure holds (count, balance, rate), the series attributes that
come with it, the `none` disclosure method, and tables that skip hierarchy levels.

Each test adds a small dataflow to a copy of the shipped content, as a statistician
would add a file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from publisher.content import ROOT, ContentError, children, load
from publisher.extract import ExtractRejected, read_extract
from publisher.publish import publish
from publisher.staging import ingest
from store.db import make_engine
from store.schema import public_observation, public_series

NAMES = {"az": "Sınaq", "en": "Test", "ru": "Тест"}

# A hierarchy with a middle level: world -> two regions -> four countries.
CL_PLACE = {
    "id": "CL_PLACE", "version": "1.0", "name": NAMES,
    "codes": [
        {"id": "_T", "total": True, "name": {"az": "Cəmi", "en": "Total", "ru": "Всего"}},
        {"id": "R1", "parent": "_T", "name": {"az": "Şimal", "en": "North", "ru": "Север"}},
        {"id": "R2", "parent": "_T", "name": {"az": "Cənub", "en": "South", "ru": "Юг"}},
        {"id": "A", "parent": "R1", "name": {"az": "Ağdaş", "en": "Agdash", "ru": "Агдаш"}},
        {"id": "B", "parent": "R1", "name": {"az": "Bərdə", "en": "Barda", "ru": "Барда"}},
        {"id": "C", "parent": "R2", "name": {"az": "Cəlilabad", "en": "Jalilabad", "ru": "Джалилабад"}},
        {"id": "D", "parent": "R2", "name": {"az": "Daşkəsən", "en": "Dashkasan", "ru": "Дашкесан"}},
    ],
}

REASON = {"az": "Dövlət qərarı ilə müəyyən edilmiş rəqəm.", "en": "A figure set by decree.",
          "ru": "Показатель, установленный постановлением."}


def dataflow(flow_id: str, *, measure: str = "count", disclosure: dict | None = None,
             series_attributes: tuple[str, ...] = (), **extra) -> dict:
    attrs = [{"id": "UNIT_MEASURE", "codelist": "CL_UNIT_MEASURE", "attached_to": "series", "mandatory": True}]
    attrs += [{"id": a, "codelist": f"CL_{a}", "attached_to": "series"} for a in series_attributes]
    attrs += [{"id": "OBS_STATUS", "codelist": "CL_OBS_STATUS"}, {"id": "CONF_STATUS", "codelist": "CL_CONF_STATUS"}]
    return {
        "id": flow_id, "version": "1.0", "category": "FLOWS", "name": NAMES, "description": NAMES, "frequency": "A",
        "source": "VMMS", "unit": "PS", "measure": measure,
        "structure": {"id": f"DSD_{flow_id}", "version": "1.0", "name": NAMES,
                      "dimensions": [{"id": "FREQ", "codelist": "CL_FREQ"},
                                     {"id": "REF_AREA", "concept": "CITIZENSHIP", "codelist": "CL_PLACE"}],
                      "attributes": attrs},
        "extract": {"columns": {"TIME_PERIOD": ["Dövr"], "REF_AREA": ["Yer"], "OBS_VALUE": ["Say"]},
                    "fixed": {"FREQ": "A"}},
        "disclosure": disclosure or {"method": "suppression", "threshold": 3},
        **extra,
    }


@pytest.fixture
def root(tmp_path) -> Path:
    for folder in ("codelists", "dataflows", "metadata"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for path in [*(tmp_path / "dataflows").glob("*.yaml"), *(tmp_path / "metadata" / "sims").glob("*.yaml")]:
        path.unlink()  # only the test's own dataflows (and their SIMS texts): quick to load and publish
    put(tmp_path / "codelists" / "CL_PLACE.yaml", CL_PLACE)
    return tmp_path


def put(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    if path.parent.name == "dataflows":  # every dataflow has its SIMS texts (publisher.sims)
        sims = {"updated": "2026-11-23",
                "texts": {c: NAMES for c in ("STAT_CONC_DEF", "STAT_UNIT", "STAT_POP", "ACCURACY_OVERALL",
                                             "COMPAR_GEO", "COHER_X_DOM")}}
        (path.parents[1] / "metadata" / "sims" / path.name).write_text(yaml.safe_dump(sims), encoding="utf-8")
    return path


def extract(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "extract.csv"
    path.write_text("Dövr,Yer,Say\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load(root)
    return info.value.problems


# --- hierarchies with levels a table does not use -----------------------------------------

def test_children_skip_levels_the_table_does_not_use():
    assert children(CL_PLACE) == {"_T": ["R1", "R2"], "R1": ["A", "B"], "R2": ["C", "D"]}
    # Countries and the total only: the countries sum to the total directly.
    assert children(CL_PLACE, present={"_T", "A", "B", "C"}) == {"_T": ["A", "B", "C"]}
    # One region used, the other not: its countries count towards the total.
    assert children(CL_PLACE, present={"_T", "R1", "A", "B", "C", "D"}) == {
        "_T": ["R1", "C", "D"], "R1": ["A", "B"]}


def test_an_extract_may_skip_a_level_but_its_totals_must_still_add_up(root, tmp_path):
    put(root / "dataflows" / "DF_T.yaml", dataflow("DF_T"))
    flow = load(root).dataflow("DF_T")
    clean = read_extract(extract(tmp_path, ["2024,A,5", "2024,C,7", "2024,_T,12"]), flow)
    assert len(clean.observations) == 3
    with pytest.raises(ExtractRejected) as info:
        read_extract(extract(tmp_path, ["2024,A,5", "2024,C,7", "2024,_T,13"]), flow)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (4, "Say")
    assert "A, C" in problem.reason and "add up to 12" in problem.reason


def test_suppression_protects_across_a_skipped_level(root, tmp_path, empty_store):
    """A small count among countries summed straight to the total still gets a partner."""
    put(root / "dataflows" / "DF_T.yaml", dataflow("DF_T"))
    content = load(root)
    engine = make_engine(empty_store)
    ingest(engine, read_extract(extract(tmp_path, ["2024,A,1", "2024,B,40", "2024,C,30", "2024,_T,71"]),
                                content.dataflow("DF_T")))
    publish(engine, content, "test")
    served = served_values(engine)
    engine.dispose()
    assert served["A"] is None
    assert sum(v is None for v in served.values()) >= 2, served
    assert served["_T"] == 71


def served_values(engine) -> dict[str, float | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(public_series.c.series_key, public_observation.c.value).join(
            public_observation, public_observation.c.series_ref == public_series.c.id)).all()
    return {key.split(".")[1]: value for key, value in rows}


# --- balance and rate ---------------------------------------------------------------------

def test_a_balance_may_be_negative_but_must_be_whole(root, tmp_path):
    put(root / "dataflows" / "DF_NET.yaml", dataflow("DF_NET", measure="balance",
                                                     disclosure={"method": "none", "reason": REASON}))
    flow = load(root).dataflow("DF_NET")
    clean = read_extract(extract(tmp_path, ["2024,A,-5", "2024,C,7", "2024,_T,2"]), flow)
    assert sorted(clean.observations["OBS_VALUE"]) == [-5, 2, 7]
    with pytest.raises(ExtractRejected) as info:
        read_extract(extract(tmp_path, ["2024,A,-5.5"]), flow)
    assert [p.reason for p in info.value.problems] == ["the balance is not a whole number"]


def test_a_count_may_not_be_negative(root, tmp_path):
    put(root / "dataflows" / "DF_T.yaml", dataflow("DF_T"))
    with pytest.raises(ExtractRejected) as info:
        read_extract(extract(tmp_path, ["2024,A,-5"]), load(root).dataflow("DF_T"))
    assert [p.reason for p in info.value.problems] == ["the count is negative"]


def test_a_rate_takes_decimals_and_its_parts_need_not_add_up(root, tmp_path, empty_store):
    put(root / "dataflows" / "DF_RATE.yaml", dataflow(
        "DF_RATE", measure="rate", unit="PER_1000" if has_code("CL_UNIT_MEASURE", "PER_1000") else "PS",
        decimals=1, series_attributes=("DECIMALS",), disclosure={"method": "none", "reason": REASON}))
    content = load(root)
    flow = content.dataflow("DF_RATE")
    assert flow.document["series_attributes"]["DECIMALS"] == "1"
    clean = read_extract(extract(tmp_path, ['2024,A,"-1,5"', "2024,C,2.25", "2024,_T,0.4"]), flow)
    assert sorted(clean.observations["OBS_VALUE"]) == [-1.5, 0.4, 2.25]

    engine = make_engine(empty_store)
    ingest(engine, clean)
    publish(engine, content, "rates")
    served = served_values(engine)
    engine.dispose()
    assert served == {"A": -1.5, "C": 2.25, "_T": 0.4}  # method none: published as computed


def has_code(codelist: str, code: str) -> bool:
    data = yaml.safe_load((ROOT / "codelists" / f"{codelist}.yaml").read_text(encoding="utf-8"))
    return any(c["id"] == code for c in data["codes"])


# --- what the content check refuses ------------------------------------------------------

@pytest.mark.parametrize("flow, expected", [
    (dataflow("DF_X", measure="balance"), "a balance is not a count: its disclosure method must be none"),
    (dataflow("DF_X", measure="ratio"), "measure 'ratio' is not one of count, balance, rate"),
    (dataflow("DF_X", disclosure={"method": "none"}), "method none needs a reason in az, en and ru"),
    (dataflow("DF_X", disclosure={"method": "none", "reason": {"az": "x", "en": "y"}}),
     "method none needs a reason in az, en and ru"),
    (dataflow("DF_X", disclosure={"method": "rounding", "reason": REASON}), "a reason is given only with method none"),
    (dataflow("DF_X", series_attributes=("DECIMALS",)),
     "the structure has the series attribute DECIMALS but the dataflow gives no decimals"),
    (dataflow("DF_X", decimals=1), "decimals is given but the structure has no DECIMALS attribute"),
])
def test_the_content_check_explains_what_is_wrong(root, flow, expected):
    put(root / "dataflows" / "DF_X.yaml", flow)
    found = problems_of(root)
    assert any(expected in p and p.startswith("dataflows/DF_X.yaml") for p in found), found


def test_only_counts_carry_cell_keys(root):
    flow = dataflow("DF_X", measure="rate", disclosure={"method": "none", "reason": REASON})
    flow["extract"]["columns"]["CELL_KEY"] = ["Hüceyrə açarı"]
    put(root / "dataflows" / "DF_X.yaml", flow)
    assert any("only counts have cell keys, not a rate" in p for p in problems_of(root))


def test_method_none_publishes_its_reason_as_sims_7_2(root):
    put(root / "dataflows" / "DF_NET.yaml", dataflow("DF_NET", measure="balance",
                                                     disclosure={"method": "none", "reason": REASON}))
    (annotation,) = load(root).dataflow("DF_NET").document["annotations"]
    assert annotation["type"] == "CONF_DATA_TR" and annotation["text"] == REASON
