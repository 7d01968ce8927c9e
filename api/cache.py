"""Response caches, keyed by the request and the state of the store.

Two levels:

* ``HotResponses``, in each process, in front of the whole application (ASGI): recent
  answers replayed, status, headers and body, to the very same request while the store
  is in the same state, without entering the application at all (as Django's per-site
  cache middleware or a micro-caching reverse proxy do);
* ``ResponseCache``, inside the routes: bodies on local disk (diskcache), keyed by the
  normalised query and the negotiated media type, shared by the worker processes of one
  host and kept across restarts.

The state token changes with every release, so a new publication can never be hidden
behind a stale entry: old entries simply stop being asked for and age out (LRU).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from typing import BinaryIO

import diskcache

#: Answers above this size are not kept in memory (the disk level may keep them).
HOT_MAX_ENTRY = 1 << 20
#: A body streaming out is spooled in memory up to this size, then to a temporary file.
SPOOL_IN_MEMORY = 1 << 20


class ResponseCache:
    """Bodies on disk. A large body is spooled to a file as it streams out (memory stays
    flat) and handed to diskcache as a file; it is read back as a file too."""

    def __init__(self, directory: str, size_limit: int, max_entry: int):
        self.cache = diskcache.Cache(directory, size_limit=size_limit,
                                     eviction_policy="least-recently-used")
        self.directory = directory
        self.max_entry = max_entry

    @staticmethod
    def key(state: str, path: str, params: list[tuple[str, str]], media_type: str, lang: str) -> str:
        norm = "&".join(f"{k}={v}" for k, v in sorted(params) if k != "format")
        raw = f"{state}\n{path}\n{norm}\n{media_type}\n{lang}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> bytes | BinaryIO | None:
        """The body: bytes, or for a large one an open file (the caller closes it)."""
        body = self.cache.get(key, read=True)
        if body is not None and not isinstance(body, bytes):  # diskcache keeps most in files
            if os.fstat(body.fileno()).st_size <= SPOOL_IN_MEMORY:
                with body:
                    return body.read()
        return body

    def set(self, key: str, body: bytes) -> None:
        if len(body) <= self.max_entry:
            self.cache.set(key, body)

    def tee(self, key: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass chunks through; keep the whole body once complete, if it is not too big."""
        spool: tempfile.SpooledTemporaryFile | None = None
        if self.max_entry:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=self.directory)
        size = 0
        try:
            for chunk in chunks:
                if spool is not None:
                    size += len(chunk)
                    if size > self.max_entry:
                        spool.close()
                        spool = None
                    else:
                        spool.write(chunk)
                yield chunk
            if spool is not None:
                spool.seek(0)
                if size <= SPOOL_IN_MEMORY:
                    self.cache.set(key, spool.read())
                else:  # diskcache copies the file into its own, chunk by chunk
                    self.cache.set(key, spool, read=True)
        finally:
            if spool is not None:
                spool.close()


def file_chunks(body: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """A cached body kept as a file, read in blocks (and closed)."""
    with body:
        while block := body.read(size):
            yield block


# --- in memory, in front of the application ----------------------------------------------------

class HotResponses:
    """ASGI middleware: replays recent answers to identical requests.

    Kept: complete 200 answers to GET that carry an ETag (the data, structure, schema and
    metadata routes set one: their answer is a function of the request and the state of
    the store), up to HOT_MAX_ENTRY bytes, MEMORY_CACHE_SIZE bytes in all (least recently
    used go first). Replayed: for a request with the same path, query string, and the
    headers those answers vary on (Accept, Accept-Encoding, Accept-Language), while the
    state of the store is the one the answer was kept under. Conditional requests pass
    through (the routes answer them with a 304 before any work).

    `state()` returns the current state token without blocking, or None when it must be
    read again from the database (then the request goes through the application, which
    reads it)."""

    VARY = (b"accept", b"accept-encoding", b"accept-language")

    def __init__(self, app, state, size: int):
        self.app, self.state, self.size = app, state, size
        self.used = 0
        self.entries: OrderedDict[tuple, tuple[list, bytes]] = OrderedDict()

    def _key(self, scope, token: str) -> tuple | None:
        headers = dict((k, v) for k, v in scope["headers"] if k in self.VARY or k in CONDITIONAL)
        if any(k in CONDITIONAL for k in headers):
            return None
        # Host too: data messages name their schema and structures by absolute URL.
        host = next((v for k, v in scope["headers"] if k == b"host"), None)
        return (token, scope.get("scheme"), host, scope["path"], scope.get("query_string", b""),
                *(headers.get(k) for k in self.VARY))

    async def __call__(self, scope, receive, send) -> None:
        token = self.state() if scope["type"] == "http" and scope["method"] == "GET" and self.size else None
        key = self._key(scope, token) if token is not None else None
        if key is None:
            await self.app(scope, receive, send)
            return
        hit = self.entries.get(key)
        if hit is not None:  # one event loop per process: no lock needed
            self.entries.move_to_end(key)
            headers, body = hit
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        start: dict | None = None
        parts: list[bytes] | None = []
        size = 0

        async def keep(message) -> None:
            nonlocal start, parts, size
            if message["type"] == "http.response.start":
                # A copy: the layers outside (CORS, Vary) change the message on its way out.
                start = {**message, "headers": list(message.get("headers", []))}
                if message["status"] != 200 or not any(k == b"etag" for k, _ in message.get("headers", [])):
                    parts = None
            elif message["type"] == "http.response.body" and parts is not None:
                size += len(message.get("body", b""))
                if size > HOT_MAX_ENTRY:
                    parts = None
                else:
                    parts.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        self._keep(key, start, b"".join(parts))
            await send(message)

        await self.app(scope, receive, keep)

    def _keep(self, key: tuple, start: dict, body: bytes) -> None:
        headers = [(k, v) for k, v in start.get("headers", [])
                   if k not in (b"content-length", b"transfer-encoding", b"x-cache")]
        headers += [(b"content-length", str(len(body)).encode()), (b"x-cache", b"hit")]
        old = self.entries.pop(key, None)
        self.used += len(body) - (len(old[1]) if old else 0)
        self.entries[key] = (headers, body)
        while self.used > self.size:
            _, (_, dropped) = self.entries.popitem(last=False)
            self.used -= len(dropped)


CONDITIONAL = (b"if-none-match", b"if-modified-since")
