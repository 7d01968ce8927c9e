"""Primary and secondary cell suppression.

Primary: every count from 1 to threshold-1. Secondary: a HiGHS MILP chooses further
cells to withhold at least cost (cost = value + 1: the number and the total of what is
withheld), under constraints that every protecting pattern satisfies:

* no equation may hold exactly one withheld cell (it would be recomputed at once);
* in every equation through an unsafe cell, the other withheld cells must be able to
  absorb the change the unsafe cell needs to be protected;
* Benders cuts (publisher.disclosure.benders): the attacker's LP duals for an unsafe cell
  that a pattern leaves short, first from the LP relaxation, then from each pattern the
  MILP proposes (up to `exact_rounds` rounds as they come; then each round keeps what the
  last one withheld, which converges in a few more; if even that stalls, hypercubes);

and, where the table has dimensions and the cuts did not settle a cell, a set cover over
candidate hypercubes (publisher.disclosure.hypercube): every such cell gets a whole one.

Every solution goes through the audit: a chosen hypercube whose shift leaves every
relation unchanged is a certificate, and every other unsafe cell gets its attacker LPs
and, where the LP is borderline, the integer model; where an unsafe cell is still too
exposed, it gets a hypercube, or a cut forces the MILP to withhold one more cell next to
it, and the MILP is solved again. The loop ends only when the audit passes: the audit,
not the heuristic, is the proof.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import highspy
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from publisher.disclosure.audit import Interval, intervals
from publisher.disclosure.benders import Cut, relaxation_cuts, scaled_cuts, separate
from publisher.disclosure.hypercube import Hypercube, candidates, certificates, index_relations
from publisher.disclosure.policy import Policy
from publisher.disclosure.relations import Relation, to_matrix

FREE, PRIMARY, SECONDARY = 0, 1, 2
log = logging.getLogger(__name__)


class ProtectionFailed(RuntimeError):
    pass


@dataclass
class SuppressionResult:
    status: np.ndarray  # FREE / PRIMARY / SECONDARY per cell
    iterations: int
    audit: dict  # cell -> Interval, for the unsafe cells

    @property
    def withheld(self) -> np.ndarray:
        return self.status != FREE


def primary(values: np.ndarray, policy: Policy) -> np.ndarray:
    return (values > 0) & (values < policy.threshold)


def _components(n: int, relations: list[Relation]) -> np.ndarray:
    """Component label per cell in the graph where a relation links all its cells."""
    a = to_matrix(relations, n)
    a.data[:] = 1
    count, labels = connected_components((a.T @ a).tocsr(), directed=False)
    return labels


def _greedy(values: np.ndarray, unsafe: np.ndarray, cubes: list[Hypercube], withheld: np.ndarray,
            cuts: list[np.ndarray], policy: Policy, allowed: np.ndarray, weighted: list[Cut] = ()) -> np.ndarray:
    """tau-Argus's hypercube heuristic over the same candidates: most exposed cell first,
    each takes the hypercube that adds the least cost given what is already withheld.
    Its pattern is the MILP's starting point, so the MILP can only do better."""
    withheld = withheld.copy()
    by_cell: dict[int, list[Hypercube]] = {}
    for h in cubes:
        by_cell.setdefault(h.cell, []).append(h)
    cost = values + 1.0
    for p in sorted(unsafe.tolist(), key=lambda c: (-policy.upward_room(values[c]), c)):
        options = [h for h in by_cell.get(p, []) if allowed[list(h.corners)].all()]
        if not options:
            continue
        extra = [cost[[c for c in h.corners if not withheld[c]]].sum() for h in options]
        best = options[int(np.argmin(extra))]
        withheld[list(best.corners)] = True
    for cut in cuts:
        cut = cut[allowed[cut]]
        if len(cut) and not withheld[cut].any():
            withheld[cut[np.argmin(cost[cut])]] = True
    for cut in weighted:  # cheapest room first
        if cut.holds(withheld):
            continue
        have = float(cut.coefs[withheld[cut.cells]].sum())
        for j in np.argsort(cost[cut.cells] / cut.coefs):
            c = cut.cells[j]
            if allowed[c] and not withheld[c]:
                withheld[c] = True
                have += cut.coefs[j]
                if have >= cut.rhs - 1e-6:
                    break
    return withheld


