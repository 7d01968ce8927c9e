"""Derived dataflows: figures computed from another dataflow's published counts.

A balance such as net migration (arrivals minus departures) is published unprotected
(method ``none``) on the ground that it is computed from published figures. That ground
is checked here, not taken on trust: the dataflow declares how it is derived,

    disclosure:
      method: none
      derived:
        from: DF_MIGR_PERM               # the source dataflow
        terms: {FLOW: {ARR: 1, DEP: -1}} # value = sum of coefficient x source cell

and each value it publishes is judged by what the source publishes of its terms: the
source cell at the derived cell's codes for the dimensions both share, at each term's
code for the term's dimension, and at the total for every other dimension.

* every term published: the value must be exactly their combination (else the claim
  that it is computed from published figures is false);
* a term withheld: refused; with the other terms the value would give it away;
* some terms published, others not in the public area: refused; the value would give
  the missing ones away;
* no term in the public area (the source not published, or a breakdown it does not
  publish, say a region): a combination of numbers nobody publishes, which pins none
  of them down; accepted.

A refused value is reported as an exposed cell, and the release is refused.
"""

from __future__ import annotations

import math

import pandas as pd

from publisher.content import total_code

TIME = "TIME_PERIOD"


def check_declaration(flow, flows_by_id: dict) -> list[str]:
    """What is wrong with `flow`'s declaration (content check), as messages."""
    spec = flow.document["disclosure"].get("derived")
    if not spec:
        return []
    where = f"{flow.document['id']}: disclosure.derived"
    if set(spec) != {"from", "terms"} or not isinstance(spec.get("terms"), dict) or len(spec["terms"]) != 1:
        return [f"{where}: give 'from' (a dataflow) and 'terms' (one dimension: code -> coefficient)"]
    source = flows_by_id.get(spec["from"])
    if source is None:
        return [f"{where}: no dataflow {spec['from']}"]
    if source.document["disclosure"]["method"] == "none":
        return [f"{where}: {spec['from']} is itself unprotected: derive from a protected dataflow"]
    (dim, coefs), = spec["terms"].items()
    if dim not in source.dimension_ids or dim in flow.dimension_ids:
        return [f"{where}: {dim} must be a dimension of {spec['from']} and not of {flow.document['id']}"]
    codes = {c["id"] for c in source.codelists[dim]["codes"]}
    bad = [c for c in coefs if c not in codes]
    if bad or not all(isinstance(v, (int, float)) for v in coefs.values()):
        return [f"{where}: terms must map codes of {source.codelists[dim]['id']} to numbers ({bad})"]
    return []


def findings(flows, public: dict[str, pd.DataFrame]) -> list:
    """One unsafe Finding per published derived value refused by the rules above.
    `public` as for protect.audit_all."""
    from publisher.disclosure.protect import Finding  # protect imports this module

    by_id = {f.document["id"]: f for f in flows}
    out = []
    for flow in flows:
        spec = flow.document["disclosure"].get("derived")
        derived = public.get(flow.document["id"])
        if not spec or derived is None or derived.empty:
            continue
        source = by_id[spec["from"]]
        (term_dim, coefs), = spec["terms"].items()
        source_cells = _source_values(public.get(spec["from"]))
        dims = flow.dimension_ids
        shown = derived[derived["public_value"].notna()]  # a withheld value tells nothing
        for key, period, value in shown[["series_key", "time_period", "public_value"]].itertuples(index=False):
            codes = dict(zip(dims, key.split(".")))
            terms = _source_keys(flow, source, codes, term_dim, coefs)
            got = [source_cells.get((k, period), ABSENT) for k, _ in terms]
            if all(v is ABSENT for v in got):
                continue  # a combination of numbers nobody publishes (or of none)
            if any(v is ABSENT or math.isnan(v) for v in got) or \
                    abs(sum(c * v for (_, c), v in zip(terms, got)) - value) > 1e-9:
                out.append(Finding(f"{flow.document['id']} (derived from {spec['from']})",
                                   {**codes, TIME: period}, float(value), float(value), float(value), False))
    return out


def _source_keys(flow, source, codes: dict, term_dim: str, coefs: dict) -> list[tuple[str, float]]:
    """The source series keys (and coefficients) a derived cell is the combination of;
    none when the cell is a breakdown the source lacks (a dimension of its own at a code
    other than the total): then no term is public."""
    if any(d not in source.dimension_ids and c != total_code(flow.codelists[d]) for d, c in codes.items()):
        return []
    return [(".".join(code if d == term_dim else codes.get(d, total_code(source.codelists[d]))
                      for d in source.dimension_ids), float(coef))
            for code, coef in coefs.items()]


#: A term the source's public area does not hold at all.
ABSENT = object()


def _source_values(df: pd.DataFrame | None) -> dict[tuple[str, str], float]:
    """The source's public cells: value, or NaN where withheld."""
    if df is None or df.empty:
        return {}
    return dict(zip(zip(df["series_key"], df["time_period"]), df["public_value"].astype(float)))
