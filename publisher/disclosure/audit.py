"""The attacker's view: how well can each withheld cell be recomputed?

Everything published is a constant; every withheld cell is an unknown, at least
`lower` (1 when zeros are published as zeros, so a withheld cell is known not to be
empty; else 0). Each relation that involves an unknown is an equation. The system is
split into connected components (unknowns that share an equation), and for each
unknown HiGHS solves min and max (two LPs). LP bounds are rounded inwards (counts are
integers); where a cell is borderline, the integer model decides (integer bounds can be
tighter than the LP's in three or more dimensions).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import highspy
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from publisher.disclosure.relations import Relation, to_matrix


@dataclass
class Interval:
    cell: int
    low: float
    high: float  # math.inf when unbounded
    exact: bool = True  # False: LP bounds of a borderline cell, not checked by the integer model


@dataclass
class AttackerSystem:
    """A x_S = b over the withheld cells S, split into components."""

    unknowns: np.ndarray  # cell positions of the withheld cells
    matrix: csr_matrix  # rows: relations touching an unknown; columns: unknowns
    rhs: np.ndarray
    relations: np.ndarray  # per row: the position of its relation in the list given
    components: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (columns, rows)


def attacker_system(values: np.ndarray, relations: list[Relation], withheld: np.ndarray) -> AttackerSystem:
    n = len(values)
    a = to_matrix(relations, n).tocsc()
    unknowns = np.flatnonzero(withheld)
    known = np.flatnonzero(~withheld)
    a_s = a[:, unknowns].tocsr()
    rhs = -(a[:, known] @ values[known].astype(float))
    touching = np.flatnonzero(np.diff(a_s.indptr) > 0)
    a_s, rhs = a_s[touching], rhs[touching]
    system = AttackerSystem(unknowns, a_s, rhs, touching)
    if len(unknowns) == 0:
        return system
    # Unknowns are linked when they share an equation: components of A^T A.
    adjacency = (a_s.T @ a_s).tocsr()
    count, labels = connected_components(adjacency, directed=False)
    # Every equation belongs to the component of any unknown it involves.
    row_label = labels[a_s.indices[a_s.indptr[:-1]]] if a_s.shape[0] else np.array([], dtype=int)
    for c in range(count):
        cols = np.flatnonzero(labels == c)
        rows = np.flatnonzero(row_label == c)
        system.components.append((cols, rows))
    return system


VERTEX_TRIES = 6


def _integral_point(h: highspy.Highs, target: int, value: float, lower: float) -> bool:
    """Whether the LP in `h` (equalities, columns from `lower` up, no objective) has
    an integral basic solution with column `target` at `value`: several objectives
    (none, the least total, then random weights, seeded: the same answer every run)
    give different vertices. `h` is left as it was."""
    n = h.getNumCol()
    cols = np.arange(n, dtype=np.int32)
    h.changeColBounds(target, float(value), float(value))
    try:
        rng = np.random.default_rng(target)
        for k in range(VERTEX_TRIES):
            h.changeColsCost(n, cols, np.full(n, float(k)) if k < 2 else rng.random(n))
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return False
            x = np.asarray(h.getSolution().col_value)
            if np.all(np.abs(x - np.round(x)) < 1e-6):
                return True
        return False
    finally:
        h.changeColsCost(n, cols, np.zeros(n))
        h.changeColBounds(target, float(lower), highspy.kHighsInf)


class ComponentMILP:
    """One component's attacker problem with integer unknowns, for borderline cells.

    The LP bound rounded inwards is usually attained by some integer table: a
    feasibility question (is there an integer solution with the cell at that value?),
    which HiGHS answers much faster than it optimises. Asked first in a small
    neighbourhood of the cell (unknowns within two equations), every other unknown fixed
    at its true value: a solution there is a solution of the whole system (a
    restriction, not a relaxation), found in milliseconds. Measured on a 60x2x18 table:
    it settles about a fifth of the borderline cells; the others need the whole
    component. Only when neither finds one does it optimise."""

    def __init__(self, a: csr_matrix, b: np.ndarray, lower: float, truth: np.ndarray | None = None):
        self.a, self.b, self.lower, self.truth = a, b, float(lower), truth
        self.by_col = a.tocsc()
        self.lp: ComponentLP | None = None

    def _neighbourhood(self, target: int, hops: int) -> np.ndarray:
        cols = {target}
        frontier = [target]
        for _ in range(hops):
            rows = np.unique(np.concatenate([self.by_col.indices[self.by_col.indptr[c]:self.by_col.indptr[c + 1]]
                                             for c in frontier])) if frontier else []
            new = set(np.unique(np.concatenate([self.a.indices[self.a.indptr[r]:self.a.indptr[r + 1]]
                                                for r in rows])).tolist()) - cols if len(rows) else set()
            cols |= new
            frontier = list(new)
        return np.array(sorted(cols))

    def _local(self, target: int, lo: float, hi: float, hops: int) -> bool:
        """Is there an integer solution with the target in [lo, hi], changing only the
        unknowns within `hops` equations of it?"""
        near = self._neighbourhood(target, hops)
        if len(near) == self.a.shape[1]:
            return False  # the whole component: leave it to _solve
        fixed = np.ones(self.a.shape[1], dtype=bool)
        fixed[near] = False
        rows = np.unique(self.by_col[:, near].indices)
        sub = self.a[rows]
        rhs = self.b[rows] - sub[:, fixed] @ self.truth[fixed]
        local = int(np.searchsorted(near, target))
        lb, ub = np.full(len(near), self.lower), np.full(len(near), np.inf)
        lb[local], ub[local] = lo, hi
        res = milp(np.zeros(len(near)), constraints=[LinearConstraint(sub[:, near], rhs, rhs)],
                   integrality=np.ones(len(near)), bounds=Bounds(lb, ub), options={"time_limit": 10})
        return res.x is not None

    def _solve(self, target: int, lo: float, hi: float, cost: float) -> tuple[str, float]:
        n = self.a.shape[1]
        c = np.zeros(n)
        c[target] = cost
        lb, ub = np.full(n, self.lower), np.full(n, np.inf)
        lb[target], ub[target] = lo, hi
        res = milp(c, constraints=[LinearConstraint(self.a, self.b, self.b)], integrality=np.ones(n),
                   bounds=Bounds(lb, ub), options={"time_limit": 60})
        if res.x is None:
            msg = (res.message or "").lower()
            return ("unbounded" if "unbounded" in msg else "infeasible"), math.nan
        return "ok", float(res.x[target])

    def _vertex(self, target: int, value: float) -> bool:
        """Is there an integer solution with the target at `value`? Tried as an LP with
        the target fixed there, over the whole component: a basic solution that happens
        to be integral is one (on these tables nearly all are: measured on the
        200x2x18 benchmark table, 555 of 555 borderline cells settled this way, each a
        warm-started simplex instead of a branch and bound). (Tried and dropped: the
        same LP around the cell only, other unknowns at their true values: small
        neighbourhoods had no such point, large ones cost more than the whole.)"""
        if self.lp is None:
            self.lp = ComponentLP(self.a, self.b, self.lower)
        return _integral_point(self.lp.highs, target, value, self.lower)

    def bound(self, target: int, sense: int, lp_bound: float) -> float:
        """Integer min (sense=+1) or max (-1), given the LP's bound rounded inwards."""
        if math.isfinite(lp_bound):
            lo, hi = (self.lower, lp_bound) if sense > 0 else (lp_bound, np.inf)
            if self._vertex(target, lp_bound):
                return lp_bound
            if self.truth is not None and self._local(target, lo, hi, hops=2):
                return lp_bound
            if self._solve(target, lo, hi, 0.0)[0] == "ok":
                return lp_bound
        state, value = self._solve(target, self.lower, np.inf, float(sense))
        if state == "unbounded":
            return -sense * math.inf
        if state != "ok":
            raise RuntimeError("the attacker's integer problem has no solution")
        return value


