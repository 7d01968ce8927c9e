"""The Eurostat crosswalk: released figures in Eurostat's dimensions, codes and flags.

``metadata/eurostat.yaml`` says, for each Eurostat dataset with an analogue here, which
dataflow feeds it, which slice of it, and how each of Eurostat's dimensions is made from
ours (a constant, or one of our dimensions with a code mapping). This module checks one
dataset's mapping against the content, reads the **public** area of the store only (the
current vintage, as the API serves it: true values never leave through this route),
maps and sums codes and periods, and writes

* SDMX-CSV 1.0 as Eurostat takes it (``DATAFLOW`` = ``ESTAT:MIGR_RESFIRST(1.0)``, the
  Eurostat dimensions, ``TIME_PERIOD``, ``OBS_VALUE``, ``OBS_FLAG``), and
* a matching SDMX-ML 2.1 structure message: dataflow, DSD, concept scheme and codelists
  (of the codes actually exported) under agency ESTAT, so a client can read the CSV.

A Eurostat code made of several of ours is their sum; it is withheld (no value, flag
``c``) if any part is. Parts absent from the store count as zero, as in an extract (empty
cells are left out); an aggregate none of whose parts was released is not exported.
Quarters and months of a flow are summed into years the same way, for complete years only.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sdmx
import yaml
from sqlalchemy import Connection, and_, func, or_, select

from publisher.content import ROOT, Content
from store.documents import LANGUAGES, ref, structure_message, urn_ref
from store.schema import (
    DIMENSION_COLUMNS,
    public_observation as o,
    public_release as rel,
    public_series as s,
    public_structure as st,
)

MAPPING_FILE = "metadata/eurostat.yaml"

#: Sub-periods in a year, for summing flows into years.
SUB_PERIODS = {"Q": 4, "M": 12}

#: Our OBS_STATUS for a withheld value (served with CONF_STATUS C).
WITHHELD = "Q"

KEEP = ("none", "leaves", "all")


class MappingError(Exception):
    """metadata/eurostat.yaml is wrong for a dataset; `problems` lists each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the Eurostat crosswalk cannot be used:\n  " + "\n  ".join(problems))


class NothingReleased(Exception):
    """The source dataflow has nothing in the public area to export."""


@dataclass(frozen=True)
class Dimension:
    """One Eurostat dimension: a constant code, or made from one of our dimensions."""

    id: str
    value: str | None = None  # the constant Eurostat code
    source: str | None = None  # our dimension
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # Eurostat code -> our codes
    names: dict[str, dict] = field(default_factory=dict)  # Eurostat code -> {lang: name}

    @property
    def codes(self) -> list[str]:
        return [self.value] if self.value is not None else list(self.parts)


@dataclass(frozen=True)
class Mapping:
    """One Eurostat dataset of metadata/eurostat.yaml, checked against the content."""

    dataset: str
    agency: str
    version: str
    name: dict
    source: dict  # our dataflow: {agency, id, version}
    source_frequency: str
    frequency: str
    slice: dict[str, tuple[str, ...]]
    dimensions: tuple[Dimension, ...]
    columns: dict[str, str]  # time, value, flag -> column / component id
    flags: tuple[tuple[str, str], ...]  # (our OBS_STATUS, Eurostat flag), by precedence
    flag_names: dict[str, dict]
    concepts: dict[str, dict]  # concept id -> {lang: name}

    @property
    def ref(self) -> str:
        return f"{self.agency}:{self.dataset}({self.version})"

    @property
    def source_ref(self) -> str:
        return urn_ref(self.source)

    @property
    def dimension_ids(self) -> list[str]:
        return [d.id for d in self.dimensions]

    @property
    def header(self) -> list[str]:
        c = self.columns
        return ["DATAFLOW", *self.dimension_ids, c["time"], c["value"], c["flag"]]


# --- the mapping file -------------------------------------------------------------------

def read_file(root: Path = ROOT) -> dict:
    path = Path(root) / MAPPING_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingError([f"{MAPPING_FILE}: cannot be read: {exc}"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), dict):
        raise MappingError([f"{MAPPING_FILE}: expected a mapping with `datasets`"])
    return data


