"""The friendly API for journalists and spreadsheets: ``/api/...``, beside SDMX.

* ``/api/dataflows`` (``?q=`` to search, ``?lang=az|en|ru``): every published dataflow
  with its topic, frequency, period range and last update.
* ``/api/dataflows/{id}``: one dataflow, with each dimension's codes and labels (those
  that occur in the data), its periods, its release history and its confidentiality rule.
* ``/api/dataflows/{id}/data`` (JSON, paged), ``.../data.csv``, ``.../data.xlsx``: tidy
  rows (api.formats.tidy), filtered by dimension (``?CITIZENSHIP=TR,RU``) and period
  (``?start=2020&end=2024``).

The numbers are the SDMX routes' numbers: the same store functions read them, through
the same snapshot (so the embargo holds), the same response cache and the same ETags.
Nothing is computed here that the disclosure audit has not seen: no totals, shares or
rankings; a total is shown only where it was published as a cell. Errors are JSON:
``{"error": {"status": 400, "message": "..."}}``.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from api import query as q
from api import store
from api.errors import SdmxError, bad_request, not_found
from api.formats import tidy
from api.formats.tidy import name_in
from api.negotiation import accept_language
from api.releases import calendar
from api.snapshot import Snapshot
from store.documents import urn_ref

JSON = "application/json"
LANGS = ("en", "az", "ru")
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header
RESERVED = {"lang", "q", "start", "end", "page", "page_size", "format"}

# The SDMX formats offered as downloads of a view: (label, format= value).
SDMX_DOWNLOADS = [
    ("SDMX-CSV 2.0", "csvdata"), ("SDMX-CSV 1.0", "csvdata10"), ("SDMX-JSON 2.0", "jsondata"),
    ("SDMX-ML 2.1 (structure-specific)", "structurespecificdata"), ("SDMX-ML 2.1 (generic)", "genericdata"),
    ("SDMX-ML 3.0", "structurespecificdata30"),
]

# Azerbaijani letters a person types without diacritics on a Latin keyboard: ə and ı are
# letters of their own in Unicode (no decomposition), so NFD alone does not fold them.
_FOLD = str.maketrans({"ə": "e", "ı": "i", "ş": "s", "ç": "c", "ğ": "g", "ö": "o", "ü": "u"})


def fold(text: str) -> str:
    """Text for matching: lower case, Azerbaijani letters and accents folded
    ("Şəki" -> "seki", "Türkiye" -> "turkiye", "İsmayıllı" -> "ismayilli")."""
    text = text.replace("İ", "i").lower().translate(_FOLD)
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def matches(needle: str, names: dict | None) -> bool:
    return bool(names) and any(needle in fold(v) for v in names.values() if v)


def iso(at: datetime | None) -> str | None:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def page_language(request: Request) -> str:
    lang = request.query_params.get("lang")
    if lang is not None:
        if lang not in LANGS:
            raise bad_request(f"lang={lang} is not one of az, en, ru")
        return lang
    return accept_language(request.headers.get("accept-language"), "en", LANGS)


# --- what a dataflow looks like to a reader -----------------------------------------------

def latest_flows(docs: list[dict]) -> list[dict]:
    return sorted(store.select_versions([d for d in docs if d["kind"] == "dataflow"], "latest"),
                  key=lambda d: d["id"])


def category_names(docs: list[dict]) -> dict[str, dict]:
    return {c["id"]: c["name"] for d in docs if d["kind"] == "categoryscheme" for c in d.get("categories", [])}


def concept_name(docs: list[dict], component: dict, lang: str) -> str:
    c = component.get("concept") or {}
    for d in docs:
        if d["kind"] == "conceptscheme" and (d["agency"], d["id"], d["version"]) == (
                c.get("agency"), c.get("id"), c.get("version")):
            concept = next((x for x in d.get("concepts", []) if x["id"] == c.get("item")), None)
            if concept:
                return name_in(concept["name"], lang) or component["id"]
    return component["id"]


def confidentiality(flow: dict, lang: str) -> str | None:
    """The dataflow's confidentiality rule in plain words (SIMS 7.2, an annotation)."""
    note = next((a for a in flow.get("annotations", []) if a.get("type") == "CONF_DATA_TR"), None)
    return name_in(note.get("text"), lang) if note else None


