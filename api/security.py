"""The guard at the door of the public API: read-only methods, a rate limit per client,
and security headers on every response.

* **Read only.** The public API has no write route; any method but GET, HEAD and OPTIONS
  (CORS preflight) answers 405 with an SDMX error before routing, whatever the path.
* **Rate limit** (``RATE_LIMIT``, off by default): a token bucket per client and process.
  A client over its rate gets 429 with ``Retry-After`` and an SDMX error body (also for
  answers the in-memory cache would replay: the guard sits outside it). Buckets of
  clients not seen for a while are forgotten, so memory stays bounded.
* **Security headers** on every response, errors included: ``nosniff`` (a CSV is never
  run as a script), no framing (clickjacking), a strict referrer policy, and a content
  security policy that lets pages load scripts, styles and images from this service only.
  The interactive OpenAPI pages (/docs, /redoc) load Swagger UI and ReDoc from their CDN,
  so they get no content security policy.

Written by hand rather than taken from a library: the limit must answer in the SDMX error
format and sit outside the response cache, and both are a few lines of ASGI.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import Settings
from api.errors import SdmxError

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-resource-policy", b"cross-origin"),  # open data: other sites may embed it
]
# Styles inline: the pages (calendar, metadata, bulletins) carry their own <style>.
CSP = (b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
NO_CSP_PATHS = ("/docs", "/redoc")
MAX_CLIENTS = 65_536  # buckets kept; the least recently seen go first


class TokenBuckets:
    """Per client: up to `burst` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = self.clock()
        tokens, last = self.buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self.buckets[client] = (tokens, now)
        if len(self.buckets) > MAX_CLIENTS:
            self.buckets.popitem(last=False)
        return wait


def client_of(scope: Scope, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = Headers(scope=scope).get("x-forwarded-for")
        if forwarded:  # the address our proxy appended: the last one
            return forwarded.split(",")[-1].strip()
    client = scope.get("client")
    return client[0] if client else "unknown"


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings, error_response,
                 clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.error_response = error_response
        self.trust_forwarded_for = settings.trust_forwarded_for
        burst = settings.rate_limit_burst or max(1, math.ceil(4 * settings.rate_limit))
        self.buckets = TokenBuckets(settings.rate_limit, burst, clock) if settings.rate_limit > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not scope["path"].startswith(NO_CSP_PATHS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*(message.get("headers") or []), *SECURITY_HEADERS,
                                      *([(b"content-security-policy", CSP)] if csp else [])]
            await send(message)

        if scope["method"] not in READ_METHODS:
            err = SdmxError(405, f"{scope['method']} is not allowed: this service is read-only (GET, HEAD)")
            response = self.error_response(err, Headers(scope=scope), scope["path"])
            response.headers["Allow"] = "GET, HEAD, OPTIONS"
            await response(scope, receive, with_headers)
            return
        if self.buckets is not None and scope["method"] != "OPTIONS":
            wait = self.buckets.take(client_of(scope, self.trust_forwarded_for))
            if wait > 0:
                err = SdmxError(429, f"too many requests: this service answers each client about "
                                     f"{self.buckets.rate:g} requests a second; retry in {math.ceil(wait)} s")
                response = self.error_response(err, Headers(scope=scope), scope["path"])
                response.headers["Retry-After"] = str(math.ceil(wait))
                await response(scope, receive, with_headers)
                return
        await self.app(scope, receive, with_headers)
