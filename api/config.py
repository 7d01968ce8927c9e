"""Settings from the environment (12-factor): one place to see every knob.

Environment variables (all optional except where the database URL is concerned):

``DATABASE_URL`` (see store.db)
    The store the API reads, on a read-only connection.
``CACHE_DIR`` (default ``var/cache``)
    Directory of the on-disk response cache (diskcache).
``CACHE_SIZE`` (default 2 GiB)
    Bytes on disk for the response cache; least recently used entries go first.
``CACHE_MAX_ENTRY`` (default 512 MiB)
    Larger responses are streamed but not kept in the response cache. A large response is
    spooled to a file as it streams out, so keeping it costs disk, not memory.
``MEMORY_CACHE_SIZE`` (default 64 MiB)
    Bytes of recent answers (up to 1 MiB each) each API process keeps in memory and
    replays to identical requests, in front of the on-disk cache (api.cache.HotResponses).
    Off when CACHE_MAX_ENTRY is 0.
``BUFFER_OBSERVATIONS`` (default 20,000)
    Data answers of up to this many observations are read whole and sent with a
    Content-Length; larger ones are streamed as they are read (memory stays flat).
``ARROW_READS`` (default 1)
    Read large data answers (above BUFFER_OBSERVATIONS, default view) as Arrow columns
    through the database's ADBC driver (adbc-driver-sqlite / adbc-driver-postgresql), and
    write them a batch at a time (api.formats.columns). 0: always row by row.
``STATE_TTL`` (default 1 second)
    How long an API process trusts its last reading of the store's state (which release
    is current) before reading it again. A response served from the cache costs no
    database round trip within that time; a new release is seen by every process at most
    this many seconds after it is published. 0: read it on every request.
``HTTP_MAX_AGE`` (default 300)
    Seconds a client or proxy may reuse a data, structure, schema or metadata response
    without asking again (``Cache-Control: public, max-age=...``). After that it revalidates
    with ``If-None-Match`` / ``If-Modified-Since`` and gets a 304 while nothing was published.
``MAX_URI_LENGTH`` (default 4096)
    Longest request URI (path and query string, in bytes) the service reads; longer ones
    answer 414 URI Too Long before any routing.
``MAX_OBSERVATIONS`` (default 5,000,000)
    Most observations one data response may hold; a query matching more answers 413 and
    names both numbers, so the client can narrow the key or the period.
``GZIP_MIN_SIZE`` (default 1024)
    Responses smaller than this many bytes are sent uncompressed even to gzip clients.
``GZIP_LEVEL`` (default 5)
    zlib compression level (1 fastest … 9 smallest) for gzip clients.
``CORS_ORIGINS`` (default ``*``)
    Comma-separated origins browsers may read responses from (``*``: any origin).
``RATE_LIMIT`` (default 0: off)
    Requests per second each client may make to one API process, on average; a client
    going faster gets 429 with ``Retry-After``. ``RATE_LIMIT_BURST`` (default 4 x the
    rate, at least 1) requests may come at once. Per process: with N workers a client may
    get up to N times as much, so production limits at the reverse proxy too.
``LOG_FORMAT`` (default ``text``)
    ``json``: logs as one JSON object per line, with an access entry per request (api.logs).
``TRUST_FORWARDED_FOR`` (default 0)
    1 behind a reverse proxy: the client is the last address the proxy appended to
    ``X-Forwarded-For``, not the proxy's. Never set it without a proxy in front, or any
    client could pose as another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from store.db import ROOT, database_url


@dataclass(frozen=True)
class Settings:
    database_url: str
    cache_dir: str
    cache_size: int  # bytes on disk for the response cache
    cache_max_entry: int  # larger responses are streamed but not cached
    memory_cache_size: int = 64 * 1024**2  # bytes of small responses kept in memory
    state_ttl: float = 1.0  # seconds the state of the store is trusted before re-reading
    buffer_observations: int = 20_000  # data answers up to this size are sent whole, not streamed
    arrow_reads: bool = True  # large answers read as Arrow columns (ADBC) and written vectorised
    http_max_age: int = 300  # seconds, Cache-Control max-age
    max_uri_length: int = 4096  # bytes of path + query string; longer: 414
    max_observations: int = 5_000_000  # per data response; more: 413
    gzip_min_size: int = 1024  # bytes; smaller responses are not compressed
    gzip_level: int = 5
    cors_origins: tuple[str, ...] = ("*",)
    rate_limit: float = 0.0  # requests per second per client and process; 0: no limit
    rate_limit_burst: int = 0  # 0: 4 x rate_limit
    trust_forwarded_for: bool = False
    log_format: str = "text"  # json: structured logs (api.logs)

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ.get
        return cls(
            database_url=database_url(),
            cache_dir=env("CACHE_DIR", str(ROOT / "var" / "cache")),
            cache_size=int(env("CACHE_SIZE", 2 * 1024**3)),
            cache_max_entry=int(env("CACHE_MAX_ENTRY", 512 * 1024**2)),
            memory_cache_size=int(env("MEMORY_CACHE_SIZE", 64 * 1024**2)),
            state_ttl=float(env("STATE_TTL", 1.0)),
            buffer_observations=int(env("BUFFER_OBSERVATIONS", 20_000)),
            arrow_reads=env("ARROW_READS", "1") not in ("0", "false", "no"),
            http_max_age=int(env("HTTP_MAX_AGE", 300)),
            max_uri_length=int(env("MAX_URI_LENGTH", 4096)),
            max_observations=int(env("MAX_OBSERVATIONS", 5_000_000)),
            gzip_min_size=int(env("GZIP_MIN_SIZE", 1024)),
            gzip_level=int(env("GZIP_LEVEL", 5)),
            cors_origins=tuple(o.strip() for o in env("CORS_ORIGINS", "*").split(",") if o.strip()),
            rate_limit=float(env("RATE_LIMIT", 0)),
            rate_limit_burst=int(env("RATE_LIMIT_BURST", 0)),
            trust_forwarded_for=env("TRUST_FORWARDED_FOR", "0") in ("1", "true", "yes"),
            log_format=env("LOG_FORMAT", "text"),
        )


def cache_dir_for(settings: Settings) -> Path:
    return Path(settings.cache_dir)
