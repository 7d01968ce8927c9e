"""The linear relations between published cells that an attacker can exploit.

A relation is ``x[total] = sum(x[parts])``, over positions in a table of cells. They
come from the codelist hierarchies (``_T`` = F + M + _U; a region = its rayons), from
time (a year = its quarters = its months, when the measure is a flow), and from cells
that several tables share (linked tables, earlier vintages): those are the same
variable, which the caller expresses by giving them the same cell id.

A relation exists only where the table actually breaks the total down: the total cell
and at least one of its parts are published. Parts that are not published are then
known zeros (extracts omit empty cells), which is what the attacker assumes too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from store import periods


@dataclass(frozen=True)
class Relation:
    total: int
    parts: tuple[int, ...]


def hierarchy_relations(cells: pd.DataFrame, dims: list[str], children: dict[str, dict[str, list[str]]],
                        time: str = "TIME_PERIOD") -> list[Relation]:
    """Relations along each dimension's hierarchy; `cells` has one row per cell (its
    position is the cell's index), a column per dimension and the period column."""
    out: list[Relation] = []
    pos = pd.Series(np.arange(len(cells)), index=cells.index)
    for dim in dims:
        others = [d for d in dims if d != dim] + [time]
        other_key = _group_ids(cells, others)
        for parent, kids in children.get(dim, {}).items():
            is_total = cells[dim] == parent
            is_part = cells[dim].isin(kids)
            if not is_total.any() or not is_part.any():
                continue
            totals = dict(zip(other_key[is_total], pos[is_total]))
            groups = pd.Series(pos[is_part].values, index=other_key[is_part].values).groupby(level=0)
            for k, members in groups:
                if k in totals:
                    out.append(Relation(int(totals[k]), tuple(int(m) for m in members.values)))
    return out


def _group_ids(cells: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One integer per distinct combination of `columns` (a vectorised row key)."""
    return cells.groupby(columns, sort=False, dropna=False).ngroup()


def time_relations(cells: pd.DataFrame, dims: list[str], freq_dim: str | None = "FREQ",
                   time: str = "TIME_PERIOD") -> list[Relation]:
    """A year = the sum of its quarters, and = the sum of its months; a quarter = its
    months. Only for flows (counts over a period), never for stocks."""
    if freq_dim not in cells.columns:
        return []
    others = [d for d in dims if d != freq_dim]
    bounds = cells[time].map(periods.bounds)
    start = bounds.map(lambda b: b[0])
    end = bounds.map(lambda b: b[1])
    key = _group_ids(cells, others) if others else pd.Series(0, index=cells.index)
    pos = pd.Series(np.arange(len(cells)), index=cells.index)
    out: list[Relation] = []
    for coarse, fine in (("A", "Q"), ("A", "M"), ("Q", "M")):
        c_mask, f_mask = cells[freq_dim] == coarse, cells[freq_dim] == fine
        if not c_mask.any() or not f_mask.any():
            continue
        fine_index: dict[str, list[tuple]] = {}
        for k, s, e, p in zip(key[f_mask], start[f_mask], end[f_mask], pos[f_mask]):
            fine_index.setdefault(k, []).append((s, e, p))
        for k, s, e, p in zip(key[c_mask], start[c_mask], end[c_mask], pos[c_mask]):
            parts = [fp for fs, fe, fp in fine_index.get(k, []) if fs >= s and fe <= e]
            if parts:
                out.append(Relation(int(p), tuple(int(x) for x in parts)))
    return out


def to_matrix(relations: list[Relation], n_cells: int):
    """Sparse matrix A (one row per relation) with A x = 0 for consistent x."""
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for r, rel in enumerate(relations):
        rows.append(r)
        cols.append(rel.total)
        vals.append(1.0)
        for p in rel.parts:
            rows.append(r)
            cols.append(p)
            vals.append(-1.0)
    return csr_matrix((vals, (rows, cols)), shape=(len(relations), n_cells))
