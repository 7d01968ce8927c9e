"""Prometheus metrics of the API (prometheus_client), served at ``/metrics``.

* ``api_requests_total{family, method, status}`` and ``api_request_seconds{family}``: every
  request, counted and timed at the outermost layer (so 405, 414 and 429 count too, and so
  do answers replayed from memory). ``family`` is a fixed set of route families (SDMX data,
  structure, friendly API, ...), never the raw path, so the number of series stays bounded
  whatever clients ask for.
* ``api_cache_total{result}``: answers from the response cache (hit) or built (miss), read
  from the ``X-Cache`` header the routes set.
* ``api_releases_public`` and ``api_last_release_timestamp_seconds``: what the service
  serves, from the snapshot the routes answer from (no query of its own).

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
shared by the workers (prometheus_client's multiprocess mode): ``/metrics`` then adds up
every worker's counts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Longest prefix first: the first that matches names the family.
FAMILIES = [
    ("/sdmx/3.0/data/", "sdmx_data"), ("/sdmx/2.1/data/", "sdmx_data"),
    ("/sdmx/3.0/availability/", "sdmx_availability"), ("/sdmx/2.1/availableconstraint/", "sdmx_availability"),
    ("/sdmx/3.0/metadata/", "sdmx_metadata"), ("/sdmx/2.1/metadata/", "sdmx_metadata"),
    ("/sdmx/3.0/schema/", "sdmx_schema"), ("/sdmx/2.1/schema/", "sdmx_schema"),
    ("/sdmx/", "sdmx_structure"), ("/api/", "friendly_api"), ("/releases", "releases"),
    ("/catalogue", "catalogue"), ("/dataflows/", "pages"), ("/static/", "static"),
    ("/health", "health"), ("/ready", "health"), ("/metrics", "metrics"),
    ("/docs", "docs"), ("/redoc", "docs"), ("/openapi.json", "docs"),
]
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def family(path: str) -> str:
    if path == "/":
        return "explorer"
    return next((name for prefix, name in FAMILIES if path.startswith(prefix)), "other")


class Metrics:
    """The counters of one application (a registry of its own, so that several apps in
    one process, as in the tests, do not mix their counts)."""

    def __init__(self, releases: Callable[[], tuple[int, float | None]]):
        multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        # In multiprocess mode the values live in files; the registry only collects them.
        owner = None if multiprocess else self.registry
        self.requests = Counter("api_requests_total", "HTTP requests answered", ["family", "method", "status"],
                                registry=owner)
        self.seconds = Histogram("api_request_seconds", "Time to answer, to the last byte", ["family"],
                                 buckets=BUCKETS, registry=owner)
        self.cache = Counter("api_cache_total", "Answers from the response cache (hit) or built (miss)",
                             ["result"], registry=owner)
        if multiprocess:
            from prometheus_client import multiprocess as mp

            mp.MultiProcessCollector(self.registry)
        self.registry.register(_Releases(releases))

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start, status, cache = time.perf_counter(), 500, None

            async def observe(message: Message) -> None:
                nonlocal status, cache
                if message["type"] == "http.response.start":
                    status = message["status"]
                    cache = next((v.decode() for k, v in message.get("headers") or [] if k.lower() == b"x-cache"),
                                 None)
                await send(message)

            try:
                await app(scope, receive, observe)
            finally:
                fam = family(scope["path"])
                self.requests.labels(fam, scope["method"], str(status)).inc()
                self.seconds.labels(fam).observe(time.perf_counter() - start)
                if cache in ("hit", "miss"):
                    self.cache.labels(cache).inc()

        return measured

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class _Releases:
    """Read at scrape time from the current snapshot."""

    def __init__(self, releases: Callable[[], tuple[int, float | None]]):
        self.releases = releases

    def collect(self):
        try:
            count, last = self.releases()
        except Exception:  # noqa: BLE001 - the store is down: report no figures rather than fail the scrape
            return
        yield GaugeMetricFamily("api_releases_public", "Releases public now", value=count)
        if last is not None:
            yield GaugeMetricFamily("api_last_release_timestamp_seconds", "When the latest public release "
                                    "became public (Unix time)", value=last)