def datasets(root: Path = ROOT) -> list[str]:
    return list(read_file(root)["datasets"])


def _name_problems(names) -> list[str]:
    """What is wrong with a {lang: name} of the file (every name needs az, en and ru)."""
    if not isinstance(names, dict):
        return [f"has no name (needs {', '.join(LANGUAGES)})"]
    out = [f"has a name in unknown language {lang!r} (a comma in an unquoted name?)"
           for lang in names if lang not in LANGUAGES]
    out += [f"has no name in {lang!r}" for lang in LANGUAGES
            if not isinstance(names.get(lang), str) or not names[lang].strip()]
    return out


def _as_codes(value) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _ancestors(codelist: dict) -> dict[str, set[str]]:
    parent = {c["id"]: c.get("parent") for c in codelist["codes"]}
    out = {}
    for cid in parent:
        seen, up = set(), parent[cid]
        while up is not None and up not in seen:
            seen.add(up)
            up = parent.get(up)
        out[cid] = seen
    return out


def _parts(spec: dict, codelist: dict, where: str, problems: list[str]) -> dict[str, tuple[str, ...]]:
    """Eurostat code -> our codes: those `map` lists and those whose `annotation` names it;
    with `keep`, a code that feeds nothing else feeds the Eurostat code of its own id."""
    ids = [c["id"] for c in codelist["codes"]]
    parts: dict[str, list[str]] = {}

    def add(target: str, code: str) -> None:
        if code not in parts.setdefault(target, []):
            parts[target].append(code)

    for target, sources in (spec.get("map") or {}).items():
        for code in _as_codes(sources):
            if code not in ids:
                problems.append(f"{where}: {target} maps from {code!r}, which is not in {codelist['id']}")
            add(str(target), code)
    annotation = str(spec.get("annotation") or "").upper()
    keep = spec.get("keep", "none")
    if keep not in KEEP:
        problems.append(f"{where}: keep must be one of {', '.join(KEEP)}, not {keep!r}")
    has_children = {c.get("parent") for c in codelist["codes"]}
    for code in codelist["codes"]:
        cid = code["id"]
        target = (code.get("annotations") or {}).get(annotation) if annotation else None
        if target is not None:
            add(target, cid)
        elif keep == "all" or (keep == "leaves" and cid not in has_children):
            if not any(cid in srcs for srcs in parts.values()):
                add(cid, cid)
    # A code and one of its descendants in one sum would count people twice.
    up = _ancestors(codelist)
    for target, sources in parts.items():
        nested = sorted({a for c in sources for a in up.get(c, ()) if a in sources})
        if nested:
            problems.append(f"{where}: {target} sums {', '.join(sources)}, but {', '.join(nested)} "
                            "already includes some of the others")
    # Eurostat codes in the order of our codelist (EL where Greece is), sums by their first part.
    position = {cid: i for i, cid in enumerate(ids)}
    ordered = sorted(parts, key=lambda t: min(position.get(c, len(ids)) for c in parts[t]))
    return {t: tuple(parts[t]) for t in ordered}


