"""tau-Argus as a baseline: protect a frequency table with pytauargus, read back the pattern.

How tau-Argus is driven. pytauargus (0.6) is a headless port of tau-Argus: the C++
libtauargus core and the HiTaS/CSP suppression code, with HiGHS in place of CPLEX/XPRESS.
Its DataFrame entry point (`pytauargus.protect`) wants microdata and a numeric response,
so we use its other entry point, the legacy batch (.arb) interpreter, with *tabular*
input instead of expanding counts to one record per person:

* `table.tab`: the leaf cells only, `code;...;code;v;v`: the count `v` is both the
  response (<NUMERIC>) and the contributor frequency (<FREQUENCY>) of the cell;
  `<READTABLE> 1` makes tau-Argus compute every margin itself (total code "_T").
* `<SAFETYRULE> FREQ(threshold,10)`: a cell is primary unsafe when 0 < freq < threshold.
  Cells with count 0 are *empty* for tau-Argus: never primary, and never used as
  secondary suppressions either. The protection level of an unsafe cell is
  max(1, 10% of its value) on both sides (tau-Argus rounds it up to 1): i.e. [v-1, v+1]
  for counts 1..9; any range <= 50% gives the same for threshold 3.
* `<SUPPRESS> MOD(1,t)` (modular = HiTaS) or `OPT(1,t)` (optimal = one CSP model); the
  cost of a suppression is the cell's value (tau-Argus default), both without
  singleton options. On a table without hierarchies HiTaS has a single subtable, so
  MOD and OPT give the same pattern. The hypercube method (GHMITER) is a separate
  Fortran executable that pytauargus does not ship ("GH/NET/CTA require external
  executables"): it is not available here.
* `<WRITETABLE> (1,5,SO+,...)`: one line per cell (codes; value; freq; cost; status;
  lower; upper), status S safe, U primary, M secondary, E empty.

The batch runs in a child process (`python -m pytauargus.cli run`), so its wall clock
(process start and pytauargus import included, ~0.15 s) can be measured and the process
killed at the time limit. All files live in a temporary directory.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pytauargus.result import parse_simple_tab

TOTAL = "_T"
METHODS = {"modular": "MOD", "optimal": "OPT"}
STATUS = {"U": 1, "M": 2}  # S (safe), E (empty), P (protected) -> 0 (published)


def protect(cells: pd.DataFrame, dims: list[str], method: str = "modular", threshold: int = 3,
            time_limit: float = 300) -> tuple[np.ndarray, float]:
    """Run tau-Argus on the table; return (status per row of `cells`: 0 published, 1 primary, 2 secondary), seconds)."""
    if method not in METHODS:
        raise NotImplementedError(f"tau-Argus method {method!r} is not available in pytauargus "
                                  f"(have {sorted(METHODS)}; GHMITER is an external executable)")
    leaves = cells[(cells[dims] != TOTAL).all(axis=1)]
    minutes = math.ceil(time_limit / 60) + 1  # tau-Argus's own limit, beyond ours
    with tempfile.TemporaryDirectory(prefix="tauargus_") as tmp:
        d = Path(tmp)
        rows = leaves[dims].astype(str).assign(v=leaves.v, n=leaves.v)
        rows.to_csv(d / "table.tab", sep=";", header=False, index=False)
        (d / "table.rda").write_text('<SEPARATOR> ";"\n' + "".join(
            f'{x}\n  <RECODEABLE>\n  <TOTCODE> "{TOTAL}"\n' for x in dims) + "v\n  <NUMERIC>\nn\n  <FREQUENCY>\n")
        (d / "batch.arb").write_text(
            '<OPENTABLEDATA> "table.tab"\n<OPENMETADATA> "table.rda"\n'
            '<SPECIFYTABLE> "' + '""'.join(dims) + '"|"v"\n'
            f"<SAFETYRULE> FREQ({threshold},10)\n<READTABLE> 1\n"
            f"<SUPPRESS> {METHODS[method]}(1,{minutes})\n"
            '<WRITETABLE> (1,5,SO+,"out.tab")\n')
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pytauargus.cli", "run", "batch.arb"], cwd=d,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TimeoutError(f"tau-Argus {method} did not finish within {time_limit} s") from None
        seconds = time.perf_counter() - start
        if proc.returncode != 0 or not (d / "out.tab").exists():
            raise RuntimeError(f"tau-Argus failed ({proc.returncode}): {err.strip()}")
        out = {tuple(r[x] for x in dims): r for r in parse_simple_tab(d / "out.tab", dims, "v")}

    keys = list(cells[dims].astype(str).itertuples(index=False, name=None))
    missing = [k for k in keys if k not in out]
    if missing:
        raise RuntimeError(f"{len(missing)} cells not in tau-Argus's output, e.g. {missing[0]}")
    if not np.array_equal([out[k]["v"] for k in keys], cells.v.to_numpy(dtype=float)):
        raise RuntimeError("tau-Argus's cell values differ from cells.v")
    status = np.array([STATUS.get(out[k]["status"], 0) for k in keys], dtype=np.int8)
    expected = ((cells.v > 0) & (cells.v < threshold)).to_numpy()
    if not np.array_equal(status == 1, expected):
        raise RuntimeError(f"tau-Argus's primary cells differ from 0 < v < {threshold}: "
                           f"{int((status == 1).sum())} vs {int(expected.sum())}")
    return status, seconds


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.tables import cube

    for sizes in ([5, 2, 4], [20, 2, 15]):
        cells, dims, _ = cube(sizes, seed=0)
        for method in ("modular", "optimal", "hypercube"):
            try:
                st, sec = protect(cells, dims, method)
            except NotImplementedError as e:
                print(f"{sizes} {method}: {e}")
                continue
            print(f"{sizes} {method}: {len(cells)} cells, {(st == 1).sum()} primary, {(st == 2).sum()} "
                  f"secondary (value {cells.v[st == 2].sum()}), {sec:.2f} s")
