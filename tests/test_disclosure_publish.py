"""Disclosure control as the public sees it: what the publisher withholds, perturbs or
rounds, what the API serves, and the audit that stands between them.

The demonstration data are published with DF_RESPERM_TEMP under cell suppression and
DF_WORKPERM_VALID under the cell-key method (see their dataflow files)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from publisher.disclosure import protect as P
from publisher.disclosure.cellkey import perturbation_table
from publisher.disclosure.policy import Policy
from publisher.publish import PublicationRefused, audit, publish
from store.db import make_engine
from store.schema import public_release, staging_protection

DATA21 = "/sdmx/2.1/data"


def protection_log(url: str, flow_id: str) -> pd.DataFrame:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(staging_protection).where(
            staging_protection.c.dataflow.like(f"%:{flow_id}(%"))).mappings().all()
    engine.dispose()
    return pd.DataFrame(rows)


def csv_rows(client, path: str) -> list[dict]:
    r = client.get(path, headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"})
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


# --- suppression ---------------------------------------------------------------------------

def test_every_release_of_the_demonstration_passes_the_audit(published_store, content):
    engine = make_engine(published_store)
    with engine.connect() as conn:
        findings = audit(conn, content)
    engine.dispose()
    assert findings, "the suppressed dataflow has small counts to audit"
    exposed = [f for f in findings if not f.safe]
    assert not exposed, exposed[:3]
    policy = Policy(**content.dataflow("DF_RESPERM_TEMP").document["disclosure"])
    assert all(f.high >= policy.threshold and f.high - f.low >= policy.width for f in findings)


def test_no_route_returns_a_value_for_a_withheld_cell(api_client, published_store):
    log = protection_log(published_store, "DF_RESPERM_TEMP")
    withheld = log[log["status"].isin(["primary", "secondary"])]
    assert (withheld["status"] == "primary").any() and (withheld["status"] == "secondary").any()
    served = {(r["FREQ"] + "." + ".".join(r[d] for d in ("CITIZENSHIP", "SEX", "RESIDENCE_GROUND", "REGION")),
               r["TIME_PERIOD"]): r
              for r in csv_rows(api_client, f"{DATA21}/AZ_SMS,DF_RESPERM_TEMP,1.0/all")}
    for key, period in zip(withheld["series_key"], withheld["time_period"]):
        row = served[(key, period)]
        assert (row["OBS_VALUE"], row["OBS_STATUS"], row["CONF_STATUS"]) == ("", "Q", "C")
    # Asked one series at a time, in SDMX-JSON, a withheld cell is still only 'confidential'.
    key, period = withheld.iloc[0][["series_key", "time_period"]]
    r = api_client.get(f"{DATA21}/AZ_SMS,DF_RESPERM_TEMP,1.0/{key}?startPeriod={period}&endPeriod={period}",
                       headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"})
    assert r.status_code == 200
    body = r.json()
    series = next(iter(body["data"]["dataSets"][0]["series"].values()))
    (obs,) = series["observations"].values()
    assert obs[0] is None


def test_primary_and_secondary_look_the_same_to_the_public(api_client, published_store):
    """CONF_STATUS is C for both; A (small count) or D (secondary) would tell which cells are small."""
    rows = csv_rows(api_client, f"{DATA21}/AZ_SMS,DF_RESPERM_TEMP,1.0/all")
    assert {r["CONF_STATUS"] for r in rows} == {"F", "C"}
    assert {r["OBS_STATUS"] for r in rows if r["CONF_STATUS"] == "C"} == {"Q"}
    assert all(r["OBS_VALUE"] == "" for r in rows if r["CONF_STATUS"] == "C")
    assert all(r["OBS_VALUE"] not in ("", "1", "2") for r in rows if r["CONF_STATUS"] == "F")


def test_an_unsafe_release_is_refused_and_nothing_is_published(empty_store, content, demo_files, monkeypatch):
    """Primary suppression alone: the totals give the small counts away; the audit refuses."""
    from publisher.extract import read_extract
    from publisher.staging import ingest

    engine = make_engine(empty_store)
    for flow_id, path in demo_files.items():
        ingest(engine, read_extract(path, content.dataflow(flow_id)))

    def primary_only(group, cells, relations, known=None):
        out = cells.copy()
        small = (out["value"] > 0) & (out["value"] < group.policy.threshold)
        out["public_value"] = out["value"].where(~small)
        out["status"] = np.where(small, "primary", "free")
        return out

    monkeypatch.setattr(P, "protect_group", primary_only)
    with pytest.raises(PublicationRefused) as refused:
        publish(engine, content, "unsafe")
    assert any(not f.safe for f in refused.value.findings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(public_release)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(staging_protection)).scalar() == 0
    monkeypatch.undo()
    release, summary = publish(engine, content, "protected")
    assert summary["DF_RESPERM_TEMP"]["withheld"] > 0
    engine.dispose()


def test_linked_tables_protect_the_cells_they_share(content):
    """Two dataflows of one population: A = citizenship x sex, B = region x sex. The
    totals by sex are the same people in both tables."""
    base = content.dataflow("DF_RESPERM_TEMP")

    def flow(flow_id):
        doc = {**base.document, "id": flow_id,
               "disclosure": {**base.document["disclosure"], "population": "RESPERM"}}
        return type(base)(doc, base.structure, base.layout, base.codelists)

    def table(cells: dict[str, int]) -> pd.DataFrame:
        return pd.DataFrame({"series_key": list(cells), "value": [float(v) for v in cells.values()],
                             "time_period": "2025-Q1"})

    a_cells = {"Q.RU.F._T._T": 1, "Q.RU.M._T._T": 9, "Q.RU._T._T._T": 10,
               "Q.TR.F._T._T": 5, "Q.TR.M._T._T": 6, "Q.TR._T._T._T": 11,
               "Q.GE.F._T._T": 7, "Q.GE.M._T._T": 8, "Q.GE._T._T._T": 15,
               "Q._T.F._T._T": 13, "Q._T.M._T._T": 23, "Q._T._T._T._T": 36}
    b_cells = {"Q._T.F._T.BAKU": 10, "Q._T.F._T.KARABAKH": 3, "Q._T.M._T.BAKU": 20, "Q._T.M._T.KARABAKH": 3,
               "Q._T._T._T.BAKU": 30, "Q._T._T._T.KARABAKH": 6,
               "Q._T.F._T._T": 13, "Q._T.M._T._T": 23, "Q._T._T._T._T": 36}
    a, b = flow("DF_A"), flow("DF_B")
    staged = {"DF_A": table(a_cells), "DF_B": table(b_cells)}

    # Protected apart: a pattern that protects RU women (1) in table A on its own
    # (RU total, women total and grand total withheld too), while table B publishes
    # the women total: 13 - 5 - 7 gives the 1 away.
    hidden = {"Q.RU.F._T._T", "Q.RU._T._T._T", "Q._T.F._T._T", "Q._T._T._T._T"}
    apart = {"DF_A": staged["DF_A"].assign(public_value=[np.nan if k in hidden else v for k, v in a_cells.items()]),
             "DF_B": staged["DF_B"].assign(public_value=staged["DF_B"]["value"])}
    (alone,) = [f for f in P.audit_all([a], {"DF_A": apart["DF_A"]}) if f.value == 1]
    assert alone.safe
    (linked,) = [f for f in P.audit_all([a, b], apart) if f.value == 1]
    assert not linked.safe and linked.low == linked.high == 1

    # Protected together: every small count of either table is safe from both, and a
    # shared cell is withheld in both tables or in neither.
    together = P.protect_all([a, b], staged)
    findings = P.audit_all([a, b], together)
    assert [f.value for f in findings] == [1]  # RU women; table B has no small count
    assert all(f.safe for f in findings)
    shared = together["DF_A"].merge(together["DF_B"], on=["series_key", "time_period"])
    assert len(shared) == 3
    assert (shared["public_value_x"].isna() == shared["public_value_y"].isna()).all()


# --- cell-key perturbation -------------------------------------------------------------

def test_a_derived_dataflow_publishes_only_what_its_published_source_gives(content):
    """Net migration (method none) = arrivals - departures of DF_MIGR_PERM's totals. The
    audit refuses any net figure that is not exactly that difference of two published
    totals: with one of them withheld it would give the withheld one away."""
    from publisher.content import total_code

    net, perm = content.dataflow("DF_NET_MIGR"), content.dataflow("DF_MIGR_PERM")
    flows = [perm, net]
    at_total = {d: total_code(perm.codelists[d]) for d in perm.dimension_ids if d not in ("FREQ", "FLOW")}
    region_total = total_code(net.codelists["REF_AREA"])

    def perm_key(flow_code):
        return ".".join(["A", flow_code] + [at_total[d] for d in perm.dimension_ids[2:]])

    true = {("ARR", "2024"): 2_405, ("DEP", "2024"): 1_180, ("ARR", "2025"): 2_210, ("DEP", "2025"): 1_330}

    def public(withheld=(), net_values=None, net_key=f"A.{region_total}", absent=()):
        src = pd.DataFrame([{"series_key": perm_key(f), "time_period": t, "value": float(v),
                             "public_value": np.nan if (f, t) in withheld else float(v)}
                            for (f, t), v in true.items() if (f, t) not in absent])
        nets = net_values or {t: true["ARR", t] - true["DEP", t] for t in ("2024", "2025")}
        der = pd.DataFrame([{"series_key": net_key, "time_period": t, "value": float(v), "public_value": float(v)}
                            for t, v in nets.items()])
        return {"DF_MIGR_PERM": src, "DF_NET_MIGR": der}

    def refused(frames):
        return sorted((f.cell["TIME_PERIOD"], f.value) for f in P.audit_all(flows, frames) if not f.safe)

    assert refused(public()) == []  # the demonstration's case: both totals published
    # Departures of 2025 withheld: the net figure and the arrivals would give them away.
    assert refused(public(withheld={("DEP", "2025")})) == [("2025", 880.0)]
    assert refused(public(net_values={"2024": 1_225, "2025": 881})) == [("2025", 881.0)]  # not the difference
    # Departures of 2025 not in the public area at all: the net figure would give them away.
    assert refused(public(absent={("DEP", "2025")})) == [("2025", 880.0)]
    # Neither term in the public area (a region: DF_MIGR_PERM has no regions; or the
    # source not published): a difference of two numbers nobody publishes pins neither.
    assert refused(public(net_key="A.BAKU")) == []
    assert refused({"DF_NET_MIGR": public()["DF_NET_MIGR"]}) == []
    # Withheld derived values tell nothing: not checked.
    frames = public(withheld={("DEP", "2025")})
    frames["DF_NET_MIGR"].loc[frames["DF_NET_MIGR"]["time_period"] == "2025", "public_value"] = np.nan
    assert refused(frames) == []


def test_a_derived_dataflow_must_name_a_protected_source(content):
    from publisher.disclosure.derived import check_declaration

    net = content.dataflow("DF_NET_MIGR")

    def problems(spec):
        doc = {**net.document, "disclosure": {**net.document["disclosure"], "derived": spec}}
        return check_declaration(type(net)(doc, net.structure, net.layout, net.codelists), content.dataflows)

    assert problems(net.document["disclosure"]["derived"]) == []
    assert "no dataflow DF_NOPE" in problems({"from": "DF_NOPE", "terms": {"FLOW": {"ARR": 1}}})[0]
    assert "itself unprotected" in problems({"from": "DF_LABOUR_QUOTA", "terms": {"FLOW": {"ARR": 1}}})[0]
    assert "codes of CL_FLOW" in problems({"from": "DF_MIGR_PERM", "terms": {"FLOW": {"XXX": 1}}})[0]
    with pytest.raises(ValueError, match="only with method none"):
        Policy.from_content({"method": "suppression", "derived": {"from": "DF_MIGR_PERM"}})


def test_cell_key_noise_is_bounded_unbiased_and_never_negative(published_store, content):
    log = protection_log(published_store, "DF_WORKPERM_VALID")
    assert set(log["status"]) == {"perturbed"}
    noise = log["public_value"] - log["true_value"]
    d = content.dataflow("DF_WORKPERM_VALID").document["disclosure"]["max_noise"]
    assert noise.abs().max() <= d
    assert (noise != 0).mean() > 0.3, "most cells are perturbed"
    assert abs(noise.mean()) < 0.05
    assert (log["public_value"] >= 0).all()
    assert (log.loc[log["true_value"] == 0, "public_value"] == 0).all()


def test_perturbation_table_rows_have_zero_mean_and_stay_within_d():
    for d in (1, 2, 3, 5):
        table = perturbation_table(d)
        for count in range(table.shape[0]):
            assert table[count].mean() == 0
            assert np.abs(table[count]).max() <= d
            assert (count + table[count] >= 0).all()


def test_a_cell_gets_the_same_noise_whatever_query_asks_for_it(api_client, published_store):
    """Whole dataflow, one series, one period, one format or another: one value."""
    whole = {(r["ECON_ACTIVITY"], r["AGE"], r["EDUCATION_LEV"], r["SEX"], r["TIME_PERIOD"]): r["OBS_VALUE"]
             for r in csv_rows(api_client, f"{DATA21}/AZ_SMS,DF_WORKPERM_VALID,1.0/all")}
    log = protection_log(published_store, "DF_WORKPERM_VALID")
    sample = log[log["true_value"].between(1, 5)].head(5)
    assert len(sample)
    for key, period, value in zip(sample["series_key"], sample["time_period"], sample["public_value"]):
        one = csv_rows(api_client, f"{DATA21}/AZ_SMS,DF_WORKPERM_VALID,1.0/{key}?startPeriod={period}"
                                   f"&endPeriod={period}")
        (row,) = one
        dims = tuple(key.split(".")[1:])
        assert float(row["OBS_VALUE"]) == float(whole[(*dims, period)]) == value


# --- rounding, metadata and the audit command ------------------------------------------------

def test_rounding_rounds_every_count_totals_included_to_the_nearest_base():
    from publisher.disclosure.rounding import round_to_base

    values = np.array([0, 1, 2, 3, 7, 8, 12, 13, 102])
    assert round_to_base(values, 5).tolist() == [0, 0, 0, 5, 5, 10, 10, 15, 100]
    # A total is rounded from its true value, not summed from rounded parts.
    parts = np.array([3, 3, 3])
    assert round_to_base(parts, 5).sum() == 15 and round_to_base(np.array([parts.sum()]), 5)[0] == 10


@pytest.mark.parametrize("lang", ["az", "en", "ru"])
def test_each_dataflow_says_how_it_is_protected_in_sims_7(content, lang):
    from store.documents import build_model

    model = build_model(content.documents)
    for flow_id in ("DF_RESPERM_TEMP", "DF_WORKPERM_VALID"):
        flow = next(f for ref, f in model["dataflow"].items() if f.id == flow_id)
        (note,) = [a for a in flow.annotations if a.type == "CONF_DATA_TR"]
        text = note.text.localizations[lang]
        method = content.dataflow(flow_id).document["disclosure"]["method"]
        assert text == Policy(**content.dataflow(flow_id).document["disclosure"]).describe(lang)
        assert ("2" in text) if method == "cellkey" else ("1" in text and "2" in text)


def test_the_audit_command_reports_a_safe_release(published_store):
    from typer.testing import CliRunner

    from publisher.cli import app

    result = CliRunner().invoke(app, ["audit", "--database-url", published_store])
    assert result.exit_code == 0, result.output
    assert "RESPERM" in result.output and "safe" in result.output and "UNSAFE" not in result.output


def test_an_earlier_release_still_online_is_part_of_the_attack(content):
    """Earlier vintages stay online (asOf, includeHistory). Release 1 published RU women
    as 4; the revised count is 1. A pattern that hides RU men (unchanged at 9) as a
    secondary hides nothing: release 1 still shows 9, and RU total 10 - 9 gives the 1."""
    base = content.dataflow("DF_RESPERM_TEMP")
    a = type(base)({**base.document, "id": "DF_A"}, base.structure, base.layout, base.codelists)

    def table(cells: dict[str, int]) -> pd.DataFrame:
        return pd.DataFrame({"series_key": list(cells), "value": [float(v) for v in cells.values()],
                             "time_period": "2025-Q1"})

    now = {"Q.RU.F._T._T": 1, "Q.RU.M._T._T": 9, "Q.RU._T._T._T": 10,
           "Q.TR.F._T._T": 5, "Q.TR.M._T._T": 6, "Q.TR._T._T._T": 11,
           "Q.GE.F._T._T": 7, "Q.GE.M._T._T": 8, "Q.GE._T._T._T": 15,
           "Q._T.F._T._T": 13, "Q._T.M._T._T": 23, "Q._T._T._T._T": 36}
    before = {**now, "Q.RU.F._T._T": 4, "Q.RU._T._T._T": 13, "Q._T.F._T._T": 16, "Q._T._T._T._T": 39}
    earlier = {"DF_A": table(before)}
    staged = {"DF_A": table(now)}

    # A hypercube around RU women (RU and TR, women and men): safe in this vintage alone.
    cube = {"Q.RU.F._T._T", "Q.RU.M._T._T", "Q.TR.F._T._T", "Q.TR.M._T._T"}
    public = {"DF_A": staged["DF_A"].assign(public_value=[np.nan if k in cube else v for k, v in now.items()])}
    (alone,) = [f for f in P.audit_all([a], public) if f.value == 1]
    assert alone.safe
    (with_history,) = [f for f in P.audit_all([a], public, earlier) if f.value == 1]
    assert not with_history.safe and with_history.low == with_history.high == 1

    # Protected with the earlier vintage in view: no unchanged cell is used to hide, and
    # the audit, with the earlier vintage, passes.
    protected = P.protect_all([a], staged, earlier)["DF_A"]
    withheld = set(protected.loc[protected["public_value"].isna(), "series_key"])
    unchanged = {k for k in now if now[k] == before[k]}
    assert "Q.RU.F._T._T" in withheld and not withheld & unchanged, withheld
    findings = P.audit_all([a], {"DF_A": protected}, earlier)
    assert [f.value for f in findings] == [1] and all(f.safe for f in findings)

    # A value published earlier and still true is known: withholding it now is refused.
    same = {"DF_A": table({**now, "Q.RU.F._T._T": 1, "Q.RU._T._T._T": 10})}
    (exposed,) = [f for f in P.audit_all([a], {"DF_A": protected}, same) if f.value == 1]
    assert not exposed.safe