class ComponentLP:
    """One component's attacker LP in HiGHS, solved for one unknown after another.

    Only the objective changes between solves, so HiGHS starts each from the previous
    optimal basis (a warm start): far cheaper than building every LP afresh."""

    def __init__(self, a: csr_matrix, b: np.ndarray, lower: float):
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        # The basis stays primal feasible when only the objective changes: primal simplex
        # from it, with no presolve (which would discard the basis), is the warm start.
        self.highs.setOptionValue("presolve", "off")
        self.highs.setOptionValue("simplex_strategy", 4)
        n = a.shape[1]
        csc = a.tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, a.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.full(n, float(lower))
        lp.col_upper_ = np.full(n, highspy.kHighsInf)
        lp.row_lower_ = lp.row_upper_ = np.asarray(b, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr
        lp.a_matrix_.index_ = csc.indices
        lp.a_matrix_.value_ = csc.data.astype(float)
        self.highs.passModel(lp)

    def bound(self, target: int, sense: int) -> tuple[float, bool]:
        """The LP min (sense=+1) or max (-1) of one unknown, and whether the optimal
        point is integral (then it is the integer bound too)."""
        value, integral, _ = self.solve(target, sense)
        return value, integral

    def solve(self, target: int, sense: int) -> tuple[float, bool, np.ndarray | None]:
        """`bound`, and the optimal row duals (None when unbounded): the attacker's
        certificate that the bound cannot be pushed further, from which secondary
        suppression builds a cut (publisher.disclosure.benders)."""
        h = self.highs
        h.changeColCost(target, float(sense))
        h.run()
        status = h.getModelStatus()
        value = sense * h.getInfo().objective_function_value  # read before the cost is reset
        solution = h.getSolution()
        h.changeColCost(target, 0.0)
        if status == highspy.HighsModelStatus.kUnbounded:
            return -sense * math.inf, True, None
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"the attacker's problem has no solution ({h.modelStatusToString(status)}): "
                               "the published table is inconsistent")
        x = np.asarray(solution.col_value)
        return value, bool(np.all(np.abs(x - np.round(x)) < 1e-6)), np.asarray(solution.row_dual)


