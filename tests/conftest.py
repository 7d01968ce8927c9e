"""Shared fixtures: the content, the demonstration extracts, a published store on each
backend (SQLite and PostgreSQL), and a live server for real SDMX clients."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import sdmx.reader.xml.v30  # noqa: F401  (see below)
import uvicorn
from sqlalchemy import create_engine, text

from api.config import Settings
from publisher.content import load
from publisher.demo import generate
from publisher.extract import read_extract
from publisher.publish import publish
from publisher.staging import ingest
from store.db import make_engine
from store.migrate import upgrade

# sdmx1 imports its SDMX-ML 3.0 reader lazily, and the import fails once its 2.1 reader
# has read structure-specific data (it registers the data set's namespace, which the
# 3.0 module cannot map to a prefix). Importing it first makes the tests independent of
# their order.

PG_URL = os.environ.get("TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        with create_engine(PG_URL, connect_args={"connect_timeout": 3}).connect() as c:
            c.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - report any reason for skipping
        return f"PostgreSQL at {PG_URL} is unreachable ({exc.__class__.__name__}); PostgreSQL tests skipped"
    return None


@pytest.fixture(scope="session")
def content():
    return load()


@pytest.fixture(scope="session")
def demo_files(content, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("demo")
    return dict(generate(content, out))


def new_database(kind: str, tmp_path_factory) -> tuple[str, callable]:
    """A fresh, empty database URL of the given kind and a function that drops it."""
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("store") / "store.sqlite"
        return f"sqlite:///{path}", lambda: None
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"

    def drop():
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url, drop


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(params=BACKENDS)
def empty_store(request, tmp_path_factory):
    """A migrated, empty store on each backend (function scope: tests may write)."""
    url, drop = new_database(request.param, tmp_path_factory)
    engine = make_engine(url)
    upgrade(engine)
    yield url
    engine.dispose()
    drop()


def publish_demo(url: str, content, demo_files) -> None:
    engine = make_engine(url)
    upgrade(engine)
    for flow_id, path in demo_files.items():
        ingest(engine, read_extract(path, content.dataflow(flow_id)))
    publish(engine, content, "demonstration")
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def published_store(request, tmp_path_factory, content, demo_files):
    """A store with the demonstration data published (shared: tests must not write)."""
    url, drop = new_database(request.param, tmp_path_factory)
    publish_demo(url, content, demo_files)
    yield url
    drop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, url: str, cache_dir: Path):
        from api.app import create_app

        self.app = create_app(Settings(database_url=url, cache_dir=str(cache_dir),
                                       cache_size=2**30, cache_max_entry=2**26))
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def live_server(published_store, tmp_path_factory):
    with LiveServer(published_store, tmp_path_factory.mktemp("cache")) as server:
        yield server


@pytest.fixture(scope="session")
def api_client(published_store, tmp_path_factory):
    """In-process client (no socket) for route tests."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(Settings(database_url=published_store,
                              cache_dir=str(tmp_path_factory.mktemp("cache")),
                              cache_size=2**30, cache_max_entry=2**26))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