def _solve_component(values: np.ndarray, cells: np.ndarray, relations: list[Relation],
                     is_primary: np.ndarray, policy: Policy, cuts: list[np.ndarray],
                     cubes: list[Hypercube], start: np.ndarray, locked: np.ndarray,
                     time_limit: float, allowed: np.ndarray,
                     weighted: list[Cut] = ()) -> tuple[np.ndarray, list[Hypercube]]:
    """The MILP for one component; returns the withheld cells and the chosen hypercubes.

    Variables: s_j per cell (1 = withheld), z_h per candidate hypercube (1 = chosen),
    y_r per relation through an unsafe cell that has no candidate (1 = it holds a
    withheld cell):
      sum over p's candidates z_h >= 1;  z_h <= s_j for each corner j   (a set cover)
      s_i <= y_r for each member i;  sum(s_j) >= 2 y_r   (no equation with a single unknown)
      sum(cap_j s_j) >= need + cap_p                     (room around unsafe cells, see below)
    A chosen hypercube proves its cell's protection, so the relation rows, which are
    necessary but not sufficient, are kept only for cells that have none; `weighted`
    are Benders cuts (publisher.disclosure.benders):  sum(c_j s_j) >= need. HiGHS starts
    from `start` (the greedy pattern) and stops at `time_limit` with the best found.
    """
    local = {int(c): i for i, c in enumerate(cells)}
    covered = {h.cell for h in cubes}
    relations = [rel for rel in relations
                 if any(is_primary[x] and x not in covered for x in (rel.total, *rel.parts))]
    n, m, k = len(cells), len(relations), len(cubes)
    rows, cols, vals, lbs = [], [], [], []
    r = 0
    lower = policy.attacker_lower

    def row(entries, lb):
        nonlocal r
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lbs.append(lb)
        r += 1

    x0 = np.zeros(n + m + k)
    x0[:n] = start[cells]
    for q, rel in enumerate(relations):
        members = [rel.total, *rel.parts]
        idx = [local[x] for x in members]
        y = n + q
        x0[y] = float(start[members].any())
        for i in idx:
            row([(y, 1.0), (i, -1.0)], 0.0)
        row([(i, 1.0) for i in idx] + [(y, -2.0)], 0.0)
        # Room: an unsafe part p must be able to rise by `need`, offset by other withheld
        # cells: the total (no limit) or sibling parts (each down to `lower`). One row per
        # distinct need; p's own term is on both sides (s_p = 1), hence `+ cap_p`, taken at
        # its largest over the group (a slightly stronger row; the audit has the last word).
        groups: dict[tuple[float, bool], float] = {}
        for x in members:
            if is_primary[x] and x not in covered and (need := policy.upward_room(values[x])) > 0:
                part = x != rel.total
                own = min(need, max(values[x] - lower, 0)) if part else need
                groups[(need, part)] = max(groups.get((need, part), 0.0), own)
        for (need, p_is_part), own in groups.items():
            entries = []
            for x in members:
                cap = need if (x == rel.total or not p_is_part) else min(need, max(values[x] - lower, 0))
                if cap > 0:
                    entries.append((local[x], float(cap)))
            row(entries, need + own)
    by_cell: dict[int, list[int]] = {}
    for h_i, h in enumerate(cubes):
        z = n + m + h_i
        x0[z] = float(start[list(h.corners)].all())
        by_cell.setdefault(h.cell, []).append(z)
        for corner in h.corners:
            if corner != h.cell:
                row([(local[corner], 1.0), (z, -1.0)], 0.0)
    for zs in by_cell.values():
        row([(z, 1.0) for z in zs], 1.0)
    for cut in cuts:
        row([(local[int(x)], 1.0) for x in cut], 1.0)
    for cut in weighted:
        row([(local[int(x)], float(c)) for x, c in zip(cut.cells, cut.coefs)], cut.rhs)
    extra = m + k
    size = n + extra
    a = coo_matrix((vals, (rows, cols)), shape=(r, size)).tocsc()
    must = is_primary[cells] | locked[cells]
    upper = np.ones(size)
    upper[:n] = allowed[cells]
    cost = np.concatenate([np.where(is_primary[cells], 0.0, values[cells] + 1.0), np.zeros(extra)])
    x = _highs_milp(cost, a, np.array(lbs, dtype=float), np.concatenate([must, np.zeros(extra)]), upper,
                    x0, time_limit)
    chosen = [h for h_i, h in enumerate(cubes) if x[n + m + h_i] > 0.5]
    return cells[x[:n] > 0.5], chosen