def summary(flow: dict, docs: list[dict], periods: list[str], codes: dict[str, list[str]],
            releases: list[store.ReleaseInfo], lang: str) -> dict:
    """A dataflow as the list and the detail route show it."""
    cats = category_names(docs)
    cat = (flow.get("category") or {}).get("item")
    freq = (codes.get("FREQ") or [None])[0]
    _, _, codelists = store.dataflow_bundle(docs, flow["agency"], flow["id"], flow["version"])
    freq_names = {c["id"]: c["name"] for c in codelists.get("FREQ", {}).get("codes", [])}
    ref = urn_ref(flow)
    carrying = [x.release_time for x in releases if ref in x.dataflows]
    base = f"/api/dataflows/{flow['id']}"
    return {
        "id": flow["id"], "agency": flow["agency"], "version": flow["version"],
        "name": name_in(flow.get("name"), lang), "description": name_in(flow.get("description"), lang),
        "category": {"id": cat, "name": name_in(cats.get(cat), lang)} if cat else None,
        "frequency": {"id": freq, "name": name_in(freq_names.get(freq), lang)} if freq else None,
        "first_period": periods[0] if periods else None, "last_period": periods[-1] if periods else None,
        "last_update": iso(max(carrying, default=None)),
        "links": {"self": base, "data": f"{base}/data", "csv": f"{base}/data.csv",
                  "metadata": f"/dataflows/{flow['id']}/metadata"},
    }


def code_matches(needle: str, dsd: dict, codelists: dict, present: dict[str, list[str]],
                 docs: list[dict], lang: str, limit: int = 5) -> list[dict]:
    """Codes occurring in a dataflow's data whose name (in any language) contains `needle`."""
    out = []
    for dim in dsd["dimensions"]:
        have = set(present.get(dim["id"], ()))
        for code in codelists.get(dim["id"], {}).get("codes", []):
            if code["id"] in have and matches(needle, code.get("name")):
                out.append({"dimension": dim["id"], "dimension_name": concept_name(docs, dim, lang),
                            "code": code["id"], "name": name_in(code["name"], lang)})
                if len(out) >= limit:
                    return out
    return out


def default_filter(dsd: dict, codelists: dict, present: dict[str, list[str]]) -> dict[str, list[str]]:
    """A first view that shows one line: every dimension at its total where the total was
    published, else at its first code."""
    out = {}
    for dim in dsd["dimensions"]:
        codes = present.get(dim["id"], [])
        if len(codes) <= 1:
            continue
        totals = [c["id"] for c in codelists[dim["id"]]["codes"]
                  if (c.get("annotations") or {}).get("TOTAL") == "true" or c["id"] == "_T"]
        out[dim["id"]] = [next((c for c in totals if c in codes), codes[0])]
    return out


def view_filters(params, dsd: dict) -> tuple[dict[str, list[str]], str | None, str | None]:
    """?DIM=a,b&start=&end= -> ({dimension: codes}, start, end); unknown names are a 400."""
    dims = [d["id"] for d in dsd["dimensions"]]
    chosen: dict[str, list[str]] = {}
    for name, value in params:
        if name in RESERVED:
            continue
        if name not in dims:
            raise bad_request(f"{name} is not a dimension of this dataflow; its dimensions are "
                              f"{', '.join(dims)} (and the parameters {', '.join(sorted(RESERVED))})")
        codes = [c for c in value.split(",") if c]
        for c in codes:
            if not q.ID_RE.match(c):
                raise bad_request(f"{c!r} is not a code")
        chosen.setdefault(name, []).extend(codes)
    return chosen, params_get(params, "start"), params_get(params, "end")


def params_get(params, name: str) -> str | None:
    return next((v for k, v in params if k == name and v), None)


def sdmx_query(flow: dict, dsd: dict, chosen: dict[str, list[str]], start: str | None,
               end: str | None) -> tuple[str, dict[str, str]]:
    """The SDMX REST v2 data URL path and parameters for a view: one code per dimension in
    the key, several as a c[DIM] filter, the period as c[TIME_PERIOD]."""
    key, params = [], {}
    for dim in dsd["dimensions"]:
        codes = chosen.get(dim["id"], [])
        key.append(codes[0] if len(codes) == 1 else "*")
        if len(codes) > 1:
            params[f"c[{dim['id']}]"] = ",".join(codes)
    bounds = [f"ge:{start}"] if start else []
    bounds += [f"le:{end}"] if end else []
    if bounds:
        params[f"c[{dsd['time_dimension']['id']}]"] = "+".join(bounds)
    key_text = "*" if set(key) == {"*"} else ".".join(key)
    path = f"/sdmx/3.0/data/dataflow/{flow['agency']}/{flow['id']}/{flow['version']}/{key_text}"
    return path, params


