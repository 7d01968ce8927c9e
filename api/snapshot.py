"""What is published, as of one state of the store and one moment: the snapshot every
response is built on.

A ``Snapshot`` holds the state token (it changes with every publisher transaction and
whenever a scheduled release's time passes: part of every cache key and ETag), the
moment it describes, the releases, the structure documents visible then, and whatever
the routes derive from them once per state and dataflow (``memo``: a dataflow's DSD and
codelists, its series index). Nothing in it changes after it is built.

The embargo lives here. Rows of a scheduled release are in the store before its time;
the snapshot knows which releases are public at its moment, and every query built on it
hides the others (api.store.visible). A snapshot expires at the next release time, so
at that second every process answers from a new state, with new cache keys and ETags:
no answer computed before a release is served after it.

``Snapshots.current()`` reads the state from the database at most every ``STATE_TTL``
seconds (api.config), and at once when a release time passes, so that an answer from the
response cache costs no database round trip at all; a release published (or rescheduled)
by the publisher is therefore seen by every API process within ``STATE_TTL``. A response
that is built, not taken from the cache, re-reads the state inside the read transaction
that builds it (``confirm``), so the structures and the data of one response always come
from one state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from api import store

log = logging.getLogger("api")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Snapshot:
    token: str
    now: datetime  # the moment this snapshot describes (UTC)
    releases: store.Releases
    documents: list[dict]  # the structure documents visible at `now`
    memo: dict[Any, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def published_at(self) -> datetime | None:
        """When the latest public release went out (UTC): Last-Modified."""
        return self.releases.last_published(self.now)

    @cached_property  # read on every request (is the snapshot still true?)
    def next_release(self) -> datetime | None:
        """When this snapshot stops being true: the next scheduled release time."""
        return self.releases.next_release(self.now)

    def hidden(self, dataflow: str | None = None, as_of: datetime | None = None) -> frozenset[int]:
        """The releases a query must not show: embargoed now, or not yet public `as_of`
        (a moment after now is now: asOf cannot see the future)."""
        return self.releases.hidden(self.moment(as_of), dataflow)

    def moment(self, as_of: datetime | None = None) -> datetime:
        return self.now if as_of is None or as_of > self.now else as_of

    def bind(self, dq, dataflow: str):
        """Fill in a data query's vintage (api.query.DataQuery): the releases it must not
        show, and with updatedAfter the public releases since."""
        dq.hidden = self.hidden(dataflow, dq.as_of)
        if dq.updated_after is not None:
            dq.updated_in = self.releases.updated_after(self.moment(dq.as_of), dq.updated_after)
        return dq

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
    """The current snapshot, re-read from the store at most every `ttl` seconds (by the
    monotonic `clock`) and whenever the wall clock `now` reaches the next release time."""

    def __init__(self, engine: Engine, ttl: float, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utc_now, shelf: Any = None):
        self.engine, self.ttl, self.clock, self.now = engine, ttl, clock, now
        # Where the last state read is shared with the other workers of this host (the
        # response cache: api.cache.ResponseCache.keep_state/last_state), or None.
        self.shelf = shelf
        self._current: Snapshot | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def _fresh(self, snap: Snapshot | None) -> bool:
        if snap is None or self.clock() - self._checked >= self.ttl:
            return False
        turn = snap.next_release
        return turn is None or self.now() < turn

    def current(self) -> Snapshot:
        snap = self._current
        if self._fresh(snap):
            return snap
        with self._lock:
            if self._fresh(self._current):
                return self._current  # another thread has just refreshed it
            try:
                with self.engine.connect() as conn:
                    conn.begin()
                    return self._refresh(conn)
            except OperationalError:
                # Stale-if-error: the store is unreachable (a restart, a failover). Keep
                # answering from the last state read, and so from the caches, unless a
                # release time has passed since (no answer from before a release after
                # it); try the store again in STATE_TTL, not on every request.
                snap = self._current or self._shared()
                turn = snap.next_release if snap is not None else None
                if snap is None or (turn is not None and self.now() >= turn):
                    raise
                if snap is self._current:
                    log.warning("store unreachable: answering from state %s, read %.1f s ago",
                                snap.token, self.clock() - self._checked)
                self._current, self._checked = snap, self.clock()
                return snap

    def _shared(self) -> Snapshot | None:
        """The last state another worker of this host read (a worker that has not read
        the store yet, when it cannot: started, or never asked, during the outage)."""
        kept = self.shelf.last_state() if self.shelf is not None else None
        if not (isinstance(kept, tuple) and len(kept) == 4):
            return None
        token, read_at, releases, documents = kept
        turn = releases.next_release(read_at)
        if turn is not None and self.now() >= turn:
            return None  # a release time has passed since: that state is no longer true
        log.warning("store unreachable: answering from state %s, read by another worker", token)
        return Snapshot(token, self.now(), releases, documents)

    def token_if_fresh(self) -> str | None:
        """The current state token if it was read within STATE_TTL and no release time has
        passed since, else None (no I/O: safe to call on the event loop)."""
        snap = self._current
        return snap.token if self._fresh(snap) else None

    def confirm(self, conn: Connection) -> Snapshot:
        """The snapshot of `conn`'s transaction now (the current one unless something was
        published, or a release time passed, since it was read)."""
        releases = store.releases(conn)
        snap = self._current
        if snap is not None and snap.token == releases.token(self.now()) and self._fresh(snap):
            return snap
        with self._lock:
            return self._refresh(conn, releases)

    def _refresh(self, conn: Connection, releases: store.Releases | None = None) -> Snapshot:
        releases = releases if releases is not None else store.releases(conn)
        now = self.now()
        token = releases.token(now)
        if self._current is None or self._current.token != token:
            self._current = Snapshot(token, now, releases, store.documents(conn, releases.hidden(now)))
            if self.shelf is not None:
                self.shelf.keep_state((token, now, releases, self._current.documents))
        self._checked = self.clock()
        return self._current
