"""The release calendar and each release's documents: routes under /releases.

* ``/releases`` (page, ``?lang=az|en|ru``), ``/releases.json``, ``/releases.ics``,
  ``/releases.atom``: past and upcoming releases (api.formats.calendar renders them).
* ``/releases/{id}`` and ``/releases/{id}.json``: one release.
* ``/releases/{id}/{name}``: a file published with it (press bulletin, chart).
* ``/releases/{id}/revisions.csv`` and ``.json``: what the release revised, observation by
  observation: the value before, the value after, the difference.

The embargo holds here as everywhere: what a release carries (its counts, files and
revisions) is shown only once it is public at the snapshot's moment; before, only what
the calendar announces (title, time, dataflow names). Answers go through the application's
``respond`` (the response cache, ETags, 304), keyed by the snapshot's state token, which
changes at every release time.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Connection, and_, select

from api.errors import not_found
from api.formats import format_value
from api.formats.calendar import calendar_atom, calendar_ics, calendar_json, calendar_page
from api.metadata_page import page_language
from api.store import as_utc
from store.schema import (
    public_observation as o,
    public_release as r,
    public_release_attachment as ra,
    public_release_dataflow as rd,
    public_series as s,
    public_structure as st,
)

JSON = "application/json"
REVISION_COLUMNS = ["DATAFLOW", "SERIES_KEY", "TIME_PERIOD", "CHANGE", "PREVIOUS_VALUE", "VALUE", "DIFFERENCE",
                    "PREVIOUS_OBS_STATUS", "OBS_STATUS"]


def calendar(conn: Connection, documents: list[dict], now: datetime) -> list[dict]:
    """Every release as the calendar renderers take it, with what is embargoed at `now`
    left out (counts, attachments)."""
    names = {f"{d['agency']}:{d['id']}({d['version']})": d.get("name") or {}
             for d in documents if d["kind"] == "dataflow"}
    flows: dict[int, list[dict]] = {}
    for row in conn.execute(select(rd).order_by(rd.c.id)).mappings():
        flows.setdefault(row["release_ref"], []).append(dict(row))
    files: dict[int, list[str]] = {}
    for release_ref, name in conn.execute(select(ra.c.release_ref, ra.c.name).order_by(ra.c.name)):
        files.setdefault(release_ref, []).append(name)
    rows = conn.execute(select(r).order_by(r.c.release_time, r.c.id)).mappings().all()
    corrected_by = {row["corrects_ref"]: row["id"] for row in rows
                    if row["corrects_ref"] is not None and row["status"] != "draft"
                    and as_utc(row["release_time"]) <= now}
    out = []
    def flow_id(ref: str) -> str:  # AGENCY:ID(VERSION) -> ID
        return ref.split(":")[1].split("(")[0]

    for row in rows:
        at = as_utc(row["release_time"])
        public = row["status"] != "draft" and at <= now
        out.append({
            "id": row["id"], "status": row["status"], "release_time": at,
            "title": json.loads(row["title"] or "{}") or {"en": row["description"]},
            "description": row["description"], "corrects": row["corrects_ref"],
            "corrected_by": corrected_by.get(row["id"]), "public": public,
            "dataflows": [{
                "ref": f["dataflow"], "id": flow_id(f["dataflow"]),
                # A dataflow first published by an embargoed release has no visible name yet.
                "name": names.get(f["dataflow"]) or {"en": flow_id(f["dataflow"])},
                **{k: (f[k] if public else None) for k in ("added", "revised", "withdrawn", "withheld")},
            } for f in flows.get(row["id"], [])],
            "attachments": files.get(row["id"], []) if public else [],
        })
    return out


def revisions(conn: Connection, release_id: int) -> list[dict]:
    """Per dataflow of the release, each observation it revised (value or status) or
    withdrew: before and after. New observations are not revisions and are left out."""
    old = o.alias("old")
    key = s.c.series_key
    flow_ref = st.c.agency + ":" + st.c.artefact_id + "(" + st.c.version + ")"
    out = []
    revised = (select(flow_ref, key, o.c.time_period, old.c.value, o.c.value, old.c.obs_status, o.c.obs_status)
               .select_from(o.join(old, and_(old.c.series_ref == o.c.series_ref,
                                             old.c.time_period == o.c.time_period,
                                             old.c.superseded_ref == release_id))
                            .join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref))
               .where(o.c.release_ref == release_id).order_by(flow_ref, key, o.c.period_start))
    for flow, series_key, period, before, after, status_before, status_after in conn.execute(revised):
        out.append(_revision(flow, series_key, period, "revised", before, after, status_before, status_after))
    newer = o.alias("newer")
    withdrawn = (select(flow_ref, key, o.c.time_period, o.c.value, o.c.obs_status)
                 .select_from(o.join(s, s.c.id == o.c.series_ref).join(st, st.c.id == s.c.dataflow_ref))
                 .where(o.c.superseded_ref == release_id,
                        ~select(newer.c.id).where(newer.c.series_ref == o.c.series_ref,
                                                  newer.c.time_period == o.c.time_period,
                                                  newer.c.release_ref == release_id).exists())
                 .order_by(flow_ref, key, o.c.period_start))
    for flow, series_key, period, before, status_before in conn.execute(withdrawn):
        out.append(_revision(flow, series_key, period, "withdrawn", before, None, status_before, None))
    return out


def _revision(flow, key, period, change, before, after, status_before, status_after) -> dict:
    diff = after - before if before is not None and after is not None else None
    return {"DATAFLOW": flow, "SERIES_KEY": key, "TIME_PERIOD": period, "CHANGE": change,
            "PREVIOUS_VALUE": before, "VALUE": after, "DIFFERENCE": diff,
            "PREVIOUS_OBS_STATUS": status_before, "OBS_STATUS": status_after}


def revisions_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(REVISION_COLUMNS)
    for row in rows:
        w.writerow([format_value(row[c]) if c in ("PREVIOUS_VALUE", "VALUE", "DIFFERENCE") else (row[c] or "")
                    for c in REVISION_COLUMNS])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")  # BOM: Excel reads it as UTF-8


def install(app: FastAPI, *, respond, language, public_base: str | None = None) -> None:
    """Add the release routes. `respond(request, media_type, prepare)`: the application's
    cached responder (api.app); `language(request)`: the negotiated language."""

    def base(request: Request) -> str:
        return (public_base or str(request.base_url)).rstrip("/")

    def released(conn: Connection, snap, release_id: int) -> dict:
        found = [x for x in calendar(conn, snap.documents, snap.now) if x["id"] == release_id]
        if not found:
            raise not_found(f"there is no release {release_id}")
        return found[0]

    def public_release(conn: Connection, snap, release_id: int) -> dict:
        rel = released(conn, snap, release_id)
        if not rel["public"]:
            raise not_found(f"release {release_id} is not public yet")
        return rel

    @app.get("/releases.json", tags=["releases"], summary="The release calendar: upcoming and past releases")
    def calendar_as_json(request: Request) -> Response:
        return respond(request, JSON, lambda snap: lambda conn: calendar_json(
            calendar(conn, snap.documents, snap.now), base(request), snap.now))

    @app.get("/releases.ics", tags=["releases"], summary="The release calendar as an iCalendar feed")
    def calendar_as_ics(request: Request) -> Response:
        return respond(request, "text/calendar; charset=utf-8", lambda snap: lambda conn: calendar_ics(
            calendar(conn, snap.documents, snap.now), base(request), snap.now))

    @app.get("/releases.atom", tags=["releases"], summary="Releases as they are published: an Atom feed")
    def calendar_as_atom(request: Request) -> Response:
        return respond(request, "application/atom+xml; charset=utf-8", lambda snap: lambda conn: calendar_atom(
            calendar(conn, snap.documents, snap.now), base(request), snap.now))

    @app.get("/releases", tags=["releases"], summary="The release calendar as a page; ?lang=az|en|ru")
    def calendar_as_page(request: Request, lang: str | None = None) -> Response:
        page_lang = page_language(lang, request.headers.get("accept-language"))
        return respond(request, "text/html; charset=utf-8", lambda snap: lambda conn: calendar_page(
            calendar(conn, snap.documents, snap.now), base(request), snap.now, page_lang).encode())

    @app.get("/releases/{release_id}.json", tags=["releases"], summary="One release")
    def one_release_json(request: Request, release_id: int) -> Response:
        def produce(snap):
            return lambda conn: calendar_json([released(conn, snap, release_id)], base(request), snap.now)
        return respond(request, JSON, produce)

    @app.get("/releases/{release_id}", tags=["releases"], summary="One release as a page; ?lang=az|en|ru")
    def one_release_page(request: Request, release_id: int, lang: str | None = None) -> Response:
        page_lang = page_language(lang, request.headers.get("accept-language"))

        def produce(snap):
            return lambda conn: calendar_page([released(conn, snap, release_id)], base(request), snap.now,
                                              page_lang).encode()
        return respond(request, "text/html; charset=utf-8", produce)

    @app.get("/releases/{release_id}/revisions.csv", tags=["releases"],
             summary="What a release revised: per observation, the value before and after (CSV)")
    def revisions_as_csv(request: Request, release_id: int) -> Response:
        def produce(snap):
            def body(conn):
                public_release(conn, snap, release_id)
                return revisions_csv(revisions(conn, release_id))
            return body
        return respond(request, "text/csv; charset=utf-8", produce)

    @app.get("/releases/{release_id}/revisions.json", tags=["releases"],
             summary="What a release revised: per observation, the value before and after (JSON)")
    def revisions_as_json(request: Request, release_id: int) -> Response:
        def produce(snap):
            def body(conn):
                public_release(conn, snap, release_id)
                return orjson.dumps({"release": release_id, "revisions": revisions(conn, release_id)})
            return body
        return respond(request, JSON, produce)

    @app.get("/releases/{release_id}/{name}", tags=["releases"],
             summary="A file published with a release: its press bulletin (bulletin-az.html, bulletin-en.html) "
                     "and charts")
    def attachment(request: Request, release_id: int, name: str) -> Response:
        def produce(snap):
            def body(conn):
                public_release(conn, snap, release_id)
                row = conn.execute(select(ra.c.media_type, ra.c.content)
                                   .where(ra.c.release_ref == release_id, ra.c.name == name)).first()
                if row is None:
                    raise not_found(f"release {release_id} has no file {name}")
                return bytes(row.content)
            return body
        media = "image/svg+xml" if name.endswith(".svg") else "text/html; charset=utf-8"
        return respond(request, media, produce)