def intervals(values: np.ndarray, relations: list[Relation], withheld: np.ndarray, *,
              lower: float = 0.0, cells: np.ndarray | None = None,
              borderline: callable | None = None, integer: bool | float = True) -> dict[int, Interval]:
    """Attacker intervals for withheld cells (all of them, or those in `cells`).

    `borderline(cell, low, high)` says whether to re-solve a cell with the integer
    model after rounding the LP bounds inwards; with `integer=False` such a cell is
    only marked (`exact=False`), for a caller that would rather protect it otherwise;
    a number is a budget in seconds for the integer models, after which cells are marked."""
    budget = math.inf if integer is True else float(integer or 0)
    spent = 0.0
    system = attacker_system(values, relations, withheld)
    wanted = set(system.unknowns.tolist() if cells is None else np.asarray(cells).tolist())
    out: dict[int, Interval] = {}
    for cols, rows in system.components:
        sub = system.matrix[rows][:, cols]
        b = system.rhs[rows]
        lp = ip = None
        for local, col in enumerate(cols):
            cell = int(system.unknowns[col])
            if cell not in wanted:
                continue
            if len(rows) == 0:  # in no equation: anything from `lower` up
                out[cell] = Interval(cell, lower, math.inf)
                continue
            if lp is None:
                lp = ComponentLP(sub, b, lower)
            low, low_integral = lp.bound(local, +1)
            high, high_integral = lp.bound(local, -1)
            low = math.ceil(low - 1e-6)
            high = math.floor(high + 1e-6) if math.isfinite(high) else math.inf
            # Integer bounds can be tighter than the LP's only where the LP's optimum is
            # fractional; only then, and only for a borderline cell, the integer model.
            if not (low_integral and high_integral) and borderline is not None and borderline(cell, low, high):
                if spent >= budget:
                    out[cell] = Interval(cell, low, high, exact=False)
                    continue
                started = time.perf_counter()
                ip = ip or ComponentMILP(sub, b, lower, values[system.unknowns[cols]].astype(float))
                if not low_integral:
                    low = math.ceil(ip.bound(local, +1, low) - 1e-6)
                if not high_integral:
                    h = ip.bound(local, -1, high)
                    high = math.floor(h + 1e-6) if math.isfinite(h) else math.inf
                spent += time.perf_counter() - started
            out[cell] = Interval(cell, low, high)
    return out