def mapping(content: Content, dataset: str, root: Path = ROOT) -> Mapping:
    """The checked mapping of one Eurostat dataset; MappingError lists every problem."""
    data = read_file(root)
    if dataset not in data["datasets"]:
        raise MappingError([f"{MAPPING_FILE} has no dataset {dataset!r} "
                            f"(it has {', '.join(data['datasets'])})"])
    spec = data["datasets"][dataset] or {}
    where = f"{MAPPING_FILE}: {dataset}"
    problems: list[str] = []
    flow_id = spec.get("source")
    if flow_id not in content.dataflows:
        raise MappingError([f"{where}: source dataflow {flow_id!r} does not exist "
                            f"(the dataflows are {', '.join(sorted(content.dataflows))})"])
    flow = content.dataflows[flow_id]
    ours = flow.dimension_ids

    slices: dict[str, tuple[str, ...]] = {}
    for dim, codes in (spec.get("slice") or {}).items():
        if dim not in ours:
            problems.append(f"{where}: slice names dimension {dim!r}, which {flow_id} does not have "
                            f"({', '.join(ours)})")
            continue
        slices[dim] = _as_codes(codes)
        known = {c["id"] for c in flow.codelists[dim]["codes"]}
        for code in slices[dim]:
            if code not in known:
                problems.append(f"{where}: slice {dim}={code}: {code!r} is not in {flow.codelists[dim]['id']}")

    code_names = data.get("codes") or {}
    concepts = data.get("concepts") or {}
    dims: list[Dimension] = []
    used: dict[str, str] = {}
    for d in spec.get("dimensions") or []:
        did = str(d.get("id"))
        dwhere = f"{where}: dimension {did}"
        if did in [x.id for x in dims]:
            problems.append(f"{dwhere} is listed twice")
        if did not in concepts:
            problems.append(f"{dwhere} has no name under `concepts`")
        if ("value" in d) == ("from" in d):
            problems.append(f"{dwhere} needs either `value` (a constant) or `from` (our dimension)")
            continue
        if "value" in d:
            code = str(d["value"])
            if code not in code_names:
                problems.append(f"{dwhere}: the constant {code!r} has no name under `codes`")
            dims.append(Dimension(did, value=code, names={code: code_names.get(code, {})}))
            continue
        src = d["from"]
        if src not in ours:
            problems.append(f"{dwhere} comes from {src!r}, which {flow_id} does not have ({', '.join(ours)})")
            continue
        if src in used:
            problems.append(f"{dwhere} and {used[src]} both come from {src}")
        used[src] = did
        parts = _parts(d, flow.codelists[src], dwhere, problems)
        if src in slices:  # our codes outside the slice feed nothing
            parts = {t: tuple(c for c in cs if c in slices[src]) for t, cs in parts.items()}
            parts = {t: cs for t, cs in parts.items() if cs}
        if not parts:
            problems.append(f"{dwhere}: no code of {src} maps to a Eurostat code")
        our_names = {c["id"]: c["name"] for c in flow.codelists[src]["codes"]}
        names = {}
        for target, sources in parts.items():
            if target in code_names:
                names[target] = code_names[target]
            elif len(sources) == 1:
                names[target] = our_names.get(sources[0], {})  # an unknown code is reported above
            else:
                problems.append(f"{dwhere}: {target} sums several codes and has no name under `codes`")
        dims.append(Dimension(did, source=src, parts=parts, names=names))

    if "FREQ" in ours and "FREQ" not in used:
        slices.setdefault("FREQ", (flow.document["frequency"],))  # a dataflow has one frequency
    for dim in ours:
        if dim not in used and dim not in slices:
            problems.append(f"{where}: {flow_id}'s dimension {dim} is neither sliced nor mapped "
                            "(slice it to one code, usually its total)")
        elif dim not in used and len(slices[dim]) != 1:
            problems.append(f"{where}: slice {dim} has several codes but no Eurostat dimension comes "
                            "from it (they would be added up)")

    source_frequency = flow.document["frequency"]
    freq = next((d for d in dims if d.id == "freq"), None)
    frequency = freq.value if freq is not None and freq.value is not None else source_frequency
    if frequency != source_frequency:
        if frequency != "A" or source_frequency not in SUB_PERIODS:
            problems.append(f"{where}: cannot turn {flow_id}'s frequency {source_frequency} into {frequency}")
        elif not flow.document.get("disclosure", {}).get("time_additive", True):
            problems.append(f"{where}: {flow_id} is a stock (time_additive: false): its "
                            f"{source_frequency} figures do not add up to years")

    columns = {"time": "TIME_PERIOD", "value": "OBS_VALUE", "flag": "OBS_FLAG", **(data.get("columns") or {})}
    for column in columns.values():
        if column not in concepts:
            problems.append(f"{MAPPING_FILE}: {column} has no name under `concepts`")
    flags = tuple((str(f.get("status")), str(f.get("flag"))) for f in data.get("flags") or [])
    if WITHHELD not in dict(flags):
        problems.append(f"{MAPPING_FILE}: `flags` gives no flag for withheld values (status {WITHHELD})")
    named = [(spec.get("name"), "the dataset")]
    named += [(concepts.get(c), f"concept {c}") for c in [*(d.id for d in dims), *columns.values()]
              if c in concepts]
    named += [(n, f"code {c} of {d.id}") for d in dims for c, n in d.names.items() if n]
    named += [(f.get("name"), f"flag {f.get('flag')}") for f in data.get("flags") or []]
    for names, what in named:
        problems.extend(f"{where}: {what} {p}" for p in _name_problems(names))
    if problems:
        raise MappingError(problems)
    return Mapping(
        dataset=dataset, agency=str(data.get("agency", "ESTAT")), version=str(data.get("version", "1.0")),
        name=spec.get("name") or {"en": dataset}, source=ref(flow.document),
        source_frequency=source_frequency, frequency=frequency, slice=slices, dimensions=tuple(dims),
        columns=columns, flags=flags,
        flag_names={str(f.get("flag")): f.get("name") for f in data.get("flags") or []},
        concepts=concepts,
    )


