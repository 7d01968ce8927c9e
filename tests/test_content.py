"""The statistical content files: consistent as shipped, and every kind of mistake caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sdmx
import yaml

from publisher.content import ROOT, ContentError, load
from store.documents import build_model, structure_message


@pytest.fixture
def copy(tmp_path) -> Path:
    for folder in ("codelists", "dataflows", "metadata"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load(root)
    return info.value.problems


def test_the_shipped_content_is_consistent_and_builds_an_sdmx_model(content):
    model = build_model(content.documents)
    assert set(model["dataflow"]) == {f"AZ_SMS:{flow_id}(1.0)" for flow_id in content.dataflows}
    assert {"DF_RESPERM_TEMP", "DF_WORKPERM_VALID"} <= set(content.dataflows)
    dsd = model["datastructure"]["AZ_SMS:DSD_RESPERM_TEMP(1.0)"]
    assert dsd.dimensions.get("CITIZENSHIP").local_representation.enumerated.id == "CL_AREA"


def test_every_code_has_a_name_in_az_en_and_ru(content):
    for doc in content.documents:
        for item in doc.get("codes", []) + doc.get("concepts", []) + doc.get("categories", []):
            assert {"az", "en", "ru"} <= set(item["name"]), (doc["id"], item["id"])
            assert all(item["name"][lang].strip() for lang in ("az", "en", "ru"))


def test_country_names_pycountry_lacks_in_azerbaijani_are_supplied(content):
    area = {c["id"]: c for c in next(d for d in content.documents if d["id"] == "CL_AREA")["codes"]}
    assert area["IR"]["name"]["az"] == "İran" and area["PK"]["name"]["az"] == "Pakistan"
    assert area["TR"]["name"]["az"] == "Türkiyə" and area["RU"]["name"]["ru"] == "Российская Федерация"
    assert area["STLS"]["name"]["en"] == "Stateless" and area["STLS"]["annotations"] == {"EUROSTAT": "STLS"}
    assert area["AZ"]["annotations"]["ALPHA3"] == "AZE" and area["AZ"]["annotations"]["M49"] == "031"


def test_structure_message_round_trips_through_sdmx1(content, tmp_path):
    xml = sdmx.to_xml(structure_message(content.documents))
    msg = sdmx.read_sdmx(__import__("io").BytesIO(xml))
    assert msg.codelist["CL_SEX"]["F"].name.localizations == {"az": "Qadın", "en": "Female", "ru": "Женщины"}
    assert msg.codelist["CL_NACE"]["F"].parent.id == "_T"


def test_unknown_codelist(copy):
    edit(copy / "dataflows/DF_RESPERM_TEMP.yaml",
         lambda d: d["structure"]["dimensions"][2].update(codelist="CL_GENDER"))
    assert any("unknown codelist 'CL_GENDER'" in p for p in problems(copy))


def test_duplicate_code(copy):
    edit(copy / "codelists/CL_SEX.yaml", lambda d: d["codes"].append(dict(d["codes"][1])))
    assert "codelists/CL_SEX.yaml: duplicate code 'F'" in problems(copy)


def test_missing_translation(copy):
    edit(copy / "codelists/CL_SEX.yaml", lambda d: d["codes"][1]["name"].pop("ru"))
    assert "codelists/CL_SEX.yaml: code F has no name in 'ru'" in problems(copy)


def test_an_unquoted_comma_in_a_flow_mapping_is_caught(copy):
    path = copy / "codelists/CL_SEX.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "name: {az: Qadın, en: Female, ru: Женщины}", "name: {az: Qadın, qız, en: Female, ru: Женщины}"),
        encoding="utf-8")
    assert any("unknown language 'qız'" in p for p in problems(copy))


def test_dimension_without_concept(copy):
    edit(copy / "dataflows/DF_WORKPERM_VALID.yaml",
         lambda d: d["structure"]["dimensions"][1].update(concept="ACTIVITY"))
    assert any("component 'ECON_ACTIVITY' has no concept" in p for p in problems(copy))


def test_unknown_parent_and_cycles(copy):
    def change(d):
        d["codes"][1]["parent"] = "M"
        d["codes"][2]["parent"] = "F"
        d["codes"][3]["parent"] = "NOPE"
    edit(copy / "codelists/CL_SEX.yaml", change)
    found = problems(copy)
    assert "codelists/CL_SEX.yaml: code '_U' has unknown parent 'NOPE'" in found
    assert any("hierarchy of code 'F' has a cycle" in p for p in found)


def test_extract_layout_must_name_real_components_and_codes(copy):
    def change(d):
        d["extract"]["columns"]["NATIONALITY"] = ["Milliyyət"]
        d["extract"]["fixed"]["FREQ"] = "W"
    edit(copy / "dataflows/DF_RESPERM_TEMP.yaml", change)
    found = problems(copy)
    assert any("extract maps unknown component 'NATIONALITY'" in p for p in found)
    assert any("fixed FREQ 'W' is not in CL_FREQ" in p for p in found)


def test_all_problems_are_reported_together(copy):
    edit(copy / "codelists/CL_SEX.yaml", lambda d: d["codes"][1]["name"].pop("az"))
    edit(copy / "codelists/CL_FREQ.yaml", lambda d: d["codes"].append(dict(d["codes"][0])))
    found = problems(copy)
    assert any("CL_SEX" in p for p in found) and any("CL_FREQ" in p for p in found)
