"""Secondary suppression's Benders cuts: valid, tight, and what makes the pattern cheap.

`publisher.disclosure.benders` turns the attacker's LP duals into constraints on which
cells to withhold. These tests check the three things that must hold for that to be
sound and useful:

* the cut rebuilds the attacker's bound exactly (LP duality), so a violated cut is a
  real shortfall and a satisfied one is a real certificate;
* a cut never excludes a pattern that protects the cell (checked against every pattern of
  small tables, judged by the audit, which shares no code with the cuts);
* secondary suppression finds the cheapest protecting pattern on small tables (against
  that same enumeration). On tables this small, hypercubes alone often find it too; where
  the cuts pay (3- and 4-D tables, hundreds of cells) is measured against tau-Argus in
  bench/disclosure.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from publisher.disclosure.audit import ComponentLP, attacker_system, intervals
from publisher.disclosure.benders import relaxation_cuts, room, scaled_cuts, separate
from publisher.disclosure.policy import Policy
from publisher.disclosure.relations import hierarchy_relations, to_matrix
from publisher.disclosure.suppression import primary, suppress
from tests.test_disclosure_audit import margins_table

THRESHOLD = Policy()  # ours: counts 1-2 unsafe; interval reaching 3 and 3 wide; zeros published
TAU_RULE = Policy(rule="interval", margin=1, zeros_published=False)  # tau-Argus's rule for counts

# Migration-like counts: many zeros and small counts, a few larger ones; 2-3 rows of 3-4.
count = st.sampled_from([0, 0, 1, 1, 2, 2, 3, 4, 6, 9])
leaves_2d = st.integers(2, 3).flatmap(
    lambda rows: st.integers(3, 4).flatmap(
        lambda cols: st.lists(st.lists(count, min_size=cols, max_size=cols), min_size=rows, max_size=rows)))


def table(leaves):
    cells, dims, children = margins_table(np.array(leaves))
    return cells["v"].to_numpy(float), hierarchy_relations(cells, dims, children)


def protects(values, relations, withheld, policy) -> bool:
    unsafe = np.flatnonzero(primary(values, policy))
    if not withheld[unsafe].all():
        return False
    found = intervals(values, relations, withheld, lower=policy.attacker_lower, cells=unsafe,
                      borderline=lambda *_: True)
    return all(policy.protected(values[c], found[c].low, found[c].high) for c in unsafe)


def every_protecting_pattern(values, relations, policy, limit=10):
    """All protecting patterns, by enumeration over the cells that may be withheld."""
    unsafe = primary(values, policy)
    free = np.flatnonzero(~unsafe & ((values > 0) if policy.zeros_published else True))
    if len(free) > limit:
        return None
    out = []
    for bits in itertools.product((False, True), repeat=len(free)):
        withheld = unsafe.copy()
        withheld[free[list(bits)]] = True
        if protects(values, relations, withheld, policy):
            out.append(withheld)
    return out


@pytest.mark.parametrize("policy", [THRESHOLD, TAU_RULE], ids=["threshold", "tau-rule"])
def test_the_cut_rebuilds_the_attackers_bound(policy):
    """For a random pattern of a 4x3x2 table with margins, every unknown, both ways:
    the dual's cut evaluated at the pattern (uncapped) equals the LP's bound."""
    rng = np.random.default_rng(7)
    values, relations = table(rng.negative_binomial(1, 0.3, (4, 3, 2)).reshape(4, 6).tolist())
    lower = policy.attacker_lower
    withheld = primary(values, policy) | ((rng.random(len(values)) < 0.5) & (values > 0))
    transposed = to_matrix(relations, len(values)).T.tocsr()
    system = attacker_system(values, relations, withheld)
    checked = 0
    for cols, rows in system.components:
        lp = ComponentLP(system.matrix[rows][:, cols], system.rhs[rows], lower)
        for i, col in enumerate(cols):
            cell = int(system.unknowns[col])
            for direction in (+1, -1):
                bound, _, duals = lp.solve(i, -direction)
                if duals is None:
                    assert direction > 0 and bound == math.inf
                    continue
                raw = room(cell, direction, duals, system.relations[rows], transposed, values, lower)
                at_pattern = raw[withheld].sum()
                assert at_pattern == pytest.approx(direction * (bound - values[cell]), abs=1e-6)
                checked += 1
    assert checked > 20


@given(leaves_2d)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_cut_excludes_a_protecting_pattern(leaves):
    """Cuts from an unsafe pattern (primary suppression only), from a nudged pattern and
    from the LP relaxation: every one holds for every pattern that protects."""
    values, relations = table(leaves)
    policy = THRESHOLD
    unsafe = np.flatnonzero(primary(values, policy))
    withheld = primary(values, policy)
    assume(not protects(values, relations, withheld, policy))  # else nothing to cut
    patterns = every_protecting_pattern(values, relations, policy)
    assume(patterns)  # some table can be protected, and its patterns enumerated
    matrix = to_matrix(relations, len(values))
    transposed = matrix.T.tocsr()
    _, cuts = separate(values, relations, transposed, withheld, unsafe.tolist(), policy)
    allowed = values > 0
    nudged = withheld + 0.05 * (allowed & ~withheld)
    cuts += scaled_cuts(values, matrix.tocsc(), transposed, nudged, unsafe, policy, withheld.astype(float))
    cells = np.arange(len(values))
    cuts += relaxation_cuts(values, relations, matrix, cells, unsafe, allowed, values + 1.0, policy,
                            deadline=math.inf)
    assert cuts, "an unsafe pattern must give cuts"
    for c in cuts:
        for pattern in patterns:
            assert c.holds(pattern), (c, pattern)


@given(leaves_2d)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_suppression_finds_the_cheapest_protecting_pattern(leaves):
    """On 3x3 tables with margins, the cost (value + 1 per secondary suppression) of the
    pattern `suppress` returns is the least over all protecting patterns, within the
    MILP's 1% gap; the tau-Argus rule, where every unsafe cell must move by 1 each way."""
    values, relations = table(leaves)
    policy = TAU_RULE
    unsafe = primary(values, policy)
    assume(not protects(values, relations, unsafe, policy))  # secondary suppression is needed
    patterns = every_protecting_pattern(values, relations, policy)
    assume(patterns)

    def cost(withheld):
        return float((values[withheld & ~unsafe] + 1).sum())

    best = min(cost(p) for p in patterns)
    result = suppress(values, relations, policy)
    ours = cost(result.withheld)
    assert protects(values, relations, result.withheld, policy)
    assert ours <= best * 1.01 + 1e-9, (ours, best)
