"""Rounding to a base: every published count, totals included, is rounded on its own.

Conventional (not controlled) rounding, as Eurostat does for asylum figures: to the
nearest multiple of `base`, halves up. Totals are rounded from their true values, not
summed from rounded parts, so a table may not add up; that is stated in the metadata.
"""

from __future__ import annotations

import numpy as np


def round_to_base(values: np.ndarray, base: int = 5) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return base * np.floor(values / base + 0.5)
