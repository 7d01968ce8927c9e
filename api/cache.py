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
import logging
import os
import pickle
import sqlite3
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import BinaryIO

import diskcache

log = logging.getLogger("api.cache")

#: The cache key of the last state of the store read on this host (not a SHA-256: no clash).
LAST_STATE = "state:last"
#: Answers above this size are not kept in memory (the disk level may keep them).
HOT_MAX_ENTRY = 1 << 20
#: A body streaming out is spooled in memory up to this size, then to a temporary file.
SPOOL_IN_MEMORY = 1 << 20


class ResponseCache:
    """Bodies on disk. A large body is spooled to a file as it streams out (memory stays
    flat) and handed to diskcache as a file; it is read back as a file too.

    Every body is kept with its checksum (BLAKE2b, 128 bits, in diskcache's ``tag``
    column, written in the same row and transaction as the body) and checked on every
    read, before a byte is sent: an entry that does not match (a flipped bit on disk, a
    file truncated or overwritten) is logged, deleted and reported as a miss, so the body
    is computed again and never served corrupt. Bodies read into memory are hashed there
    (about 5 µs for 4 KB); a large body kept as a file is hashed by reading the file once
    before it is streamed (about 0.8 GB/s here, from the page cache), because once its
    200 and Content-Length are sent a corrupt byte could no longer be withheld.

    The cache is an optimisation, never a reason to fail: when its disk is full,
    read-only or broken (OSError, sqlite3.Error from diskcache's index), answers are
    computed and sent uncached, and the fault is logged (once per minute at most)."""

    def __init__(self, directory: str, size_limit: int, max_entry: int):
        self.directory = directory
        self.max_entry = max_entry
        self._warned = float("-inf")
        self.cache: diskcache.Cache | None = None
        try:
            self.cache = diskcache.Cache(directory, size_limit=size_limit,
                                         eviction_policy="least-recently-used")
        except DISK_FAULTS as exc:
            self._fault("opening", exc)

    @staticmethod
    def key(state: str, path: str, params: list[tuple[str, str]], media_type: str, lang: str) -> str:
        norm = "&".join(f"{k}={v}" for k, v in sorted(params) if k != "format")
        raw = f"{state}\n{path}\n{norm}\n{media_type}\n{lang}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _fault(self, doing: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned >= 60:
            self._warned = now
            log.warning("response cache at %s: %s failed (%s: %s); answering without it",
                        self.directory, doing, exc.__class__.__name__, exc)

    def get(self, key: str) -> bytes | BinaryIO | None:
        """The body: bytes, or for a large one an open file (the caller closes it); None
        when absent, corrupt or unreadable."""
        if self.cache is None:
            return None
        try:
            body, tag = self.cache.get(key, read=True, tag=True)
        except DISK_FAULTS as exc:
            self._fault("reading", exc)
            return None
        if body is None:
            return None
        try:
            if isinstance(body, bytes):
                if tag == checksum(body):
                    return body
            else:  # diskcache keeps most in files
                size = os.fstat(body.fileno()).st_size
                if size <= SPOOL_IN_MEMORY:
                    with body:
                        data = body.read()
                    if tag == checksum(data):
                        return data
                else:
                    digest = hashlib.blake2b(digest_size=16)
                    while block := body.read(1 << 20):
                        digest.update(block)
                    if tag == digest.hexdigest():
                        body.seek(0)
                        return body
                    body.close()
        except OSError as exc:
            if not isinstance(body, bytes):
                body.close()
            self._fault("reading", exc)
            return None
        if tag is not None:  # no tag: kept before checksums, simply computed again
            log.error("response cache entry %s is corrupt (checksum mismatch): deleted, computed again", key)
        try:
            self.cache.delete(key)
        except DISK_FAULTS as exc:
            self._fault("deleting", exc)
        return None

    def set(self, key: str, body: bytes) -> None:
        if self.cache is not None and len(body) <= self.max_entry:
            try:
                self.cache.set(key, body, tag=checksum(body))
            except DISK_FAULTS as exc:
                self._fault("writing", exc)

    def keep_state(self, state: object) -> None:
        """Keep the last state of the store read by any worker of this host (api.snapshot),
        so that a worker which has not read it yet can still answer from the cache while
        the database is unreachable. Pickled, with its checksum like any body; never
        evicted before the bodies it keys (it is rewritten at every state change)."""
        if self.cache is not None:
            body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                self.cache.set(LAST_STATE, body, tag=checksum(body))
            except DISK_FAULTS as exc:
                self._fault("writing", exc)

    def last_state(self) -> object | None:
        """The state kept by keep_state, or None (absent, corrupt or unreadable)."""
        body = self.get(LAST_STATE)
        if body is None:
            return None
        if not isinstance(body, bytes):
            with body:
                body = body.read()
        try:
            return pickle.loads(body)  # our own bytes, checked against their checksum
        except Exception as exc:  # noqa: BLE001 - an old layout, say: as good as absent
            self._fault("unpickling the last state", exc)
            return None

    def tee(self, key: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass chunks through; keep the whole body once complete, if it is not too big.
        A disk fault while spooling or keeping it never interrupts the answer."""
        spool: tempfile.SpooledTemporaryFile | None = None
        digest = hashlib.blake2b(digest_size=16)
        if self.max_entry and self.cache is not None:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=self.directory)
        size = 0
        try:
            for chunk in chunks:
                if spool is not None:
                    size += len(chunk)
                    if size > self.max_entry:
                        _discard(spool)
                        spool = None
                    else:
                        try:
                            spool.write(chunk)  # may roll over to a file on a full disk
                            digest.update(chunk)
                        except OSError as exc:
                            self._fault("spooling", exc)
                            _discard(spool)
                            spool = None
                yield chunk
            if spool is not None:
                try:
                    spool.seek(0)
                    if size <= SPOOL_IN_MEMORY:
                        self.cache.set(key, spool.read(), tag=digest.hexdigest())
                    else:  # diskcache copies the file into its own, chunk by chunk
                        self.cache.set(key, spool, read=True, tag=digest.hexdigest())
                except DISK_FAULTS as exc:
                    self._fault("writing", exc)
        finally:
            if spool is not None:
                _discard(spool)


def _discard(spool: tempfile.SpooledTemporaryFile) -> None:
    """Close a spool whose content is not wanted (closing flushes: ENOSPC once more)."""
    try:
        spool.close()
    except OSError:
        pass


def checksum(body: bytes) -> str:
    """The checksum kept with a cached body (BLAKE2b, 128 bits, hex)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


#: What a full, read-only or damaged cache disk raises (diskcache's index is SQLite).
DISK_FAULTS = (OSError, sqlite3.Error)


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
