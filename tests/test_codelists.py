"""The standard codelists: complete against their sources, and hierarchies that add up."""

from __future__ import annotations

import gettext
import re
import shutil
from pathlib import Path

import pycountry
import pytest
import yaml

from publisher.content import ROOT, ContentError, children, load, total_code
from publisher.tools.make_cl_area import AZ_SUPPLIED, M49_REGIONS, M49_SUB_REGIONS


def codelist(content, cl_id: str) -> dict:
    return next(d for d in content.documents if d["kind"] == "codelist" and d["id"] == cl_id)


def by_id(content, cl_id: str) -> dict[str, dict]:
    return {c["id"]: c for c in codelist(content, cl_id)["codes"]}


def ancestors(codes: dict[str, dict], cid: str) -> list[str]:
    """The codes above `cid`, nearest first."""
    out = []
    while (up := codes[cid].get("parent")) is not None:
        out.append(up)
        cid = up
    return out


def annotation(code: dict, key: str) -> str | None:
    return (code.get("annotations") or {}).get(key)


# CL_AREA

def test_every_iso_country_sits_under_an_m49_sub_region_under_a_region_under_the_total(content):
    area = by_id(content, "CL_AREA")
    for country in pycountry.countries:
        path = ancestors(area, country.alpha_2)
        if country.alpha_2 == "AQ":  # M49 gives Antarctica no region
            assert path == ["_T"]
            continue
        sub, region, top = path
        assert sub in M49_SUB_REGIONS and region in M49_REGIONS and top == "_T", (country.alpha_2, path)
        assert M49_SUB_REGIONS[sub][0] == region


@pytest.mark.parametrize("country, sub_region, region", [
    ("AZ", "145", "142"), ("TR", "145", "142"), ("RU", "151", "150"), ("GB", "154", "150"),
    ("BR", "419", "019"), ("US", "021", "019"), ("NG", "202", "002"), ("EG", "015", "002"),
    ("IN", "034", "142"), ("KZ", "143", "142"), ("AU", "053", "009"),
])
def test_known_countries_are_in_their_m49_regions(content, country, sub_region, region):
    assert ancestors(by_id(content, "CL_AREA"), country) == [sub_region, region, "_T"]


def test_stateless_and_unknown_sit_directly_under_the_total(content):
    area = by_id(content, "CL_AREA")
    for code in ("STLS", "UNK"):
        assert area[code]["parent"] == "_T" and annotation(area[code], "EUROSTAT") == code


def test_crosswalk_annotations(content):
    area = by_id(content, "CL_AREA")
    assert annotation(area["GR"], "EUROSTAT") == "EL" and annotation(area["GB"], "EUROSTAT") == "UK"
    tr = area["TR"]
    assert (annotation(tr, "ALPHA3"), annotation(tr, "M49"), annotation(tr, "EUROSTAT")) == ("TUR", "792", "TR")
    assert tr["name"]["en"] == "Türkiye"
    for country in pycountry.countries:
        code = area[country.alpha_2]
        assert annotation(code, "ALPHA3") == country.alpha_3
        assert annotation(code, "M49") == country.numeric and len(country.numeric) == 3
        if country.alpha_2 not in ("GR", "GB"):
            assert annotation(code, "EUROSTAT") == country.alpha_2


def test_regions_carry_their_m49_code(content):
    area = by_id(content, "CL_AREA")
    for m49 in list(M49_REGIONS) + list(M49_SUB_REGIONS):
        assert annotation(area[m49], "M49") == m49


def test_azerbaijani_names_are_supplied_where_pycountry_has_none(content):
    az = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["az"])
    area = by_id(content, "CL_AREA")
    lacking = [c.alpha_2 for c in pycountry.countries if az.gettext(c.name) == c.name]
    for code in lacking:
        assert code in AZ_SUPPLIED, f"{code}: pycountry has no Azerbaijani name and the tool none either"
        assert area[code]["name"]["az"] == AZ_SUPPLIED[code]
    assert area["IR"]["name"]["az"] == "İran" and area["GB"]["name"]["az"] == "Birləşmiş Krallıq"


# Every codelist

def test_every_code_has_a_name_in_each_language(content):
    for doc in content.documents:
        for code in doc.get("codes", []):
            assert all(code["name"].get(lang, "").strip() for lang in ("az", "en", "ru")), (doc["id"], code["id"])


