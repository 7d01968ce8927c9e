"""What is published, as of one state of the store: the snapshot every response is built on.

A ``Snapshot`` holds the state token (it changes with every release: part of every cache
key and ETag), the time of the latest release (Last-Modified), the structure documents,
and whatever the routes derive from them once per state and dataflow (``memo``: a
dataflow's DSD and codelists, its series index). Nothing in it changes after it is built.

``Snapshots.current()`` reads the state token from the database at most every
``STATE_TTL`` seconds (api.config), so that an answer from the response cache costs no
database round trip at all; a new release is therefore seen by every API process within
``STATE_TTL`` of its publication. A response that is built, not taken from the cache,
re-reads the token inside the read transaction that builds it (``confirm``), so the
structures and the data of one response always come from one state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from api import store


@dataclass
class Snapshot:
    token: str
    published_at: datetime | None  # when the latest release was published (UTC)
    documents: list[dict]
    memo: dict[Any, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def derived(self, key: Any, build: Callable[[], Any]) -> Any:
        """`build()` once per snapshot and key (a dataflow's bundle, its series index...)."""
        try:
            return self.memo[key]
        except KeyError:
            pass
        with self._lock:  # one build per key, however many requests ask at once
            if key not in self.memo:
                self.memo[key] = build()
            return self.memo[key]


class Snapshots:
    """The current snapshot, re-read from the store at most every `ttl` seconds."""

    def __init__(self, engine: Engine, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.engine, self.ttl, self.clock = engine, ttl, clock
        self._current: Snapshot | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        snap = self._current
        if snap is not None and self.clock() - self._checked < self.ttl:
            return snap
        with self._lock:
            if self._current is not None and self.clock() - self._checked < self.ttl:
                return self._current  # another thread has just refreshed it
            with self.engine.connect() as conn:
                conn.begin()
                return self._refresh(conn)

    def token_if_fresh(self) -> str | None:
        """The current state token if it was read within STATE_TTL, else None (no I/O:
        safe to call on the event loop)."""
        snap = self._current
        if snap is not None and self.clock() - self._checked < self.ttl:
            return snap.token
        return None

    def confirm(self, conn: Connection) -> Snapshot:
        """The snapshot of `conn`'s transaction (the current one unless a release has
        been published since it was read)."""
        token = store.state_token(conn)
        snap = self._current
        if snap is not None and snap.token == token:
            return snap
        with self._lock:
            return self._refresh(conn, token)

    def _refresh(self, conn: Connection, token: str | None = None) -> Snapshot:
        token = token if token is not None else store.state_token(conn)
        if self._current is None or self._current.token != token:
            self._current = Snapshot(token, store.last_published(conn), store.documents(conn))
        self._checked = self.clock()
        return self._current
