"""Engines for the store: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = f"sqlite:///{ROOT / 'var' / 'migstat.sqlite'}"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def _normalise(url: str) -> str:
    # psycopg 3 is the driver we install; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str | None = None, *, read_only: bool = False) -> Engine:
    """An engine for the store.

    `read_only=True` is the API's connection: on SQLite the file is opened with
    mode=ro, so the API physically cannot write; on PostgreSQL each transaction is
    read-only (production adds a read-only role, see README).
    """
    url = _normalise(url or database_url())
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A writer waits up to a minute for another (scheduling a release holds the write
        # lock through disclosure control; the scheduler queues behind it), not 5 s.
        args = {"check_same_thread": False, "timeout": 60}
        if read_only and path and path != ":memory:":
            engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args=args)
        else:
            engine = create_engine(url, connect_args=args)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # Let SQLAlchemy, not pysqlite, open transactions, so that reads in one
            # transaction see one snapshot (pysqlite would BEGIN only before writes).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not read_only:
                # WAL lets the API read while the publisher writes a release.
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN")

        return engine
    kwargs: dict = {"pool_pre_ping": True}
    if read_only:
        # One snapshot per request: the release state and the rows it streams agree.
        kwargs["execution_options"] = {"postgresql_readonly": True,
                                       "isolation_level": "REPEATABLE READ"}
    return create_engine(url, **kwargs)
