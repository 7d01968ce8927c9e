"""Disclosure control between the staging area (true values) and the public area.

Dataflows that describe one population (Form No. 1 tables 2-4 as one cube; or two
dataflows that declare the same ``disclosure.population``) are protected together:
their cells are laid out in one joint table over the union of their dimensions, a
dataflow without a dimension standing at that dimension's total. A cell that two
dataflows share (the same population, the same breakdown) is then one cell, one
unknown to the attacker, protected once and published identically in both.

``protect`` applies each group's declared method; ``audit`` rebuilds the attacker's
system from what would be public and reports every withheld unsafe cell whose interval
is narrower than the policy requires.

Earlier releases stay online (asOf, includeHistory), so a value they published is known
to the attacker wherever it is still the true value (``earlier``: every value an earlier
vintage published). Such a cell is never chosen to hide another (it hides nothing), and
the audit counts it as published; an unsafe cell an earlier release already published
with its value is reported as exposed. Both work on plain frames: the caller (publish,
the ``publisher audit`` command) reads and writes the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from publisher.content import children, total_code
from publisher.disclosure import cellkey, derived, rounding
from publisher.disclosure.audit import intervals
from publisher.disclosure.policy import Policy
from publisher.disclosure.relations import Relation, hierarchy_relations, time_relations
from publisher.disclosure.suppression import PRIMARY, SECONDARY, primary, suppress

TIME = "TIME_PERIOD"
FREQ = "FREQ"
STATUS_NAMES = {0: "free", PRIMARY: "primary", SECONDARY: "secondary"}


class DisclosureError(ValueError):
    pass


@dataclass
class Group:
    """Dataflows protected together, under one policy."""

    population: str
    policy: Policy
    flows: list  # publisher.content.Dataflow

    def codelist(self, dim: str) -> dict:
        return next(f.codelists[dim] for f in self.flows if dim in f.codelists)

    @property
    def dims(self) -> list[str]:
        out: list[str] = []
        for flow in self.flows:
            out += [d for d in flow.dimension_ids if d not in out]
        return out


def policy_of(flow) -> Policy:
    return Policy(**flow.document["disclosure"])


def groups(flows) -> list[Group]:
    """Group dataflows by population; every dataflow of a group must declare one policy
    and bind each shared dimension to the same codelist."""
    by_pop: dict[str, Group] = {}
    for flow in flows:
        policy = policy_of(flow)
        pop = policy.population or flow.document["id"]
        g = by_pop.setdefault(pop, Group(pop, policy, []))
        if policy != g.policy:
            raise DisclosureError(f"dataflows of population {pop} declare different disclosure rules "
                                  f"({g.flows[0].document['id']} and {flow.document['id']})")
        for dim, cl in flow.codelists.items():
            other = next((f.codelists[dim] for f in g.flows if dim in f.codelists), None)
            if other is not None and other["id"] != cl["id"]:
                raise DisclosureError(f"population {pop}: {dim} uses {cl['id']} in {flow.document['id']} "
                                      f"but {other['id']} elsewhere")
        g.flows.append(flow)
    return list(by_pop.values())


def joint_table(group: Group, staged: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, list[Relation]]:
    """One row per distinct cell of the group's dataflows (columns: the union of the
    dimensions, TIME_PERIOD, value, cell_key) and the relations between them.

    `staged[flow_id]` has series_key, time_period, value and (optionally) cell_key."""
    dims = group.dims
    codelists = {d: group.codelist(d) for d in dims}
    frames = []
    for flow in group.flows:
        df = staged.get(flow.document["id"])
        if df is None or df.empty:
            continue
        cells = _expand(group, flow, df).assign(
            value=df["value"].to_numpy(),
            cell_key=df["cell_key"].to_numpy() if "cell_key" in df else np.nan)
        frames.append(cells[dims + [TIME, "value", "cell_key"]])
    if not frames:
        return pd.DataFrame(columns=dims + [TIME, "value", "cell_key"]), []
    cells = pd.concat(frames, ignore_index=True)
    key = dims + [TIME]
    disagree = cells.groupby(key)["value"].nunique() > 1
    if disagree.any():
        first = disagree[disagree].index[0]
        raise DisclosureError(f"population {group.population}: dataflows disagree on the cell "
                              f"{dict(zip(key, first))}")
    cells = cells.drop_duplicates(subset=key).reset_index(drop=True)
    # Levels no dataflow of the group uses are skipped over (publisher.content.children).
    hierarchy = {d: children(codelists[d], present=set(cells[d])) for d in dims}
    relations = hierarchy_relations(cells, dims, hierarchy, time=TIME)
    if group.policy.time_additive:
        relations += time_relations(cells, dims, FREQ, time=TIME)
    return cells, relations


def coordinates(cells: pd.DataFrame, dims: list[str]) -> list[tuple]:
    """Per cell, its codes with period and frequency as one coordinate, so that a
    year = its quarters is a relation along one coordinate like any other."""
    other = [d for d in dims if d != FREQ]
    period = (cells[FREQ] + ":" + cells[TIME]) if FREQ in cells else cells[TIME]
    return [tuple(r) for r in pd.concat([cells[other], period.rename("_p")], axis=1).itertuples(index=False)]


def protect_group(group: Group, cells: pd.DataFrame, relations: list[Relation],
                  known: np.ndarray | None = None) -> pd.DataFrame:
    """`cells` with public_value (NaN = withheld) and status added; `known`: cells an
    earlier release still online published with their present value."""
    policy = group.policy
    values = cells["value"].to_numpy(float)
    out = cells.copy()
    if policy.method == "suppression":
        result = suppress(values, relations, policy, coords=coordinates(cells, group.dims), known=known)
        out["public_value"] = np.where(result.withheld, np.nan, values)
        out["status"] = [STATUS_NAMES[s] for s in result.status]
    elif policy.method == "rounding":
        out["public_value"] = rounding.round_to_base(values, policy.base)
        out["status"] = "rounded"
    elif policy.method == "none":
        out["public_value"] = values
        out["status"] = "free"
    else:
        if cells["cell_key"].isna().any():
            raise DisclosureError(f"population {group.population}: the cell-key method needs a cell key "
                                  "for every cell; the extract has none for some")
        table = cellkey.perturbation_table(policy.max_noise)
        out["public_value"] = cellkey.perturb(values, cells["cell_key"].to_numpy(int), table).astype(float)
        out["status"] = "perturbed"
    return out


@dataclass
class Finding:
    population: str
    cell: dict  # codes and period
    value: float
    low: float
    high: float
    safe: bool


def audit_group(group: Group, cells: pd.DataFrame, relations: list[Relation],
                withheld: np.ndarray, known: np.ndarray | None = None) -> list[Finding]:
    """The attacker's interval for every withheld unsafe cell of a suppression group.
    `known`: cells an earlier release still online published with their present value,
    which the attacker reads there: published, whatever this release does."""
    policy = group.policy
    values = cells["value"].to_numpy(float)
    if known is not None:
        withheld = withheld & ~np.asarray(known, dtype=bool)
    unsafe = np.flatnonzero(primary(values, policy) & withheld)
    exposed = np.flatnonzero(primary(values, policy) & ~withheld)
    if policy.method != "suppression":
        return []

    def borderline(cell: int, low: float, high: float) -> bool:
        return policy.borderline(values[cell], low, high)

    found = intervals(values, relations, withheld, lower=policy.attacker_lower, cells=unsafe,
                      borderline=borderline)
    key = group.dims + [TIME]
    codes = cells[key].to_dict("records")
    out = [Finding(group.population, codes[c], values[c], found[c].low, found[c].high,
                   policy.protected(values[c], found[c].low, found[c].high)) for c in unsafe]
    out += [Finding(group.population, codes[c], values[c], values[c], values[c], False) for c in exposed]
    return out


def _expand(group: Group, flow, df: pd.DataFrame) -> pd.DataFrame:
    """A dataflow's staged observations as rows of the joint table (dimensions it lacks
    at their totals)."""
    keys = df["series_key"].str.split(".", expand=True)
    keys.columns = flow.dimension_ids
    for d in group.dims:
        if d not in keys:
            keys[d] = total_code(group.codelist(d))
    return keys.assign(**{TIME: df["time_period"].to_numpy()})


def split(group: Group, protected: pd.DataFrame, staged: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Back from the joint table to each dataflow's staged observations."""
    key = group.dims + [TIME]
    out = {}
    for flow in group.flows:
        df = staged.get(flow.document["id"])
        if df is None or df.empty:
            continue
        rows = _expand(group, flow, df).merge(protected, on=key, how="left", validate="one_to_one")
        out[flow.document["id"]] = pd.DataFrame({
            "series_key": df["series_key"].to_numpy(),
            "time_period": df["time_period"].to_numpy(),
            "value": rows["value"].to_numpy(),
            "public_value": rows["public_value"].to_numpy(),
            "status": rows["status"].to_numpy(),
        })
    return out


