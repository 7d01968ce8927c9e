"""The Eurostat crosswalk (metadata/eurostat.yaml, publisher/eurostat.py): what was
released, in Eurostat's dimension ids, codes and flags, as SDMX-CSV 1.0 with a matching
SDMX-ML 2.1 structure message that sdmx1 reads it with."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sdmx
import yaml
from sqlalchemy import event, select

from publisher import eurostat
from publisher.content import ROOT
from publisher.extract import read_extract
from publisher.publish import publish
from publisher.staging import ingest
from store.db import make_engine
from store.schema import public_observation, public_series
from xmlvalidation import validate_sdmxml21

# Eurostat's dimension ids, in Eurostat's order (TIME_PERIOD, OBS_VALUE, OBS_FLAG follow).
EUROSTAT_DIMENSIONS = {
    "MIGR_RESFIRST": ["freq", "reason", "citizen", "duration", "unit", "geo"],
    "MIGR_ACQ": ["freq", "citizen", "agedef", "age", "unit", "sex", "geo"],
    "MIGR_ASYAPPCTZA": ["freq", "unit", "citizen", "sex", "applicant", "age", "geo"],
    "MIGR_ASYDCFSTA": ["freq", "unit", "citizen", "sex", "age", "decision", "geo"],
    "MIGR_EIPRE": ["freq", "citizen", "age", "sex", "unit", "geo"],
    "MIGR_EIORD": ["freq", "citizen", "age", "sex", "unit", "geo"],
    "MIGR_IMM5PRV": ["freq", "partner", "age", "agedef", "unit", "sex", "geo"],
    "MIGR_EMI3NXT": ["freq", "partner", "age", "agedef", "unit", "sex", "geo"],
}
TAIL = ["TIME_PERIOD", "OBS_VALUE", "OBS_FLAG"]


def export(url: str, content, dataset: str) -> eurostat.Export:
    source = (eurostat.read_file()["datasets"][dataset] or {}).get("source")
    if source not in content.dataflows:
        pytest.skip(f"{dataset}: its source dataflow {source} is not in the content yet")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return eurostat.export(conn, content, dataset)
    except eurostat.NothingReleased as exc:
        pytest.skip(f"{dataset}: the demonstration publishes nothing for it ({exc})")
    finally:
        engine.dispose()


def read_back(result: eurostat.Export, tmp_path: Path):
    """The export as sdmx1 reads it: structure message, then the CSV with that structure.

    sdmx1 2.28 reads SDMX-CSV 2.0 only (STRUCTURE, STRUCTURE_ID, ACTION first); SDMX-CSV 1.0
    differs in nothing but its first column, so that column alone is rewritten."""
    structure = sdmx.read_sdmx(io.BytesIO(result.structure))
    flow = structure.dataflow[result.mapping.dataset]
    path = tmp_path / f"{result.mapping.dataset}.csv"
    path.write_text(result.csv, encoding="utf-8", newline="")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    v20 = [["STRUCTURE", "STRUCTURE_ID", "ACTION", *rows[0][1:]]]
    v20 += [["dataflow", r[0], "I", *r[1:]] for r in rows[1:]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(v20)
    data = sdmx.read_sdmx(io.BytesIO(buf.getvalue().encode("utf-8")), format="CSV", structure=flow)
    return rows, flow, data


def test_the_file_maps_every_dataset_with_a_eurostat_analogue():
    assert eurostat.datasets() == list(EUROSTAT_DIMENSIONS)


@pytest.mark.parametrize("dataset", list(EUROSTAT_DIMENSIONS))
def test_each_export_reads_back_in_sdmx1_with_eurostats_dimensions(published_store, content, dataset,
                                                                     tmp_path):
    result = export(published_store, content, dataset)
    rows, flow, data = read_back(result, tmp_path)
    assert rows[0] == ["DATAFLOW", *EUROSTAT_DIMENSIONS[dataset], *TAIL]
    assert {r[0] for r in rows[1:]} == {f"ESTAT:{dataset}(1.0)"}
    dsd = flow.structure
    assert (flow.maintainer.id, dsd.maintainer.id) == ("ESTAT", "ESTAT")
    assert [d.id for d in dsd.dimensions] == [*EUROSTAT_DIMENSIONS[dataset], "TIME_PERIOD"]
    assert [a.id for a in dsd.attributes] == ["OBS_FLAG"]

    (ds,) = data.data
    assert len(ds.obs) == len(rows) - 1 == len(result.rows)
    expected = {tuple(r[1:-3]) + (r[-3],): (r[-2], r[-1]) for r in rows[1:]}
    for obs in ds.obs:
        key = tuple(obs.dimension.values[d].value for d in EUROSTAT_DIMENSIONS[dataset]) + \
            (obs.dimension.values["TIME_PERIOD"].value,)
        assert (obs.value, obs.attached_attribute["OBS_FLAG"].value) == expected[key]
        for dim in EUROSTAT_DIMENSIONS[dataset]:  # every code is in the structure's codelist
            assert key[EUROSTAT_DIMENSIONS[dataset].index(dim)] in \
                dsd.dimensions.get(dim).local_representation.enumerated
    # Withheld: no value and flag c; a value: a whole number of persons.
    assert all((v == "") == (f == "c") for v, f in expected.values())
    assert all(v == "" or v.isdigit() for v, _ in expected.values())
    assert validate_sdmxml21(result.structure) == []


def api_csv(client, flow_id: str) -> pd.DataFrame:
    r = client.get(f"/sdmx/2.1/data/AZ_SMS,{flow_id},1.0/all",
                   headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"})
    assert r.status_code == 200, r.text
    return pd.read_csv(io.StringIO(r.text), dtype=str, keep_default_na=False)


def codes(codelist_id: str) -> list[dict]:
    path = ROOT / "codelists" / f"{codelist_id}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["codes"]


def test_resfirst_figures_are_the_public_figures_regrouped(api_client, published_store, content):
    """Recomputed from what the API serves for DF_RESPERM_TEMP: grounds grouped into
    Eurostat's reasons, countries in Eurostat's codes, quarters summed into complete years;
    a sum with a withheld part is withheld."""
    public = api_csv(api_client, "DF_RESPERM_TEMP")
    reason = {c["id"]: c["eurostat"] for c in codes("CL_RESIDENCE_GROUND") if "eurostat" in c}
    reason["_T"] = "TOTAL"
    area = codes("CL_AREA")
    parents = {c.get("parent") for c in area}
    citizen = {c["id"]: c["id"] for c in area if c["id"] not in parents}  # countries, STLS, UNK
    citizen.update({"_T": "TOTAL", "GR": "EL", "GB": "UK"})

    df = public[(public["SEX"] == "_T") & (public["REGION"] == "_T")].copy()
    df["reason"] = df["RESIDENCE_GROUND"].map(reason)
    df["citizen"] = df["CITIZENSHIP"].map(citizen)
    df["year"] = df["TIME_PERIOD"].str[:4]
    quarters = public.groupby(public["TIME_PERIOD"].str[:4])["TIME_PERIOD"].nunique()
    df = df[df["year"].isin(quarters[quarters == 4].index)].dropna(subset=["reason", "citizen"])
    df["withheld"] = df["CONF_STATUS"] == "C"
    df["value"] = pd.to_numeric(df["OBS_VALUE"].replace("", np.nan))
    expected = df.groupby(["reason", "citizen", "year"]).agg(value=("value", "sum"),
                                                              withheld=("withheld", "any"),
                                                              parts=("value", "size"))

    rows = export(published_store, content, "MIGR_RESFIRST").rows
    assert set(rows["freq"]) == {"A"} and set(rows["duration"]) == {"TOTAL"}
    assert set(rows["unit"]) == {"PER"} and set(rows["geo"]) == {"AZ"}
    got = rows.set_index(["reason", "citizen", "TIME_PERIOD"])
    assert sorted(got.index) == sorted(expected.index)
    for key, want in expected.iterrows():
        value, flag = got.loc[key, "OBS_VALUE"], got.loc[key, "OBS_FLAG"]
        if want["withheld"]:
            assert (np.isnan(value), flag) == (True, "c"), key
        else:
            assert (value, flag) == (want["value"], ""), key
    # The demonstration has both kinds of sums, and sums with withheld parts.
    assert (expected["parts"] > 1).any() and expected["withheld"].any()
    assert {"FAM", "EDUC", "OCC", "OTH"} <= set(rows["reason"])
    assert not {"GR", "GB"} & set(rows["citizen"])


def hand_made(rows: list[tuple]) -> pd.DataFrame:
    """Public observations of DF_RESPERM_TEMP (SEX, REGION totals) as the store returns them."""
    return pd.DataFrame(
        [("Q", cit, "_T", ground, "_T", period, value, status, "C" if status == "Q" else "F")
         for cit, ground, period, value, status in rows],
        columns=["FREQ", "CITIZENSHIP", "SEX", "RESIDENCE_GROUND", "REGION", "TIME_PERIOD",
                 "value", "obs_status", "conf_status"])


def test_sums_of_codes_and_quarters_carry_eurostats_flags(content):
    m = eurostat.mapping(content, "MIGR_RESFIRST")
    q = [f"2024-Q{i}" for i in range(1, 5)]
    obs = hand_made(
        [("_T", "WORK", p, 10.0 + i, "A") for i, p in enumerate(q)]
        + [("_T", "INVEST", p, 5.0, "E" if p == q[1] else "A") for p in q]   # estimated
        + [("_T", "FAM", p, 20.0, "P" if p == q[2] else "A") for p in q]     # provisional
        + [("_T", "STUDY", p, np.nan if p == q[3] else 7.0, "Q" if p == q[3] else "A") for p in q]
        + [("GR", "_T", p, 3.0, "A") for p in q]
        + [("GR", "_T", "2025-Q1", 4.0, "A")]                                 # 2025 incomplete
    )
    obs.loc[len(obs)] = ["Q", "_T", "_T", "WORK", "X", "2024-Q1", 99.0, "A", "F"]  # not in the slice
    rows = eurostat.crosswalk(m, obs).set_index(["reason", "citizen", "TIME_PERIOD"])
    occ = rows.loc[("OCC", "TOTAL", "2024"), ["OBS_VALUE", "OBS_FLAG"]].tolist()
    assert occ == [10 + 11 + 12 + 13 + 4 * 5, "e"]                            # work + investment
    assert rows.loc[("FAM", "TOTAL", "2024"), ["OBS_VALUE", "OBS_FLAG"]].tolist() == [4 * 20, "p"]
    educ = rows.loc[("EDUC", "TOTAL", "2024")]
    assert np.isnan(educ["OBS_VALUE"]) and educ["OBS_FLAG"] == "c"
    assert rows.loc[("TOTAL", "EL", "2024"), ["OBS_VALUE", "OBS_FLAG"]].tolist() == [4 * 3, ""]
    assert "2025" not in set(rows.index.get_level_values("TIME_PERIOD"))
    assert "OTH" not in set(rows.index.get_level_values("reason"))  # nothing of it was released


def test_a_code_the_map_and_the_annotation_both_name_counts_once(content, tmp_path):
    root = broken(tmp_path, lambda s: next(d for d in s["dimensions"] if d["id"] == "citizen")["map"]
                  .update(EL="GR"))
    m = eurostat.mapping(content, "MIGR_RESFIRST", root)
    obs = hand_made([("GR", "_T", f"2024-Q{i}", 3.0, "A") for i in range(1, 5)])
    rows = eurostat.crosswalk(m, obs)
    assert rows[["citizen", "OBS_VALUE"]].values.tolist() == [["EL", 4 * 3.0]]


def test_positive_asylum_decisions_are_the_geneva_convention_ones(published_store, content):
    """The national law grants refugee status only: TOTAL_POS repeats GENCONV."""
    rows = export(published_store, content, "MIGR_ASYDCFSTA").rows
    keys = ["citizen", "sex", "age", "TIME_PERIOD"]

    def decision(code):
        return rows[rows["decision"] == code].set_index(keys)[["OBS_VALUE", "OBS_FLAG"]].sort_index()

    assert len(decision("GENCONV")) and decision("TOTAL_POS").equals(decision("GENCONV"))
    assert {"TOTAL", "REJECTED"} <= set(rows["decision"])


def test_age_bands_add_up_to_eurostats_broader_classes(content):
    if "DF_MIGR_PERM" not in content.dataflows:
        pytest.skip("DF_MIGR_PERM is not in the content yet")
    m = eurostat.mapping(content, "MIGR_IMM5PRV")
    bands = {f"Y{a}T{a + 4}": 10.0 + a for a in range(15, 65, 5)}           # 15-19 ... 60-64
    old = {"Y65T69": 4.0, "Y70T74": np.nan, "Y75T79": 2.0, "Y80T84": 1.0, "Y_GE85": 1.0}
    ages = {**bands, **old, "Y_LT15": 30.0, "Y15T29": 99.0}
    obs = pd.DataFrame(
        [("A", flow, area, "_T", age, "2024", v, "Q" if np.isnan(v) else "A", "C" if np.isnan(v) else "F")
         for flow in ("ARR", "DEP") for area in ("_T", "GB") for age, v in ages.items()],
        columns=["FREQ", "FLOW", "COUNTERPART_AREA", "SEX", "AGE", "TIME_PERIOD", "value", "obs_status",
                 "conf_status"])
    rows = eurostat.crosswalk(m, obs)
    assert len(rows) == len(rows.drop_duplicates(["partner", "age", "sex", "TIME_PERIOD"]))
    got = rows.set_index(["partner", "age"])
    assert set(rows["partner"]) == {"TOTAL", "UK"}                           # GB is UK at Eurostat
    assert got.loc[("TOTAL", "Y15-64"), "OBS_VALUE"] == sum(bands.values())
    assert got.loc[("TOTAL", "Y20-24"), "OBS_VALUE"] == bands["Y20T24"]
    assert got.loc[("UK", "Y_LT15"), "OBS_VALUE"] == ages["Y_LT15"]
    for age in ("Y_GE65", "Y70-74"):                                         # 70-74 is withheld
        assert np.isnan(got.loc[("TOTAL", age), "OBS_VALUE"]) and got.loc[("TOTAL", age), "OBS_FLAG"] == "c"
    assert got.loc[("TOTAL", "Y_GE85"), ["OBS_VALUE", "OBS_FLAG"]].tolist() == [1.0, ""]
    assert "Y15T29" not in set(rows["age"])                                # no Eurostat class


def test_an_aggregate_with_a_withheld_part_is_withheld_end_to_end(empty_store, content, tmp_path):
    """A tiny extract: one investor in 2024-Q1 is withheld, so Eurostat's OCC (work +
    investment) for 2024 has no value and flag c; sums of released parts are exact."""
    grounds = {"FAM": [40, 42, 38, 45], "WORK": [25, 27, 30, 22], "STUDY": [12, 15, 11, 14],
               "INVEST": [1, 10, 12, 9], "PROPERTY": [9, 11, 13, 10], "OTHER": [8, 12, 10, 11]}
    lines = ["TIME_PERIOD,CITIZENSHIP,SEX,RESIDENCE_GROUND,REGION,OBS_VALUE"]
    for i in range(4):
        period = f"2024-Q{i + 1}"
        lines += [f"{period},_T,_T,{g},_T,{v[i]}" for g, v in grounds.items()]
        lines.append(f"{period},_T,_T,_T,_T,{sum(v[i] for v in grounds.values())}")
    path = tmp_path / "extract.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = make_engine(empty_store)
    ingest(engine, read_extract(path, content.dataflow("DF_RESPERM_TEMP")))
    publish(engine, content, "tiny")
    with engine.connect() as conn:
        withheld = {tuple(key.split(".")[3:4]) + (period,) for key, period in conn.execute(
            select(public_series.c.series_key, public_observation.c.time_period)
            .join(public_series, public_series.c.id == public_observation.c.series_ref)
            .where(public_observation.c.value.is_(None)))}
        rows = eurostat.export(conn, content, "MIGR_RESFIRST").rows
    engine.dispose()
    assert ("INVEST", "2024-Q1") in withheld

    reason = {c["id"]: c["eurostat"] for c in codes("CL_RESIDENCE_GROUND") if "eurostat" in c}
    got = rows.set_index("reason")
    assert set(rows["citizen"]) == {"TOTAL"} and set(rows["TIME_PERIOD"]) == {"2024"}
    for eu in ("FAM", "EDUC", "OCC", "OTH"):
        parts = [g for g, r in reason.items() if r == eu]
        if any((g, f"2024-Q{i}") in withheld for g in parts for i in range(1, 5)):
            assert np.isnan(got.loc[eu, "OBS_VALUE"]) and got.loc[eu, "OBS_FLAG"] == "c", eu
        else:
            assert got.loc[eu, "OBS_VALUE"] == sum(sum(grounds[g]) for g in parts), eu
    assert got.loc["OCC", "OBS_FLAG"] == "c"


def test_the_export_reads_only_the_public_area(published_store, content):
    engine = make_engine(published_store)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, stmt, *a: statements.append(stmt))
    with engine.connect() as conn:
        eurostat.export(conn, content, "MIGR_RESFIRST")
    engine.dispose()
    assert statements and not [s for s in statements if "staging" in s.lower()]
    reads = ("SELECT", "BEGIN", "ROLLBACK", "PRAGMA", "SET", "SHOW")
    assert all(s.lstrip().upper().startswith(reads) for s in statements), statements


def test_the_cli_writes_the_csv_and_the_structure(published_store, content, tmp_path):
    from typer.testing import CliRunner

    from publisher.cli import app

    out, structure = tmp_path / "resfirst.csv", tmp_path / "resfirst.xml"
    result = CliRunner().invoke(app, ["eurostat-export", "MIGR_RESFIRST", "--out", str(out),
                                      "--structure", str(structure), "--database-url", published_store])
    assert result.exit_code == 0, result.output
    expected = export(published_store, content, "MIGR_RESFIRST")
    assert out.read_bytes().decode("utf-8") == expected.csv
    assert out.read_bytes().startswith(b"DATAFLOW,freq,reason,citizen,duration,unit,geo,TIME_PERIOD,")
    assert validate_sdmxml21(structure.read_bytes()) == []
    assert f"{len(expected.rows)} observations" in result.output


def test_the_cli_names_the_file_and_the_dataset_when_the_mapping_is_wrong(published_store, tmp_path):
    from typer.testing import CliRunner

    from publisher.cli import app

    result = CliRunner().invoke(app, ["eurostat-export", "MIGR_NOPE", "--out", str(tmp_path / "x.csv"),
                                      "--database-url", published_store])
    assert result.exit_code == 2
    assert "metadata/eurostat.yaml" in result.output and "MIGR_NOPE" in result.output
    assert not (tmp_path / "x.csv").exists()


def broken(tmp_path: Path, change) -> Path:
    """A copy of metadata/eurostat.yaml with MIGR_RESFIRST changed."""
    (tmp_path / "metadata").mkdir()
    shutil.copy(ROOT / eurostat.MAPPING_FILE, tmp_path / eurostat.MAPPING_FILE)
    path = tmp_path / eurostat.MAPPING_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["datasets"]["MIGR_RESFIRST"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def _dimension(spec: dict, did: str) -> dict:
    return next(d for d in spec["dimensions"] if d["id"] == did)


@pytest.mark.parametrize("change, says", [
    (lambda s: s.update(source="DF_NOPE"), "source dataflow 'DF_NOPE' does not exist"),
    (lambda s: _dimension(s, "reason").update({"from": "GROUND"}), "comes from 'GROUND'"),
    (lambda s: s["slice"].update(REGION="NOWHERE"), "'NOWHERE' is not in CL_REGION"),
    (lambda s: s["slice"].update(COLOUR="_T"), "slice names dimension 'COLOUR'"),
    (lambda s: s["slice"].pop("REGION"), "dimension REGION is neither sliced nor mapped"),
    (lambda s: _dimension(s, "citizen")["map"].update(EL="XX"), "EL maps from 'XX'"),
    (lambda s: _dimension(s, "reason")["map"].update(TOTAL=["_T", "FAM"]), "_T already includes"),
    (lambda s: s["dimensions"].append({"id": "sex", "from": "CITIZENSHIP"}), "both come from CITIZENSHIP"),
])
def test_a_bad_mapping_is_a_clear_error_naming_the_file_and_the_dataset(content, tmp_path, change, says):
    root = broken(tmp_path, change)
    with pytest.raises(eurostat.MappingError) as info:
        eurostat.mapping(content, "MIGR_RESFIRST", root)
    problems = info.value.problems
    assert any(says in p for p in problems), problems
    assert all(p.startswith("metadata/eurostat.yaml: MIGR_RESFIRST: ") for p in problems), problems


def test_every_dataset_whose_source_exists_maps_cleanly(content):
    checked = [d for d in EUROSTAT_DIMENSIONS
               if eurostat.read_file()["datasets"][d]["source"] in content.dataflows]
    assert "MIGR_RESFIRST" in checked
    for dataset in checked:
        m = eurostat.mapping(content, dataset)
        assert m.dimension_ids == EUROSTAT_DIMENSIONS[dataset]