def downloads(flow: dict, dsd: dict, chosen: dict, start: str | None, end: str | None, lang: str) -> list[dict]:
    view = [(d, ",".join(c)) for d, c in chosen.items() if c]
    view += [(k, v) for k, v in (("start", start), ("end", end)) if v] + [("lang", lang)]
    own = urlencode(view, safe=",")
    base = f"/api/dataflows/{flow['id']}/data"
    path, params = sdmx_query(flow, dsd, chosen, start, end)
    out = [{"label": "CSV", "format": "csv", "url": f"{base}.csv?{own}"},
           {"label": "Excel", "format": "xlsx", "url": f"{base}.xlsx?{own}"}]
    for label, fmt in SDMX_DOWNLOADS:
        qs = urlencode({**params, "format": fmt}, quote_via=quote, safe=",:[]")
        out.append({"label": label, "format": fmt, "url": f"{path}?{qs}"})
    return out


# --- routes -------------------------------------------------------------------------------

def install(app: FastAPI, *, respond, bundle, max_observations: int) -> None:
    """Add the /api routes. `respond` and `bundle` are the application's (api.app)."""

    def flow_of(snap: Snapshot, flow_id: str) -> tuple[dict, dict, dict]:
        q.check_id(flow_id, "dataflow")
        flows = [f for f in latest_flows(snap.documents) if f["id"] == flow_id]
        if not flows:
            raise not_found(f"no dataflow {flow_id} is published; /api/dataflows lists them")
        f = flows[0]
        return bundle(snap, f["agency"], f["id"], f["version"])

    def series_of(snap: Snapshot, conn, flow: dict, dsd: dict, hidden: frozenset[int]):
        sid = snap.derived(("structure_id", (flow["agency"], flow["id"], flow["version"])),
                           lambda: store.structure_row_id(conn, flow))
        index = snap.derived(("series", sid, hidden),
                             lambda: store.series_index(conn, sid, len(dsd["dimensions"]), hidden))
        return sid, index

    def present_codes(index, dsd: dict, codelists: dict) -> dict[str, list[str]]:
        """Per dimension, the codes that occur in the data, in codelist order."""
        return {d["id"]: codes for d, codes in zip(dsd["dimensions"], index.outline_codes(dsd, codelists))}

    def facts(snap: Snapshot, conn, flow: dict, dsd: dict, codelists: dict):
        hidden = snap.hidden(urn_ref(flow))
        sid, index = series_of(snap, conn, flow, dsd, hidden)
        periods = snap.derived(("periods", sid, hidden), lambda: store.flow_periods(conn, sid, hidden))
        return sid, index, periods, present_codes(index, dsd, codelists)

    @app.get("/api/dataflows", tags=["friendly API"], summary="Every published dataflow, by topic; ?q= searches")
    def dataflows(request: Request,
                  q_: str | None = Query(None, alias="q", description="Search text: names, descriptions and "
                                         "code labels in az, en and ru; diacritics optional (seki finds Şəki)",
                                         examples=["turkiye"]),
                  lang: str | None = Query(None, description="az, en or ru (default: Accept-Language, else en)",
                                           examples=["az"])) -> Response:
        lang = page_language(request)
        needle = fold(q_ or "").strip()

        def prepare(snap: Snapshot):
            docs = snap.documents
            public = snap.releases.public(snap.now)

            def produce(conn):
                out, cats = [], {}
                for flow in latest_flows(docs):
                    _, dsd, codelists = bundle(snap, flow["agency"], flow["id"], flow["version"])
                    _, _, periods, present = facts(snap, conn, flow, dsd, codelists)
                    item = summary(flow, docs, periods, present, public, lang)
                    item["matches"] = []
                    if needle:
                        by_name = any(matches(needle, flow.get(k)) for k in ("name", "description")) \
                            or needle in fold(flow["id"])
                        item["matches"] = code_matches(needle, dsd, codelists, present, docs, lang)
                        if not by_name and not item["matches"]:
                            continue
                    out.append(item)
                    if item["category"]:
                        cats.setdefault(item["category"]["id"], []).append(flow["id"])
                names = category_names(docs)
                categories = [{"id": c, "name": name_in(names.get(c), lang), "dataflows": ids}
                              for c, ids in sorted(cats.items(), key=lambda kv: list(names).index(kv[0])
                                                   if kv[0] in names else len(names))]
                return tidy.tidy_json({"lang": lang, "q": q_, "categories": categories, "dataflows": out})
            return produce

        return respond(request, JSON, prepare)

    @app.get("/api/dataflows/{flow_id}", tags=["friendly API"],
             summary="One dataflow: its dimensions with labelled codes, periods, releases and confidentiality rule")
    def dataflow(request: Request, flow_id: str, lang: str | None = Query(None, examples=["en"])) -> Response:
        lang = page_language(request)

        def prepare(snap: Snapshot):
            flow, dsd, codelists = flow_of(snap, flow_id)
            docs = snap.documents
            public = snap.releases.public(snap.now)

            def produce(conn):
                _, _, periods, present = facts(snap, conn, flow, dsd, codelists)
                out = summary(flow, docs, periods, present, public, lang)
                out["dimensions"] = [{
                    "id": dim["id"], "name": concept_name(docs, dim, lang),
                    "codes": [{"id": c["id"], "name": name_in(c.get("name"), lang) or c["id"],
                               "parent": c.get("parent")}
                              for c in codelists[dim["id"]]["codes"] if c["id"] in set(present[dim["id"]])],
                } for dim in dsd["dimensions"]]
                out["time_periods"] = periods
                out["default_filter"] = default_filter(dsd, codelists, present)
                out["releases"] = release_history(snap, conn, urn_ref(flow), lang)
                out["confidentiality"] = confidentiality(flow, lang)
                out["downloads"] = downloads(flow, dsd, {}, None, None, lang)
                return tidy.tidy_json(out)
            return produce

        return respond(request, JSON, prepare)

    def release_history(snap: Snapshot, conn, ref: str, lang: str) -> list[dict]:
        """The releases that carried (or will carry) the dataflow: the calendar's view
        (api.releases.calendar, with its embargo rules), so an embargoed release shows
        its time and title only."""
        out = []
        for r in calendar(conn, snap.documents, snap.now):
            if r["status"] == "draft" or ref not in {f["ref"] for f in r["dataflows"]}:
                continue
            out.append({"id": r["id"], "title": name_in(r["title"], lang), "status": r["status"],
                        "release_time": iso(r["release_time"]), "public": r["public"],
                        "url": f"/releases/{r['id']}"})
        return out

    def tidy_answer(request: Request, flow_id: str, extension: str | None) -> Response:
        lang = page_language(request)
        params = list(request.query_params.multi_items())
        page = _int(params_get(params, "page") or "1", "page", 1)
        size = _int(params_get(params, "page_size") or str(DEFAULT_PAGE_SIZE), "page_size", 1, MAX_PAGE_SIZE)
        media_type = JSON if extension is None else tidy.RENDERERS[extension][0]

        def prepare(snap: Snapshot):
            flow, dsd, codelists = flow_of(snap, flow_id)
            chosen, start, end = view_filters(params, dsd)
            dims = [d["id"] for d in dsd["dimensions"]]
            key = ".".join("+".join(chosen.get(d, [])) for d in dims)
            dq = q.data_query_v1(key or "all", len(dims), start, end, None)
            snap.bind(dq, urn_ref(flow))
            docs = snap.documents
            cols = tidy.columns([(d["id"], concept_name(docs, d, lang)) for d in dsd["dimensions"]], lang)
            code_names = {d: {c["id"]: name_in(c.get("name"), lang) or c["id"] for c in cl["codes"]}
                          for d, cl in codelists.items()}
            make_row = tidy.row_maker(dims, code_names, code_names.get("OBS_STATUS", {}), lang)

            def produce(conn):
                sid, index = series_of(snap, conn, flow, dsd, dq.hidden)
                mask = index.matching(dims, codelists, dq)
                ids = None if mask is None else index.ids[mask]
                if ids is not None and len(ids) > store.MAX_SERIES_BY_ID:
                    ids = None
                empty = ids is not None and len(ids) == 0
                if empty:
                    total = 0
                elif start is None and end is None:  # whole series: counted in the index, in memory
                    total = int(index.counts.sum() if mask is None else index.counts[mask].sum())
                else:
                    total = store.count_observations(conn, sid, dsd, codelists, dq, ids)
                if extension is not None:
                    limit = min(max_observations, XLSX_MAX_ROWS) if extension == "xlsx" else max_observations
                    if total > limit:
                        raise SdmxError(413, f"the view holds {total:,} observations; a download holds at most "
                                             f"{limit:,}: choose fewer codes or a shorter period")
                    rows = [] if empty else store.data_rows(conn, sid, dsd, codelists, dq, series_ids=ids)
                    return tidy.RENDERERS[extension][1](cols, tidy.rows_of(make_row, rows))
                dq.offset, dq.limit = (page - 1) * size, size
                rows = [] if empty or dq.offset >= total else store.data_rows(conn, sid, dsd, codelists, dq,
                                                                              series_ids=ids)
                pages = max(1, -(-total // size))
                following = None
                if page < pages:
                    rest = [(k, v) for k, v in params if k != "page"] + [("page", str(page + 1))]
                    following = f"/api/dataflows/{flow['id']}/data?{urlencode(rest, safe=',')}"
                return tidy.tidy_json({
                    "dataflow": {"id": flow["id"], "name": name_in(flow.get("name"), lang)}, "lang": lang,
                    "filters": {**chosen, **({"start": start} if start else {}), **({"end": end} if end else {})},
                    "columns": cols, "rows": list(tidy.rows_of(make_row, rows)),
                    "total": total, "page": page, "page_size": size, "pages": pages, "next": following,
                    "downloads": downloads(flow, dsd, chosen, start, end, lang),
                })
            return produce

        return respond(request, media_type, prepare)

    view_doc = ("Tidy rows, one per observation. Filter by dimension (`?CITIZENSHIP=TR,RU`: the "
                "dataflow's dimension ids, codes separated by commas) and period (`?start=2020&end=2024`).")

    @app.get("/api/dataflows/{flow_id}/data", tags=["friendly API"], summary="Observations as tidy JSON (paged)",
             description=view_doc + " Paged: `page` (from 1) and `page_size` (up to 10,000); `next` links "
             "the following page. Example: `/api/dataflows/DF_WORKPERM_ISSUED/data?CITIZENSHIP=TR&start=2024&end=2024`")
    def data_json(request: Request, flow_id: str,
                  start: str | None = Query(None, examples=["2020"]), end: str | None = Query(None, examples=["2024"]),
                  page: int = Query(1, ge=1), page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
                  lang: str | None = Query(None, examples=["en"])) -> Response:
        return tidy_answer(request, flow_id, None)

    @app.get("/api/dataflows/{flow_id}/data.csv", tags=["friendly API"], summary="Observations as CSV for Excel",
             description=view_doc + " Every row of the view (no paging), UTF-8 with a byte-order mark.")
    def data_csv(request: Request, flow_id: str, start: str | None = Query(None, examples=["2020"]),
                 end: str | None = Query(None, examples=["2024"]), lang: str | None = Query(None)) -> Response:
        return with_filename(tidy_answer(request, flow_id, "csv"), flow_id, "csv")

    @app.get("/api/dataflows/{flow_id}/data.xlsx", tags=["friendly API"], summary="Observations as an Excel workbook",
             description=view_doc + " Every row of the view (no paging).")
    def data_xlsx(request: Request, flow_id: str, start: str | None = Query(None, examples=["2020"]),
                  end: str | None = Query(None, examples=["2024"]), lang: str | None = Query(None)) -> Response:
        return with_filename(tidy_answer(request, flow_id, "xlsx"), flow_id, "xlsx")


def with_filename(response: Response, flow_id: str, extension: str) -> Response:
    if response.status_code == 200:
        response.headers["Content-Disposition"] = f'attachment; filename="{flow_id}.{extension}"'
    return response


def _int(text: str, name: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{name}={text!r} is not a whole number") from None
    if value < low or (high is not None and value > high):
        raise bad_request(f"{name}={value} is out of range ({low} to {high or 'any'})")
    return value