def test_the_loader_rejects_a_missing_russian_name(tmp_path):
    for folder in ("codelists", "dataflows", "metadata"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    path: Path = tmp_path / "codelists" / "CL_REGION.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    next(c for c in data["codes"] if c["id"] == "AZ-GA")["name"].pop("ru")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load(tmp_path)
    assert "codelists/CL_REGION.yaml: code AZ-GA has no name in 'ru'" in info.value.problems


def test_hierarchies_are_trees_rooted_at_the_total(content):
    for doc in content.documents:
        if doc["kind"] != "codelist" or not any(annotation(c, "TOTAL") for c in doc["codes"]):
            continue
        codes = {c["id"]: c for c in doc["codes"]}
        for cid in codes:
            path = ancestors(codes, cid)  # would not end on a cycle
            assert cid == total_code(doc) or path[-1:] == [total_code(doc)], (doc["id"], cid, path)


# CL_AGE

def age_range(cid: str) -> tuple[int, float]:
    """The ages (first, last) a CL_AGE id covers: Y5T9, Y_LT15, Y_GE85."""
    if m := re.fullmatch(r"Y(\d+)T(\d+)", cid):
        return int(m[1]), int(m[2])
    if m := re.fullmatch(r"Y_LT(\d+)", cid):
        return 0, int(m[1]) - 1
    if m := re.fullmatch(r"Y_GE(\d+)", cid):
        return int(m[1]), float("inf")
    raise ValueError(cid)


def test_age_bands_sit_under_the_broad_group_that_contains_them(content):
    age = codelist(content, "CL_AGE")
    below = children(age)
    broad = [c for c in below["_T"] if c != "_U"]
    assert set(below["_T"]) - set(broad) == {"_U"}
    # The broad groups and, within each, its 5-year bands cover all ages without gaps.
    for group, parts in [("_T", broad)] + [(g, below[g]) for g in broad]:
        ranges = sorted(age_range(p) for p in parts)
        first, last = (0, float("inf")) if group == "_T" else age_range(group)
        assert ranges[0][0] == first and ranges[-1][1] == last, group
        assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:])), group
    bands = [c for g in broad for c in below[g]]
    assert len(bands) == 18 and "Y_GE85" in bands
    assert all(age_range(b)[1] - age_range(b)[0] == 4 for b in bands if b != "Y_GE85")


# CL_REGION

def test_every_iso_subdivision_of_azerbaijan_appears_once(content):
    region = codelist(content, "CL_REGION")
    ids = [c["id"] for c in region["codes"]]
    for sub in pycountry.subdivisions.get(country_code="AZ"):
        assert ids.count(sub.code) == 1, sub.code
        # pycountry spells Kəngərli with 'ǝ' (U+01DD) for 'ə' (U+0259).
        name = next(c for c in region["codes"] if c["id"] == sub.code)["name"]["az"]
        assert sub.type == "Autonomous republic" or name.startswith(sub.name.replace("ǝ", "ə")), name


def test_every_economic_region_has_its_subdivisions(content):
    region = codelist(content, "CL_REGION")
    below = children(region)
    assert len(below["_T"]) == 14
    for economic_region in below["_T"]:
        assert below.get(economic_region), economic_region
        assert not economic_region.startswith("AZ-")
    codes = by_id(content, "CL_REGION")
    assert ancestors(codes, "AZ-NV") == ["AZ-NX", "NAKHCHIVAN", "_T"]
    assert ancestors(codes, "AZ-XA") == ["KARABAKH", "_T"] and ancestors(codes, "AZ-LAC")[0] == "EAST_ZANGEZUR"
    # ISO's own hierarchy (the Nakhchivan AR over its rayons) is kept.
    for sub in pycountry.subdivisions.get(country_code="AZ"):
        if sub.parent_code:
            assert codes[sub.code]["parent"] == sub.parent_code


# CL_RESIDENCE_GROUND, the classifications

def test_residence_grounds_map_to_eurostat_reasons(content):
    grounds = by_id(content, "CL_RESIDENCE_GROUND")
    mapped = {cid: annotation(c, "EUROSTAT") for cid, c in grounds.items() if cid != "_T"}
    assert set(mapped.values()) <= {"FAM", "EDUC", "OCC", "OTH"} and None not in mapped.values()
    assert mapped["STUDY"] == "EDUC" and mapped["FAM"] == "FAM"


def test_classifications_are_complete(content):
    nace = children(codelist(content, "CL_NACE"))["_T"]
    assert nace == [chr(c) for c in range(ord("A"), ord("U") + 1)]
    occupations = children(codelist(content, "CL_OCCUPATION"))["_T"]
    assert sorted(occupations) == [f"OC{i}" for i in range(10)]
    edu = children(codelist(content, "CL_EDUCATION_LEV"))
    for group in ("ED0-2", "ED3_4", "ED5-8"):
        first, last = (int(d) for d in re.findall(r"\d", group))
        assert edu[group] == [f"ED{i}" for i in range(first, last + 1)]


def test_cross_domain_codelists_have_the_cog_codes(content):
    expected = {
        "CL_FREQ": {"A", "Q", "M"}, "CL_SEX": {"_T", "F", "M", "_U"},
        "CL_UNIT_MEASURE": {"PS", "NUMBER", "PER_1000"}, "CL_UNIT_MULT": {"0", "3", "6"},
        "CL_DECIMALS": {"0", "1", "2", "3", "4"},
        "CL_OBS_STATUS": set("ABDEFGIKLMNOPQSUV"), "CL_CONF_STATUS": set("FNCDSAOTGME"),
    }
    for cl_id, codes in expected.items():
        assert codes <= set(by_id(content, cl_id)), cl_id