# --- reading what was released ----------------------------------------------------------

def _visible(conn: Connection, table):
    """Rows of a versioned public table visible now: a scheduled release's rows stay out
    until its release time (the embargo holds for exports too; see store.schema)."""
    now = datetime.now(timezone.utc)
    hidden = [i for i, at, status in conn.execute(select(rel.c.id, rel.c.release_time, rel.c.status))
              if status != "draft" and (at if at.tzinfo else at.replace(tzinfo=timezone.utc)) > now]
    if not hidden:
        return table.c.superseded_ref.is_(None)
    return and_(table.c.release_ref.not_in(hidden),
                or_(table.c.superseded_ref.is_(None), table.c.superseded_ref.in_(hidden)))


def public_observations(conn: Connection, m: Mapping) -> pd.DataFrame:
    """The source dataflow's current public observations: one column per dimension, then
    TIME_PERIOD, value, obs_status, conf_status. Reads the public area only, as it is
    visible now."""
    flow = conn.execute(select(st.c.document).where(
        st.c.kind == "dataflow", st.c.agency == m.source["agency"], st.c.artefact_id == m.source["id"],
        st.c.version == m.source["version"], _visible(conn, st))).scalar()
    if flow is None:
        raise NothingReleased(f"{m.source_ref} has not been published: nothing to export for {m.dataset}")
    # Series belong to the dataflow's first stored version (its identity, store.schema).
    flow_id = conn.execute(select(func.min(st.c.id)).where(
        st.c.kind == "dataflow", st.c.agency == m.source["agency"], st.c.artefact_id == m.source["id"],
        st.c.version == m.source["version"])).scalar_one()
    dsd_ref = json.loads(flow)["structure"]
    dsd = json.loads(conn.execute(select(st.c.document).where(
        st.c.kind == "datastructure", st.c.agency == dsd_ref["agency"], st.c.artefact_id == dsd_ref["id"],
        st.c.version == dsd_ref["version"], _visible(conn, st))).scalar_one())
    dims = [d["id"] for d in dsd["dimensions"]]
    missing = sorted({*m.slice, *(d.source for d in m.dimensions if d.source)} - set(dims))
    if missing:
        raise NothingReleased(f"the published {m.source_ref} has no dimension {', '.join(missing)}: "
                              "publish the current content before exporting")
    stmt = (select(*[s.c[c] for c in DIMENSION_COLUMNS[:len(dims)]], o.c.time_period, o.c.value,
                   o.c.obs_status, o.c.conf_status)
            .select_from(o.join(s, s.c.id == o.c.series_ref))
            .where(s.c.dataflow_ref == flow_id, _visible(conn, o)))
    frame = pd.DataFrame(conn.execute(stmt).all(),
                         columns=[*dims, "TIME_PERIOD", "value", "obs_status", "conf_status"])
    if frame.empty:
        raise NothingReleased(f"{m.source_ref} has no published observations: nothing to export for {m.dataset}")
    return frame.astype({"value": "float64"})