def _withholdable(values: np.ndarray, policy: Policy) -> np.ndarray:
    """1 where a cell may be withheld: not a zero, when zeros are always published."""
    return (values > 0).astype(float) if policy.zeros_published else np.ones(len(values))


def _highs_milp(cost: np.ndarray, a, row_lower: np.ndarray, col_lower: np.ndarray, col_upper: np.ndarray,
                start: np.ndarray, time_limit: float) -> np.ndarray:
    """min cost.x, a x >= row_lower, x binary within [col_lower, col_upper]; from `start`.

    Straight highspy rather than scipy.optimize.milp, which cannot pass a start."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 0.01)
    lp = highspy.HighsLp()
    size = len(cost)
    lp.num_col_, lp.num_row_ = size, a.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = col_lower.astype(float)
    lp.col_upper_ = col_upper.astype(float)
    lp.row_lower_ = row_lower
    lp.row_upper_ = np.full(a.shape[0], highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * size
    h.passModel(lp)
    solution = highspy.HighsSolution()
    solution.col_value = np.maximum(start, col_lower).tolist()
    h.setSolution(solution)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise ProtectionFailed("no suppression pattern protects this table")
    x = np.asarray(h.getSolution().col_value)
    if len(x) != size or np.any(a @ x < row_lower - 1e-6):
        if np.all(a @ start >= row_lower - 1e-6):
            return start  # HiGHS found nothing better in time than the greedy start
        raise ProtectionFailed(f"the suppression MILP found no pattern ({h.modelStatusToString(status)})")
    return np.round(x)


def suppress(values: np.ndarray, relations: list[Relation], policy: Policy, *,
             coords: list[tuple] | None = None, known: np.ndarray | None = None, max_rounds: int = 200,
             time_limit: float = 3.0, integer_budget: float = 120.0, benders_budget: float = 20.0,
             benders_rounds: int = 10, exact_rounds: int = 5) -> SuppressionResult:
    """Withhold the unsafe cells and enough others; `coords` (one tuple of codes per
    cell, period included) enables hypercube candidates. `time_limit`: seconds per MILP;
    `integer_budget`: seconds per round for the audit's integer models.

    Round 1 asks only the relation rows (cheap patterns, often not hypercubes); each
    unsafe cell the audit finds exposed must from then on be covered by a whole
    hypercube. That set only grows, and when every cell needs one the MILP is a pure
    hypercube cover, which always protects: so the loop ends. A cell without any
    candidate instead gets a cut (withhold one more cell next to it) and the pattern
    around it is kept."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    is_primary = primary(values, policy)
    status = np.where(is_primary, PRIMARY, FREE)
    labels = _components(n, relations)
    rel_label = np.array([labels[rel.total] for rel in relations], dtype=int)
    def borderline(cell: int, low: float, high: float) -> bool:
        return policy.borderline(values[cell], low, high)
    cost = values + 1.0
    if coords is not None:
        lookup = {c: i for i, c in enumerate(coords)}
        options = index_relations(relations, coords)
    # Cells that may be withheld: not published zeros, and not cells an earlier release
    # still online already published with this very value (`known`): withholding those
    # hides nothing, and a pattern leaning on them would be undone by the earlier release.
    allowed = _withholdable(values, policy) > 0
    if known is not None:
        allowed &= ~(np.asarray(known, dtype=bool) & ~is_primary)
    audit: dict = {}
    rounds = 0
    for comp in np.unique(labels[is_primary]):
        cells = np.flatnonzero(labels == comp)
        comp_rel = [relations[i] for i in np.flatnonzero(rel_label == comp)]
        matrix = to_matrix(comp_rel, n).tocsc()
        members = _members_by_cell(comp_rel)
        unsafe = cells[is_primary[cells]]
        pool: dict[int, list[Hypercube]] = {}  # candidate hypercubes, built when first needed

        def cubes_for(c: int) -> list[Hypercube]:
            if c not in pool:
                pool[c] = (candidates(c, values, coords, lookup, options, policy, cost, matrix)
                           if coords is not None else [])
            return pool[c]
        need_cube: set[int] = set()
        cuts: list[np.ndarray] = []
        transposed = matrix.T.tocsr()
        deadline = time.perf_counter() + benders_budget
        weighted: list[Cut] = []
        benders, relaxed, last_short = True, False, None
        proven: dict[int, Interval] = {}
        proven_under = None
        locked = is_primary.copy()
        previous = locked
        for rounds_here in range(max_rounds):
            rounds += 1
            t0 = time.perf_counter()
            cubes = [h for c in sorted(need_cube) for h in pool[c]]
            start = _greedy(values, np.array(sorted(need_cube), dtype=int), cubes, previous, cuts, policy, allowed,
                            weighted)
            try:
                withheld_cells, chosen = _solve_component(values, cells, comp_rel, is_primary, policy, cuts,
                                                          cubes, start, locked, time_limit, allowed, weighted)
            except ProtectionFailed:
                if not weighted and locked.sum() == is_primary.sum():
                    raise
                # The relaxation's attacker lets a cell rise only so far, so in three or more
                # dimensions one of its cuts may exclude every pattern: do without them.
                weighted, benders = [], False
                locked = is_primary.copy()
                previous = locked
                continue
            t1 = time.perf_counter()
            withheld = np.zeros(n, dtype=bool)
            withheld[withheld_cells] = True
            certified = {}
            if coords is not None:  # a hypercube of withheld cells proves protection
                for c, h in certificates(unsafe, values, coords, lookup, options, policy, cost, matrix,
                                         withheld, pool).items():
                    certified[c] = Interval(c, values[c] - h.down, values[c] + h.up)
            rest = [c for c in unsafe.tolist() if c not in certified]
            if benders and rest and time.perf_counter() < deadline and rounds_here < benders_rounds:
                # Benders: the attacker's LP for each cell left; where one is short, its
                # duals become a cut and the MILP is solved again.
                found, new = separate(values, comp_rel, transposed, withheld, rest, policy)
                # The pattern's own duals are often degenerate (a cell recomputed exactly
                # has many), and then weak; the attacker with every other cell slightly
                # withheld picks, among them, the dual that leans least on published cells.
                short = sorted({c.cell for c in new})
                if short and not relaxed:
                    # The first time cells are short, start the component again from the
                    # LP relaxation's cuts: a better first pattern than cuts added one
                    # pattern at a time (components that pass at once never pay for it).
                    relaxed = True
                    weighted = relaxation_cuts(values, comp_rel, matrix.tocsr(), cells, unsafe, allowed, cost,
                                               policy, deadline=time.perf_counter() + benders_budget / 2)
                    log.debug("component of %d cells: %d cuts from the relaxation", len(cells), len(weighted))
                    continue
                if short:
                    nudged = withheld + 0.05 * (allowed & ~withheld)
                    better = scaled_cuts(values, matrix, transposed, nudged, short, policy, withheld.astype(float))
                    if better:
                        have = {c.cell for c in better}
                        new = better + [c for c in new if c.cell not in have]
                log.debug("component of %d cells, round %d: %d withheld in %.2fs; %d Benders cuts in %.2fs",
                          len(cells), rounds, len(withheld_cells), t1 - t0, len(new), time.perf_counter() - t1)
                if new and rounds_here < exact_rounds:  # plain Benders: optimal when it converges
                    weighted += new
                    previous = withheld
                    continue
                if new and last_short is not None and len(short) > 0.8 * last_short:
                    # No progress: the cuts keep moving the weak spot (deep chains of small
                    # cells). Give those cells hypercubes instead, from a fresh start.
                    benders = False
                    weighted = [w for w in weighted if w.cell not in set(short)]
                    need_cube.update(c for c in short if cubes_for(c))
                    locked = is_primary.copy()
                    previous = locked
                    continue
                if new:  # then each round keeps what the last withheld: it converges in a few
                    weighted += new
                    previous = withheld
                    locked[withheld_cells] = True
                    last_short = len(short)
                    continue
            # Integer models for borderline cells (mostly one warm-started LP each, see
            # audit.ComponentMILP), within a time budget: past it, a cell the LP protects by
            # less than a unit at a fractional optimum counts as exposed and gets a
            # hypercube (a proof). A cell proven under a pattern stays proven under any
            # pattern that withholds at least as much (the attacker only knows less).
            if proven_under is None or (proven_under & ~withheld).any():
                proven = {}
            check = [c for c in rest if c not in proven]
            found = intervals(values, comp_rel, withheld, lower=policy.attacker_lower, cells=check,
                              borderline=borderline, integer=integer_budget) if check else {}
            found.update({c: proven[c] for c in rest if c in proven})
            no_cube = [c for c in rest if not found[c].exact and not cubes_for(c)]
            if no_cube:  # no hypercube to fall back on: the integer model decides
                found.update(intervals(values, comp_rel, withheld, lower=policy.attacker_lower, cells=no_cube,
                                       borderline=borderline))
            failing = [c for c in rest if not found[c].exact
                       or not policy.protected(values[c], found[c].low, found[c].high)]
            log.debug("component of %d cells, round %d: %d cells need a hypercube, %d withheld (greedy %d) in "
                      "%.2fs; audit of %d cells in %.2fs, %d failing", len(cells), rounds, len(need_cube),
                      len(withheld_cells), int(start[cells].sum()), t1 - t0, len(rest),
                      time.perf_counter() - t1, len(failing))
            proven = {c: found[c] for c in rest if c not in set(failing)}
            proven_under = withheld
            if not failing:
                status[withheld_cells[~is_primary[withheld_cells]]] = SECONDARY
                audit.update(found)
                audit.update(certified)
                break
            previous = withheld
            if len(failing) <= 0.1 * len(rest):
                # A few cells left: keep this pattern and add to it, so that every cell
                # proven under it stays proven (and is not checked again).
                locked[withheld_cells] = True
            for c in failing:
                if cubes_for(c) and c not in need_cube:
                    need_cube.add(c)
                else:  # no hypercube (or its cube is undone by other relations): grow around it
                    locked[withheld_cells] = True
                    cuts.append(_nearest_published(c, members, withheld, allowed))
        else:
            raise ProtectionFailed(f"secondary suppression did not converge in {max_rounds} rounds")
    return SuppressionResult(status, rounds, audit)


