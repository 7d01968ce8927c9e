"""Structured logs: one JSON object per line (python-json-logger), and an access log entry
per request with its request id, so that a log platform can search and count them.

* ``LOG_FORMAT=json`` (the container's default) puts the JSON formatter on the root
  logger; otherwise logging is left as the host configured it (readable text under
  ``make serve``, pytest's capture in the tests).
* Every request gets an id: the client's ``X-Request-ID`` when it sends a sane one (a
  proxy's), else a new one. It is sent back in ``X-Request-ID`` and written in the access
  entry, so a journalist's "this URL failed" can be found in the logs.
* The access entry (logger ``api.access``): method, path, query, status, seconds, cache
  (hit, miss, or none), bytes sent (compressed, when gzipped), request id. Client addresses are not logged: the service
  has no need for them beyond the rate limit.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         json_ensure_ascii=False)


def configure(fmt: str, level: str = "INFO") -> None:
    """Put the JSON formatter on the root logger (fmt == "json"); else change nothing."""
    if fmt != "json":
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log would repeat ours, without the request id.
    logging.getLogger("uvicorn.access").disabled = True


def access(app: ASGIApp) -> ASGIApp:
    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        start, status, cache, size = time.perf_counter(), 500, None, 0

        async def observe(message: Message) -> None:
            nonlocal status, cache, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers") or []
                cache = next((v.decode() for k, v in headers if k.lower() == b"x-cache"), None)
                message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, observe)
        finally:
            access_log.info("request", extra={
                "request_id": request_id, "method": scope["method"], "path": scope["path"],
                "query": (scope.get("query_string") or b"").decode("latin-1"), "status": status,
                "seconds": round(time.perf_counter() - start, 6), "cache": cache, "bytes": size})

    return logged
