"""Benders cuts for secondary suppression: the attacker's own proof, turned into a constraint.

Fischetti and Salazar's model of cell suppression (the one tau-Argus's optimal method
solves): choose the withheld cells x so that, for every unsafe cell p, the attacker's
LP (max or min of p, given everything published) reaches p's protection level. By LP
duality, the attacker's maximum of p's deviation is

    min over row multipliers y of  sum_j  x_j * (r_j > 0 ? +inf : -r_j * room_j),
    r = d e_p + A^T y,  room_j = value_j - lower  (how far cell j can fall)

so any y (in particular the optimal duals of the attacker's LP for the current pattern)
gives a constraint that every protecting pattern satisfies:

    sum_j  c_j x_j >= need,  c_j = need if r_j > 0, else min(-r_j * room_j, need)

(capping a coefficient at the right-hand side keeps it valid for 0/1 variables). When
the current pattern leaves p short, its own duals give a cut it violates; the master MILP
is solved again with it. A relation alone (y = one row) gives the classical capacity
constraint; the LP duals give the combinations of relations, over hierarchies, time and
linked tables, that the attacker actually used.

Written here because no library does cell suppression with HiGHS: sdcTable (R) and
tau-Argus (C++, via pytauargus) are tools, not functions over our relations.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np

from publisher.disclosure.audit import ComponentLP, Interval, attacker_system
from publisher.disclosure.policy import Policy
from publisher.disclosure.relations import Relation

EPS = 1e-7


@dataclass
class Cut:
    """sum(coefs * x[cells]) >= rhs, for the unsafe cell `cell`."""

    cell: int
    cells: np.ndarray
    coefs: np.ndarray
    rhs: float

    def holds(self, withheld: np.ndarray) -> bool:
        return float(self.coefs[withheld[self.cells]].sum()) >= self.rhs - 1e-6


def room(cell: int, direction: int, duals: np.ndarray, rows: np.ndarray, transposed, values: np.ndarray,
         lower: float) -> np.ndarray:
    """Per cell, what withholding it adds to the attacker's bound on `cell` moving in
    `direction` (+1 up), by the LP's row duals `duals` on relations `rows` (of the
    relations behind `transposed`, A^T in CSR); inf where it would undo the bound."""
    y = np.zeros(transposed.shape[1])
    y[rows] = duals
    r = transposed @ y
    r[cell] += direction  # the cell's own term stays: falling to `lower` is its own room
    return np.where(r > EPS, np.inf, np.maximum(-r, 0.0) * np.maximum(values - lower, 0.0))


def cut(cell: int, raw: np.ndarray, need: float) -> Cut:
    coefs = np.minimum(raw, need)
    nz = np.flatnonzero(coefs > 1e-9)
    return Cut(cell, nz, coefs[nz], float(need))


def requirements(policy: Policy, value: float, up, down, high: float, low: float) -> list[tuple]:
    """(room per cell, need, what the attacker allows) for each constraint a cell's
    protection puts on its two bounds, `high` and `low` being how far it can move up and
    down, `up` and `down` their rooms (`up` None when unbounded). Only what every
    protecting pattern satisfies (else the MILP could be made infeasible): for
    tau-Argus's rule, room of `margin` each way; for ours, a bound above that reaches the
    threshold, and an interval `width` wide (the sum of the two bounds, hence of the
    two rooms)."""
    if policy.rule == "interval":
        return [(up, policy.margin, high), (down, policy.margin, low)]
    return [(up, policy.threshold - value, high),
            (None if up is None else up + down, policy.width, high + low)]


def separate(values: np.ndarray, relations: list[Relation], transposed, withheld: np.ndarray,
             unsafe: list[int], policy: Policy) -> tuple[dict[int, Interval], list[Cut]]:
    """LP intervals of the `unsafe` cells under the pattern `withheld`, and a cut for each
    direction in which a cell is short of its protection. An interval is `exact` when
    both LP optima are integral points (the integer bounds are then the same)."""
    lower = policy.attacker_lower
    system = attacker_system(values, relations, withheld)
    wanted = {int(c) for c in unsafe}
    out: dict[int, Interval] = {}
    cuts: list[Cut] = []
    for cols, rows in system.components:
        cells = [int(system.unknowns[c]) for c in cols]
        if not wanted.intersection(cells):
            continue
        lp = ComponentLP(system.matrix[rows][:, cols], system.rhs[rows], lower) if len(rows) else None
        local = {c: i for i, c in enumerate(cells)}
        for cell in cells:
            if cell not in wanted:
                continue
            v = values[cell]
            if lp is None:  # in no equation
                out[cell] = Interval(cell, lower, math.inf)
                continue
            high, high_int, high_y = lp.solve(local[cell], -1)
            low, low_int, low_y = lp.solve(local[cell], +1)
            low_r = math.ceil(low - 1e-6)
            high_r = math.floor(high + 1e-6) if math.isfinite(high) else math.inf
            out[cell] = Interval(cell, low_r, high_r, exact=high_int and low_int)
            if policy.protected(v, low_r, high_r):
                continue
            rel_rows = system.relations[rows]
            up = room(cell, +1, high_y, rel_rows, transposed, values, lower) if high_y is not None else None
            down = room(cell, -1, low_y, rel_rows, transposed, values, lower)
            for raw, need, have in requirements(policy, v, up, down, high_r - v, v - low_r):
                if raw is not None and have < need:
                    c = cut(cell, raw, need)
                    if not c.holds(withheld):
                        cuts.append(c)
    return out, cuts


def _cap(policy: Policy) -> float:
    """How far any cell may rise in the relaxation's attacker LP: as far as the largest
    protection asked (a rise beyond it adds nothing to a cut capped at that need)."""
    return float(policy.margin if policy.rule == "interval" else max(policy.threshold, policy.width))


def scaled_cuts(values: np.ndarray, by_col, transposed, x: np.ndarray, unsafe, policy: Policy,
                evaluate: np.ndarray) -> list[Cut]:
    """The attacker where each cell is withheld to the degree x_j (it may fall by
    x_j * room_j and rise by x_j * cap), for each of the `unsafe` cells; the dual's cut
    wherever the bound falls short, kept if `evaluate` (a pattern) violates it.

    `by_col`: the relations as CSC over all cells; `transposed`: the same as A^T in CSR."""
    lower = policy.attacker_lower
    cap = _cap(policy)
    fall = np.maximum(values - lower, 0.0)
    support = np.flatnonzero(x > 1e-9)
    sub = by_col[:, support].tocsr()
    rows = np.flatnonzero(np.diff(sub.indptr) > 0)
    csc = sub[rows].tocsc()
    pos = {int(c): i for i, c in enumerate(support)}
    attacker = highspy.Highs()
    attacker.setOptionValue("output_flag", False)
    attacker.setOptionValue("presolve", "off")
    a = highspy.HighsLp()
    a.num_col_, a.num_row_ = len(support), len(rows)
    a.col_cost_ = np.zeros(len(support))
    a.col_lower_ = -fall[support] * x[support]
    a.col_upper_ = cap * x[support]
    a.row_lower_ = a.row_upper_ = np.zeros(len(rows))
    a.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    a.a_matrix_.start_ = csc.indptr
    a.a_matrix_.index_ = csc.indices
    a.a_matrix_.value_ = csc.data.astype(float)
    attacker.passModel(a)
    out: list[Cut] = []
    for p in np.asarray(unsafe).tolist():
        ends = {}
        for direction in (+1, -1):
            attacker.changeColCost(pos[p], -float(direction))
            attacker.run()
            moved = -attacker.getInfo().objective_function_value  # how far p moves that way
            y = np.zeros(by_col.shape[0])
            y[rows] = np.asarray(attacker.getSolution().row_dual)
            attacker.changeColCost(pos[p], 0.0)
            r = transposed @ y
            r[p] += direction
            ends[direction] = (moved, np.maximum(r, 0.0) * cap + np.maximum(-r, 0.0) * fall)
        (high, up), (low, down) = ends[+1], ends[-1]
        for raw, need, have in requirements(policy, values[p], up, down, high, low):
            if raw is not None and have < need - 1e-6:
                c = cut(p, raw, need)
                if float(c.coefs @ evaluate[c.cells]) < need - 1e-6:
                    out.append(c)
    return out


def relaxation_cuts(values: np.ndarray, relations: list[Relation], matrix, cells: np.ndarray,
                    unsafe: np.ndarray, allowed: np.ndarray, cost: np.ndarray, policy: Policy, *,
                    deadline: float, active: np.ndarray | None = None, max_rounds: int = 50) -> list[Cut]:
    """Cuts from the LP relaxation, the way branch-and-cut codes start: solve the master
    as an LP (fractional withholding), separate with `scaled_cuts` at its solution, until
    the relaxation is protected (or the time is up). Cheap rounds that give the integer
    master most of the cuts it will need, instead of one pattern's worth at a time.

    `matrix`: the relations as CSR (rows) over all cells; `cells`: the component;
    `active`: the unsafe cells to separate first (default: all)."""
    transposed = matrix.T.tocsr()
    by_col = matrix.tocsc()
    local = {int(c): i for i, c in enumerate(cells)}
    primary = np.zeros(len(values), dtype=bool)
    primary[unsafe] = True
    master = highspy.Highs()
    master.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cells), 0
    lp.col_cost_ = np.where(primary[cells], 0.0, cost[cells])
    lp.col_lower_ = primary[cells].astype(float)
    lp.col_upper_ = np.where(primary[cells] | allowed[cells], 1.0, 0.0)
    master.passModel(lp)
    out: list[Cut] = []
    active = np.asarray(unsafe if active is None else active)
    for _ in range(max_rounds):
        if time.perf_counter() > deadline:
            break
        master.run()
        x = np.zeros(len(values))
        x[cells] = np.asarray(master.getSolution().col_value)
        # Only the cells cut last round: a cell satisfied once mostly stays so, and the
        # integer rounds that follow check every cell anyway.
        new = scaled_cuts(values, by_col, transposed, x, active, policy, x)
        if not new:
            break
        active = np.unique([c.cell for c in new])
        for c in new:
            idx = np.array([local[int(j)] for j in c.cells], dtype=np.int32)
            master.addRow(c.rhs, highspy.kHighsInf, len(idx), idx, c.coefs.astype(float))
        out += new
    return out
