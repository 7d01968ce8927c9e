"""Synthetic frequency tables with all their margins, the same for every method compared.

Counts are drawn from a negative binomial (many small cells, a long tail), as migration
tables by citizenship are: most countries send a handful of people, a few send many.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

TOTAL = "_T"


def cube(sizes: list[int], seed: int = 0, p: float = 0.15) -> tuple[pd.DataFrame, list[str], dict]:
    """Cells of a len(sizes)-dimensional table and all its margins.

    Returns (cells, dims, children): one row per cell (dimension columns D0.., ``v``,
    ``TIME_PERIOD``), leaves first; children = {dim: {"_T": [codes]}}."""
    rng = np.random.default_rng(seed)
    dims = [f"D{i}" for i in range(len(sizes))]
    codes = [[f"c{j:03d}" for j in range(s)] for s in sizes]
    leaves = pd.DataFrame(list(itertools.product(*codes)), columns=dims)
    leaves["v"] = rng.negative_binomial(1, p, len(leaves))
    frames = []
    for mask in itertools.product((0, 1), repeat=len(dims)):
        kept = [d for d, m in zip(dims, mask) if not m]
        agg = leaves.groupby(kept, as_index=False)["v"].sum() if kept else pd.DataFrame({"v": [leaves.v.sum()]})
        for d, m in zip(dims, mask):
            if m:
                agg[d] = TOTAL
        frames.append(agg[dims + ["v"]])
    cells = pd.concat(frames, ignore_index=True)
    cells["TIME_PERIOD"] = "2024"
    return cells, dims, {d: {TOTAL: c} for d, c in zip(dims, codes)}