# --- the crosswalk ----------------------------------------------------------------------

def crosswalk(m: Mapping, obs: pd.DataFrame) -> pd.DataFrame:
    """Eurostat rows from our public observations: the Eurostat dimension ids, TIME_PERIOD,
    OBS_VALUE (NaN when withheld) and OBS_FLAG ("" for none), in code then period order."""
    df = obs
    for dim, codes in m.slice.items():
        df = df[df[dim].isin(codes)]
    status = df["obs_status"].where(df["conf_status"] != "C", WITHHELD)
    rank = {code: i for i, (code, _) in enumerate(m.flags)}
    work = pd.DataFrame({f"src:{d.source}": df[d.source] for d in m.dimensions if d.source}, index=df.index)
    work["_value"] = df["value"]
    work["_missing"] = df["value"].isna()
    work["_withheld"] = status == WITHHELD
    work["_rank"] = status.map(rank).fillna(len(m.flags)).astype(int)
    if m.frequency == m.source_frequency:
        work["_period"] = df["TIME_PERIOD"]
    else:
        # A year is exported only if the source has every one of its quarters (months).
        periods = pd.Series(obs["TIME_PERIOD"].unique())
        per_year = periods.groupby(periods.str[:4]).size()
        complete = set(per_year[per_year == SUB_PERIODS[m.source_frequency]].index)
        work["_period"] = df["TIME_PERIOD"].str[:4]
        work = work[work["_period"].isin(complete)]
    for d in m.dimensions:
        if d.value is not None:
            work[d.id] = d.value
        else:
            pairs = pd.DataFrame([(ours, eu) for eu, parts in d.parts.items() for ours in parts],
                                 columns=[f"src:{d.source}", d.id])
            work = work.merge(pairs, on=f"src:{d.source}", how="inner")
    keys = [*m.dimension_ids, "_period"]
    if work.empty:
        return pd.DataFrame(columns=[*m.dimension_ids, m.columns["time"], m.columns["value"],
                                     m.columns["flag"]])
    g = work.groupby(keys, sort=False).agg(value=("_value", "sum"), missing=("_missing", "any"),
                                           withheld=("_withheld", "any"), rank=("_rank", "min"))
    g = g.reset_index()
    flag_of = [flag for _, flag in m.flags] + [""]
    withheld_flag = dict(m.flags)[WITHHELD]
    out = pd.DataFrame({d: g[d] for d in m.dimension_ids})
    out[m.columns["time"]] = g["_period"]
    out[m.columns["value"]] = g["value"].where(~(g["missing"] | g["withheld"]))
    out[m.columns["flag"]] = [withheld_flag if w else flag_of[r] for w, r in zip(g["withheld"], g["rank"])]
    order = [pd.Categorical(out[d.id], categories=d.codes, ordered=True).codes for d in m.dimensions]
    out = out.assign(**{f"_o{i}": o_ for i, o_ in enumerate(order)})
    out = out.sort_values([f"_o{i}" for i in range(len(order))] + [m.columns["time"]], kind="stable")
    return out.drop(columns=[f"_o{i}" for i in range(len(order))]).reset_index(drop=True)


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def sdmx_csv(m: Mapping, rows: pd.DataFrame) -> str:
    """SDMX-CSV 1.0: DATAFLOW, the Eurostat dimensions, TIME_PERIOD, OBS_VALUE, OBS_FLAG."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")  # RFC 4180, as the SDMX-CSV spec asks
    out.writerow(m.header)
    c = m.columns
    for rec in rows.itertuples(index=False):
        values = dict(zip(rows.columns, rec))
        out.writerow([m.ref, *[values[d] for d in m.dimension_ids], values[c["time"]],
                      _number(values[c["value"]]), values[c["flag"]]])
    return buf.getvalue()


# --- the structure message --------------------------------------------------------------

def structure_documents(m: Mapping, rows: pd.DataFrame) -> list[dict]:
    """Dataflow, DSD, concept scheme and codelists (the codes `rows` uses) under ESTAT, as
    store.documents documents."""
    version = m.version

    def maintainable(kind: str, id_: str, name: dict, **rest) -> dict:
        return {"kind": kind, "agency": m.agency, "id": id_, "version": version, "name": name, **rest}

    subset = {"az": "Yalnız bu ixracın istifadə etdiyi kodlar (Eurostat kod siyahısının bir hissəsi).",
              "en": "Only the codes this export uses (a subset of Eurostat's codelist).",
              "ru": "Только коды, используемые в этой выгрузке (часть классификатора Евростата)."}
    concepts = [*m.dimension_ids, m.columns["time"], m.columns["value"], m.columns["flag"]]
    cs = maintainable("conceptscheme", m.dataset, m.name,
                      concepts=[{"id": c, "name": m.concepts[c]} for c in concepts])
    docs = [cs]

    def concept(cid: str) -> dict:
        return {**ref(cs), "item": cid}

    dims = []
    for d in m.dimensions:
        present = set(rows[d.id])
        cl = maintainable("codelist", d.id.upper(), m.concepts[d.id], description=subset,
                          codes=[{"id": c, "name": d.names[c]} for c in d.codes if c in present])
        docs.append(cl)
        dims.append({"id": d.id, "concept": concept(d.id), "codelist": ref(cl)})
    flag_cl = maintainable("codelist", m.columns["flag"], m.concepts[m.columns["flag"]],
                           codes=[{"id": f, "name": m.flag_names[f]} for _, f in m.flags])
    docs.append(flag_cl)
    dsd = maintainable("datastructure", m.dataset, m.name, dimensions=dims,
                       time_dimension={"id": m.columns["time"], "concept": concept(m.columns["time"])},
                       primary_measure={"id": m.columns["value"], "concept": concept(m.columns["value"])},
                       attributes=[{"id": m.columns["flag"], "concept": concept(m.columns["flag"]),
                                    "codelist": ref(flag_cl), "attached_to": "observation",
                                    "mandatory": False}])
    source = {"az": f"Mənbə: {m.source_ref}, Azərbaycan Respublikası Dövlət Miqrasiya Xidmətinin "
                    "dərc etdiyi məlumatlar.",
              "en": f"Source: {m.source_ref}, as released by the State Migration Service of the "
                    "Republic of Azerbaijan.",
              "ru": f"Источник: {m.source_ref}, данные, опубликованные Государственной миграционной службой "
                    "Азербайджанской Республики."}
    flow = maintainable("dataflow", m.dataset, m.name, description=source, structure=ref(dsd))
    return docs + [dsd, flow]


def structure_xml(m: Mapping, rows: pd.DataFrame) -> bytes:
    """The SDMX-ML 2.1 structure message a client needs to read the SDMX-CSV."""
    msg = structure_message(structure_documents(m, rows), sender="AZ_SMS")
    # Not final: the codelists hold this export's codes and change with the next one.
    for collection in (msg.dataflow, msg.structure, msg.codelist, msg.concept_scheme):
        for artefact in collection.values():
            artefact.is_final = False
    return sdmx.to_xml(msg, pretty_print=True)


# --- all together -----------------------------------------------------------------------

@dataclass
class Export:
    mapping: Mapping
    rows: pd.DataFrame

    @property
    def csv(self) -> str:
        return sdmx_csv(self.mapping, self.rows)

    @property
    def structure(self) -> bytes:
        return structure_xml(self.mapping, self.rows)

    @property
    def withheld(self) -> int:
        return int(self.rows[self.mapping.columns["value"]].isna().sum())


def export(conn: Connection, content: Content, dataset: str, root: Path = ROOT) -> Export:
    """The released figures of `dataset`'s source dataflow, in Eurostat's terms."""
    m = mapping(content, dataset, root)
    rows = crosswalk(m, public_observations(conn, m))
    if rows.empty:
        raise NothingReleased(f"{m.source_ref} has nothing published that maps to {dataset} "
                              f"(slice {m.slice})")
    return Export(m, rows)