def protect_all(flows, staged: dict[str, pd.DataFrame],
                earlier: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """Every staged dataflow, protected under its declared method, group by group.
    `earlier[flow_id]`: series_key, time_period, value of every value earlier releases
    still online published."""
    out: dict[str, pd.DataFrame] = {}
    for group in groups(flows):
        cells, relations = joint_table(group, staged)
        if cells.empty:
            continue
        known = known_cells(group, cells, earlier or {})
        out.update(split(group, protect_group(group, cells, relations, known), staged))
    return out


def audit_all(flows, public: dict[str, pd.DataFrame],
              earlier: dict[str, pd.DataFrame] | None = None) -> list[Finding]:
    """The audit of what is (or is about to be) public: `public[flow_id]` has
    series_key, time_period, value (the true value, from staging) and public_value
    (NaN = withheld); `earlier` as for protect_all. One finding per unsafe cell,
    withheld or not."""
    findings: list[Finding] = []
    for group in groups(flows):
        cells, relations = joint_table(group, public)
        if cells.empty:
            continue
        withheld = cells.merge(_public_cells(group, public), on=group.dims + [TIME], how="left")["withheld"]
        findings += audit_group(group, cells, relations, withheld.fillna(False).to_numpy(bool),
                                known_cells(group, cells, earlier or {}))
    return findings + derived.findings(flows, public)


def known_cells(group: Group, cells: pd.DataFrame, earlier: dict[str, pd.DataFrame]) -> np.ndarray:
    """Per joint cell: did an earlier release still online publish its present value?"""
    frames = []
    for flow in group.flows:
        df = earlier.get(flow.document["id"])
        if df is not None and not df.empty:
            frames.append(_expand(group, flow, df).assign(earlier=df["value"].to_numpy(float)))
    if not frames:
        return np.zeros(len(cells), dtype=bool)
    key = group.dims + [TIME]
    seen = pd.concat(frames)[key + ["earlier"]].drop_duplicates()
    hits = cells[key + ["value"]].reset_index().merge(seen, on=key, how="inner")
    known = np.zeros(len(cells), dtype=bool)
    known[hits.loc[hits["earlier"] == hits["value"], "index"].to_numpy(int)] = True
    return known


def _public_cells(group: Group, public: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per joint cell, whether it is withheld: a cell shared by dataflows counts as
    published if any of them publishes it (the attacker reads them all)."""
    frames = []
    for flow in group.flows:
        df = public.get(flow.document["id"])
        if df is not None and not df.empty:
            frames.append(_expand(group, flow, df).assign(withheld=df["public_value"].isna().to_numpy()))
    return pd.concat(frames).groupby(group.dims + [TIME], as_index=False)["withheld"].all()
