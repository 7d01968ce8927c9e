"""The cell-key method (ABS TableBuilder, ONS): noise looked up by value and cell key.

Inside the agency every person record gets a secret random key in 0..KEY_RANGE-1; a
cell's key is the sum of its records' keys modulo KEY_RANGE, so the key of a total is
the sum of its parts' keys modulo KEY_RANGE and an aggregated extract only needs
(count, cell key) per cell. The noise for a cell is `table[min(count, rows-1), key]`:
the same cell always gets the same noise, whatever query asks for it, so averaging
repeated queries learns nothing.

The perturbation table is written here rather than taken from a library because the
one published package (ONS `cell-key-perturbation`) ships a table that ignores the key.
Each row is a distribution over noise -m..m with m = min(count, D): triangular (small
changes likelier), symmetric, so its mean is exactly zero, and never below -count, so
no count becomes negative; zeros stay zero. Probabilities are quantised to key counts
symmetrically, so the zero mean survives quantisation.
"""

from __future__ import annotations

import numpy as np

KEY_RANGE = 256


def perturbation_table(max_noise: int = 2, rows: int | None = None) -> np.ndarray:
    """int array (rows x KEY_RANGE): the noise for (count, key); rows beyond the last
    use the last."""
    d = int(max_noise)
    rows = rows or d + 2
    table = np.zeros((rows, KEY_RANGE), dtype=int)
    for count in range(1, rows):
        m = min(count, d)
        weights = np.array([m + 1 - abs(k) for k in range(1, m + 1)], dtype=float)  # |noise| = 1..m
        centre = m + 1.0
        total = centre + 2 * weights.sum()
        keys_each_side = np.floor(weights / total * KEY_RANGE).astype(int)
        centre_keys = KEY_RANGE - 2 * keys_each_side.sum()
        # Lay the row out as -m..-1, 0, 1..m over the key range (keys are uniform, so
        # the order does not matter for the distribution, only for reproducibility).
        row = []
        for k in range(m, 0, -1):
            row += [-k] * keys_each_side[k - 1]
        row += [0] * centre_keys
        for k in range(1, m + 1):
            row += [k] * keys_each_side[k - 1]
        table[count] = row
    return table


def perturb(values: np.ndarray, keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=int)
    keys = np.asarray(keys, dtype=int)
    rows = np.minimum(values, table.shape[0] - 1)
    return values + table[rows, keys % KEY_RANGE]
