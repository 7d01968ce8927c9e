"""The HTTP layer around the SDMX routes: compression, caching validators, CORS and limits.

* **Recent answers replayed from memory** (api.cache.HotResponses), inside the edge and
  outside gzip: a repeated request costs neither the application nor compression.
* **gzip** for clients that send ``Accept-Encoding: gzip`` (Starlette's GZipMiddleware,
  which compresses a streamed response chunk by chunk: it stays streamed).
* **ETag / Last-Modified / 304**: every data, structure, schema and metadata response
  carries a weak ETag derived from the store's state token and what makes the
  representation (path, query, negotiated media type, language: the response-cache key),
  and the time of the latest release as Last-Modified. A client holding a current copy
  (``If-None-Match``, or ``If-Modified-Since`` when no ETag is sent) gets 304 with no body,
  before any body is built. The ETag is weak because two builds of one answer differ in
  their message id and preparation time (and in their content coding), not in meaning.
* **Cache-Control** ``public, max-age=`` (``HTTP_MAX_AGE``) and
  ``Vary: Accept, Accept-Encoding, Accept-Language`` on those responses.
* **CORS**: any origin (``CORS_ORIGINS``) may GET; ETag, Last-Modified and the service's
  own headers are exposed. The CORS layer wraps the whole application, outside
  Starlette's error middleware, so error bodies (even a 500) carry the headers too.
* **HEAD** on every GET resource: the same status and headers, no body.
* **414** for a request URI longer than ``MAX_URI_LENGTH``, answered before routing;
  **413** for a data query matching more than ``MAX_OBSERVATIONS`` observations.
  Both with an SDMX error body.

Settings are in api.config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cache import HotResponses
from api.config import Settings
from api.errors import SdmxError, error_json, error_xml
from api.security import Guard

VARY = "Accept, Accept-Encoding, Accept-Language"
EXPOSED = ("ETag", "Last-Modified", "Content-Language", "Content-Disposition", "X-Cache", "X-SDMX-Namespace")


def install(app: FastAPI, settings: Settings, state_token: Callable[[], str | None],
            measure: Callable[[ASGIApp], ASGIApp] = lambda inner: inner) -> None:
    """Put gzip, CORS, the URI limit and the in-memory answer cache around `app` (call
    once, before serving). `state_token()`: the store's state if known without I/O;
    `measure` wraps the whole stack (api.metrics: every request counted and timed)."""
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_min_size,
                       compresslevel=settings.gzip_level)
    build = app.build_middleware_stack
    hot_size = settings.memory_cache_size if settings.cache_max_entry else 0  # no cache: none here either

    def build_with_edge() -> ASGIApp:
        # Outermost, around Starlette's ServerErrorMiddleware: a 500 from the catch-all
        # exception handler is sent through these layers too.
        hot = HotResponses(build(), state_token, hot_size)
        # The guard (api.security) outside the edge: it sees HEAD as HEAD, limits replays
        # from memory too, and its 405 and 429 carry CORS headers.
        return measure(CORSMiddleware(Guard(Edge(hot, settings.max_uri_length), settings, error_response),
                                      allow_origins=list(settings.cors_origins),
                                      allow_methods=["GET", "HEAD", "OPTIONS"], allow_headers=["*"],
                                      expose_headers=list(EXPOSED), max_age=86400))

    app.build_middleware_stack = build_with_edge  # type: ignore[method-assign]


# --- the edge: URI limit, and one tidy Vary header -------------------------------------------

class Edge:
    """Refuses request URIs longer than `max_uri_length` bytes (414, before routing),
    answers HEAD as GET without the body, and merges the Vary headers the layers inside
    add (the routes', gzip's) into one."""

    def __init__(self, app: ASGIApp, max_uri_length: int):
        self.app = app
        self.max_uri_length = max_uri_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string") or b""
        length = len(scope.get("raw_path") or scope["path"].encode()) + (len(query) + 1 if query else 0)
        if length > self.max_uri_length:
            err = SdmxError(414, f"the request URI is {length} bytes long; this service reads URIs of at most "
                                 f"{self.max_uri_length} bytes: ask for fewer codes per request, or use "
                                 "wildcards (*, or an empty key position) and split the query")
            await error_response(err, Headers(scope=scope), scope["path"])(scope, receive, send)
            return

        head = scope["method"] == "HEAD"
        if head:  # answered as the GET it stands for, without the body (RFC 9110, 9.3.2)
            scope = {**scope, "method": "GET"}

        async def tidy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = merge_vary(message.get("headers") or [])
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, tidy)


def merge_vary(raw: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    values = [v for k, v in raw if k.lower() == b"vary"]
    if len(values) < 2 and not (values and b"," in values[0]):
        return list(raw)
    seen: dict[bytes, bytes] = {}
    for v in values:
        for part in v.split(b","):
            if part.strip():
                seen.setdefault(part.strip().lower(), part.strip())
    return [(k, v) for k, v in raw if k.lower() != b"vary"] + [(b"vary", b", ".join(seen.values()))]


def error_response(err: SdmxError, headers: Headers, path: str = "") -> Response:
    """An SDMX error message outside the routes (as api.app renders it inside them); the
    friendly API's plain JSON error under /api/."""
    if path.startswith("/api/"):
        return JSONResponse({"error": {"status": err.status, "message": err.message}}, status_code=err.status)
    if "json" in headers.get("accept", "").split(",")[0]:
        return Response(error_json(err), status_code=err.status,
                        media_type="application/vnd.sdmx.data+json; version=2.0.0")
    return Response(error_xml(err), status_code=err.status, media_type="application/xml; charset=utf-8")


