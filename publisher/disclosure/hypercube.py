"""Hypercubes: the shifts that leave every published relation unchanged.

Around an unsafe cell p, pick one other code in each dimension where p is broken down:

* a sibling in a relation where p is a part (sign -1: when p rises, it falls);
* the total of that relation (sign +1: it rises with p);
* where p is itself a total, one of its parts (sign +1).

The 2^k cells with p's code or the chosen one in each dimension form a hypercube;
adding +d to the corners of sign +1 and -d to those of sign -1 keeps every relation
along those dimensions true, because each line of the hypercube touches one relation in
two places with the right relative sign. If all corners are withheld, an attacker cannot
tell the true table from the shifted one, so p's interval reaches at least as far as the
corners allow: a candidate suppression pattern and, once withheld, a certificate of
protection. Each candidate is checked against *all* relations (multi-level hierarchies,
time, linked tables) before it is offered, so a chosen one always certifies.

tau-Argus's GHMITER picks one hypercube per cell greedily; here the candidates go into
one MILP (publisher.disclosure.suppression) that shares corners between unsafe cells.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from publisher.disclosure.policy import Policy
from publisher.disclosure.relations import Relation


@dataclass(frozen=True)
class Hypercube:
    cell: int  # the unsafe cell it protects
    corners: tuple[int, ...]  # including `cell`
    signs: tuple[int, ...]  # +1 / -1 per corner, +1 for `cell`
    up: float  # how far `cell` can rise
    down: float  # how far it can fall
    cost: float  # of the corners that are not unsafe themselves


def index_relations(relations: list[Relation], coords: list[tuple]) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Per (dimension, cell): the (other cell, sign) options in the relations along that
    dimension that hold the cell. The dimension of a relation is the one position where
    its total's and parts' coordinates differ; relations between tables (linked cells)
    have none and are left to the certificate check and the audit."""
    options: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for rel in relations:
        t = coords[rel.total]
        p0 = coords[rel.parts[0]]
        diff = [i for i in range(len(t)) if t[i] != p0[i]]
        if len(diff) != 1:
            continue
        d = diff[0]
        options.setdefault((d, rel.total), []).extend((p, +1) for p in rel.parts)
        for p in rel.parts:
            opts = options.setdefault((d, p), [])
            opts.append((rel.total, +1))
            opts.extend((q, -1) for q in rel.parts if q != p)
    return options


def candidates(cell: int, values: np.ndarray, coords: list[tuple], lookup: dict, options: dict,
               policy: Policy, cost: np.ndarray, matrix, *, per_dim: int = 5, keep: int = 12,
               within: np.ndarray | None = None) -> list[Hypercube]:
    """The cheapest hypercubes that would protect `cell`, cheapest first. `matrix` (CSC,
    all relations of the component) rejects shifts that some relation would see.
    `within` (a mask): only hypercubes whose corners are all in it."""
    ndim = len(coords[cell])
    lower = policy.attacker_lower
    need = policy.upward_room(values[cell])
    base = coords[cell]
    ranked = {}
    for d in range(ndim):
        opts = []
        for other, sign in options.get((d, cell), ()):
            # A corner that falls as the cell rises must have room for the whole rise.
            if sign < 0 and values[other] - lower < need:
                continue
            if within is not None and not within[other]:
                continue
            opts.append((cost[other], coords[other][d], sign))
        if opts:
            ranked[d] = sorted(set(opts))[:per_dim]
    used = list(ranked)
    if not used:
        return []
    found = []
    for choice in itertools.product(*(ranked[d] for d in used)):
        corners, signs = [], []
        for subset in itertools.product((0, 1), repeat=len(used)):
            c = list(base)
            sign = 1
            for flag, d, (_, code, s) in zip(subset, used, choice):
                if flag:
                    c[d] = code
                    sign *= s
            m = lookup.get(tuple(c))
            if m is None or (within is not None and not within[m]):  # a known zero cannot move
                break
            corners.append(m)
            signs.append(sign)
        else:
            corners_a, signs_a = np.array(corners), np.array(signs)
            others = corners_a != cell
            room = values[corners_a] - lower
            falling = signs_a < 0
            rising = (signs_a > 0) & others
            up = float(room[falling].min()) if falling.any() else float("inf")
            down = float(min(values[cell] - lower, room[rising].min() if rising.any() else float("inf")))
            if not policy.protected(values[cell], values[cell] - down, values[cell] + up):
                continue
            h = Hypercube(cell, tuple(corners), tuple(signs), up, down, float(cost[corners_a[others]].sum()))
            if invisible(h, matrix):
                found.append(h)
    found.sort(key=lambda h: h.cost)
    return found[:keep]


def invisible(h: Hypercube, matrix) -> bool:
    """Whether the hypercube's shift leaves every relation unchanged (`matrix` in CSC:
    only the corners' columns are read)."""
    change: dict[int, float] = {}
    for corner, sign in zip(h.corners, h.signs):
        lo, hi = matrix.indptr[corner], matrix.indptr[corner + 1]
        for r, v in zip(matrix.indices[lo:hi].tolist(), matrix.data[lo:hi].tolist()):
            change[r] = change.get(r, 0.0) + sign * v
    return all(abs(v) < 1e-9 for v in change.values())


def certifies(h: Hypercube, matrix, withheld: np.ndarray) -> bool:
    """Whether the hypercube proves its cell's protection: every corner withheld and
    the shift invisible to every relation."""
    return bool(withheld[list(h.corners)].all()) and invisible(h, matrix)


def certificates(unsafe, values: np.ndarray, coords: list[tuple], lookup: dict, options: dict, policy: Policy,
                 cost: np.ndarray, matrix, withheld: np.ndarray,
                 pool: dict[int, list[Hypercube]] | None = None) -> dict[int, Hypercube]:
    """For each unsafe cell that has one, a hypercube of withheld cells that proves its
    protection (from `pool` first, else searched among the withheld cells)."""
    out = {}
    for c in unsafe:
        c = int(c)
        h = next((h for h in (pool or {}).get(c, ()) if certifies(h, matrix, withheld)), None)
        if h is None:
            h = next(iter(candidates(c, values, coords, lookup, options, policy, cost, matrix,
                                     keep=1, within=withheld)), None)
        if h is not None:
            out[c] = h
    return out