def _members_by_cell(relations: list[Relation]) -> dict[int, list[Relation]]:
    by_cell: dict[int, list[Relation]] = {}
    for rel in relations:
        for m in (rel.total, *rel.parts):
            by_cell.setdefault(m, []).append(rel)
    return by_cell


def _nearest_published(cell: int, members: dict[int, list[Relation]], withheld: np.ndarray,
                       withholdable: np.ndarray) -> np.ndarray:
    """The published cells that may be withheld nearest to `cell`, through equations
    that go over withheld cells."""
    seen, layer = {cell}, [cell]
    while layer:
        nxt, published = [], set()
        for c in layer:
            for rel in members.get(c, ()):
                for m in (rel.total, *rel.parts):
                    if m in seen:
                        continue
                    seen.add(m)
                    if withheld[m]:
                        nxt.append(m)
                    elif withholdable[m]:
                        published.add(m)
        if published:
            return np.array(sorted(published))
        layer = nxt
    raise ProtectionFailed(f"cell {cell} cannot be protected: everything around it is withheld")


def information_loss(values: np.ndarray, status: np.ndarray) -> tuple[int, float]:
    """(number, total) of secondary suppressions: what the method costs the user."""
    sec = status == SECONDARY
    return int(sec.sum()), float(np.asarray(values)[sec].sum())


__all__ = ["FREE", "PRIMARY", "SECONDARY", "ProtectionFailed", "SuppressionResult", "suppress",
           "primary", "information_loss"]
