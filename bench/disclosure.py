"""Secondary suppression: ours against tau-Argus (pytauargus) on the same tables.

For each table (bench/tables.py: negative-binomial counts with all margins) both tools
protect the counts 1-2 (threshold 3); printed: secondary suppressions (number and total
value: the information lost), seconds to protect, seconds to audit, cells the audit
finds exposed, and ours/tau-Argus ratios. Every pattern is audited as `publish` audits a
release (attacker LPs, integer models where the LP is borderline): ours by the rule it
was protected under, tau-Argus's by its own, weaker, requirement ([v-1, v+1]).

The protection our default policy asks is stricter than tau-Argus's: every unsafe
count's interval must reach the threshold (3) and be 3 wide, knowing that a withheld
cell is at least 1 (zeros are published); tau-Argus asks [v-1, v+1] with cells >= 0.
So ours is run twice: with the default policy, and with tau-Argus's rule ("ours, tau
rule": Policy(rule="interval", margin=1), zeros may be withheld) for a like-for-like
comparison of information loss.

    pip install -e '.[bench]'   # pytauargus, pinned
    .venv/bin/python bench/disclosure.py [--tables 20x2x15,5x2x4x3] [--tau-limit 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tables import cube  # noqa: E402
from publisher.disclosure.audit import intervals  # noqa: E402
from publisher.disclosure.policy import Policy  # noqa: E402
from publisher.disclosure.relations import hierarchy_relations  # noqa: E402
from publisher.disclosure.suppression import PRIMARY, SECONDARY, suppress  # noqa: E402

DEFAULT = "5x2x4,20x2x15,5x2x4x3,60x2x18,200x2x18"


def ours(values, relations, coords, policy):
    t = time.perf_counter()
    result = suppress(values, relations, policy, coords=coords)
    seconds = time.perf_counter() - t
    return result.status, seconds


def audit(values, relations, status, policy):
    """The audit `publish` runs before a release: LP intervals, and the integer model
    wherever the LP's bound is fractional and borderline."""
    withheld = status != 0
    unsafe = np.flatnonzero(status == PRIMARY)
    t = time.perf_counter()
    found = intervals(values, relations, withheld, lower=policy.attacker_lower, cells=unsafe,
                      borderline=lambda c, low, high: policy.borderline(values[c], low, high))
    exposed = sum(not policy.protected(values[c], found[c].low, found[c].high) for c in unsafe)
    return exposed, time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", default=DEFAULT)
    parser.add_argument("--tau-limit", type=float, default=900.0)
    args = parser.parse_args()
    try:
        from bench import tauargus
    except ImportError:
        tauargus = None
    policy = Policy()
    print(f"{'table':>10} {'cells':>6} {'prim':>5} | {'method':>14} {'sec':>5} {'sec total':>9} "
          f"{'protect':>8} {'audit':>7} {'exposed':>7} | ratio n / total / protect time (ours : tau-Argus)")
    for spec in args.tables.split(","):
        sizes = [int(x) for x in spec.split("x")]
        cells, dims, children = cube(sizes)
        relations = hierarchy_relations(cells, dims, children)
        coords = [tuple(r) for r in cells[dims + ["TIME_PERIOD"]].itertuples(index=False)]
        values = cells["v"].to_numpy(float)
        rows = {}
        status, seconds = ours(values, relations, coords, policy)
        exposed, audit_s = audit(values, relations, status, policy)
        rows["ours"] = (status, seconds, audit_s, exposed)
        # Like for like: tau-Argus's protection ([v-1, v+1], attacker bound 0).
        tau_rule = Policy(rule="interval", margin=1, zeros_published=False)
        status, seconds = ours(values, relations, coords, tau_rule)
        exposed, audit_s = audit(values, relations, status, tau_rule)
        rows["ours, tau rule"] = (status, seconds, audit_s, exposed)
        if tauargus is not None:
            try:
                t_status, t_seconds = tauargus.protect(cells, dims, "modular", threshold=3,
                                                       time_limit=args.tau_limit)
                t_exp, t_audit = audit(values, relations, t_status, tau_rule)
                rows["tau-Argus MOD"] = (t_status, t_seconds, t_audit, t_exp)
            except TimeoutError:
                rows["tau-Argus MOD"] = None
        base = rows.get("tau-Argus MOD")
        for name, row in rows.items():
            if row is None:
                print(f"{spec:>10} {len(cells):>6} {'':>5} | {name:>14}  did not finish in {args.tau_limit:g} s")
                continue
            status, seconds, audit_s, exposed = row
            sec = status == SECONDARY
            n, total = int(sec.sum()), float(values[sec].sum())
            ratio = ""
            if name.startswith("ours") and base is not None:
                b_sec = base[0] == SECONDARY
                ratio = (f"{n / max(b_sec.sum(), 1):.2f} / {total / max(values[b_sec].sum(), 1):.2f} / "
                         f"{seconds / base[1]:.2f}")
            print(f"{spec:>10} {len(cells):>6} {int((status == PRIMARY).sum()):>5} | {name:>14} {n:>5} "
                  f"{total:>9.0f} {seconds:>8.2f} {audit_s:>7.2f} {exposed:>7} | {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
