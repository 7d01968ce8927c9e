"""Derived dataflows: figures computed from another dataflow's published counts.

A balance such as net migration (arrivals minus departures) is published unprotected
(method ``none``) on the ground that it is computed from published figures. That ground
is checked here, not taken on trust: the dataflow declares how it is derived,

    disclosure:
      method: none
      derived:
        from: DF_MIGR_PERM               # the source dataflow
        terms: {FLOW: {ARR: 1, DEP: -1}} # value = sum of coefficient x source cell

and every value it publishes must equal that combination of cells the source
publishes: the source cell at the derived cell's codes for the dimensions both share,
at each term's code for the term's dimension, and at the total for every other
dimension. A derived cell whose terms are not all published (one is withheld, or not
in the source at all, say a region the source does not break down), or whose value is
not their combination, would tell the attacker something the audit of the source has not
seen: the release is refused, as for an exposed cell.
"""

from __future__ import annotations

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
    """One unsafe Finding per published derived value that is not the declared
    combination of published source values. `public` as for protect.audit_all."""
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
        published = _published(public.get(spec["from"]))
        dims = flow.dimension_ids
        shown = derived[derived["public_value"].notna()]  # a withheld value tells nothing
        for key, period, value in shown[["series_key", "time_period", "public_value"]].itertuples(index=False):
            codes = dict(zip(dims, key.split(".")))
            terms = _source_keys(flow, source, codes, term_dim, coefs) or []
            got = [published.get((k, period)) for k, _ in terms]
            if not terms or None in got or abs(sum(c * v for (_, c), v in zip(terms, got)) - value) > 1e-9:
                out.append(Finding(f"{flow.document['id']} (derived from {spec['from']})",
                                   {**codes, TIME: period}, float(value), float(value), float(value), False))
    return out


def _source_keys(flow, source, codes: dict, term_dim: str, coefs: dict) -> list[tuple[str, float]] | None:
    """The source series keys (and coefficients) a derived cell is the combination of;
    None when the source does not break down what the cell describes."""
    for dim, code in codes.items():
        if dim not in source.dimension_ids and code != total_code(flow.codelists[dim]):
            return None  # a breakdown the source does not publish
    out = []
    for code, coef in coefs.items():
        key = [code if d == term_dim else codes.get(d, total_code(source.codelists[d]))
               for d in source.dimension_ids]
        out.append((".".join(key), float(coef)))
    return out


def _published(df: pd.DataFrame | None) -> dict[tuple[str, str], float]:
    if df is None or df.empty:
        return {}
    shown = df[df["public_value"].notna()]
    return dict(zip(zip(shown["series_key"], shown["time_period"]), shown["public_value"].astype(float)))