# --- validators: ETag, Last-Modified, 304 -----------------------------------------------------

class Validators:
    """The caching headers of a response, and whether the client's copy is still current."""

    def __init__(self, max_age: int):
        self.max_age = max_age

    def headers(self, published_at: datetime | None, key: str, *, now: datetime | None = None,
                next_release: datetime | None = None) -> dict[str, str]:
        """ETag (from `key`, the response-cache key: state, path, query, media type, language),
        Last-Modified (`published_at`, the latest release), Cache-Control and Vary.

        HTTP caches (browsers, the reverse proxy) may keep an answer only until the next
        scheduled release: max-age never reaches past it, so that at the release second
        everyone is sent the new figures, not a copy from before."""
        max_age = self.max_age
        if now is not None and next_release is not None:
            max_age = max(0, min(max_age, int((next_release - now).total_seconds())))
        h = {"ETag": f'W/"{key[:32]}"', "Cache-Control": f"public, max-age={max_age}", "Vary": VARY}
        if published_at is not None:
            h["Last-Modified"] = format_datetime(published_at.astimezone(timezone.utc), usegmt=True)
        return h

    @staticmethod
    def fresh(request: Request, headers: dict[str, str]) -> bool:
        """True when the client's copy is current (RFC 9110: If-None-Match wins over
        If-Modified-Since, which is considered only when no ETag is sent)."""
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:
            return etag_matches(if_none_match, headers["ETag"])
        since = http_date(request.headers.get("if-modified-since"))
        modified = http_date(headers.get("Last-Modified"))
        return since is not None and modified is not None and modified <= since

    @staticmethod
    def not_modified(headers: dict[str, str]) -> Response:
        return Response(status_code=304, headers=headers)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match asks."""
    if if_none_match.strip() == "*":
        return True
    mine = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == mine for tag in if_none_match.split(","))


def http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # an unreadable date is ignored, as RFC 9110 asks
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


# --- 413: too many observations ----------------------------------------------------------------

def check_response_size(limit: int, bound: int, count: Callable[[], int]) -> None:
    """413 when the data query matches more than `limit` observations.

    `bound` (the observations of the series the key selects) bounds the count from above;
    only when it is over the limit are the observations counted."""
    if bound <= limit:
        return
    asked = count()
    if asked > limit:
        raise SdmxError(413, f"the query matches {asked:,} observations; this service sends at most "
                             f"{limit:,} in one response. Narrow the key (fewer codes, or fewer "
                             "wildcards) or the period (startPeriod/endPeriod, or c[TIME_PERIOD]), "
                             "and ask in parts.")
