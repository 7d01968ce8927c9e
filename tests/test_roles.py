"""PostgreSQL roles (store.roles): the public API connects as a role that can read the
public area and nothing else; the publisher's role does the writing.

Role names are global to the PostgreSQL cluster, so each run makes its own and drops them.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from api.config import Settings
from conftest import PG_URL, _pg_reachable
from publisher.extract import read_extract
from publisher.releases import publish_now
from publisher.staging import ingest
from store import roles
from store.db import make_engine
from store.migrate import upgrade

pytestmark = pytest.mark.postgresql
FLOW = "DF_NET_MIGR"


def as_role(role: str, schema: str) -> str:
    """The test server's URL, logging in as `role` (trust authentication) in `schema`."""
    return PG_URL.replace("postgres@", f"{role}@") + f"?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module")
def world(content, demo_files):
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:8]
    schema, api_role, pub_role = f"t_roles_{tag}", f"api_{tag}", f"pub_{tag}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    owner = make_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
    upgrade(owner)  # migrations: run by the schema's owner
    done = roles.grant(owner, api_role, pub_role)
    owner.dispose()
    # The publisher's role does the publishing: ingest, protect, audit, write.
    publisher = make_engine(as_role(pub_role, schema))
    ingest(publisher, read_extract(demo_files[FLOW], content.dataflow(FLOW)))
    publish_now(publisher, content, "by the publisher's role", dataflows=[FLOW], bulletins=False)
    publisher.dispose()
    yield {"schema": schema, "api": api_role, "publisher": pub_role, "statements": done}
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        for role in (api_role, pub_role):
            c.execute(text(f'DROP OWNED BY "{role}"'))
            c.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def test_the_api_serves_everything_as_the_read_only_role(world, tmp_path):
    app = create_app(Settings(database_url=as_role(world["api"], world["schema"]), cache_dir=str(tmp_path),
                              cache_size=2**26, cache_max_entry=2**20))
    with TestClient(app) as client:
        for path in (f"/sdmx/2.1/data/{FLOW}", f"/api/dataflows/{FLOW}/data.csv", "/sdmx/2.1/dataflow",
                     "/releases.json", "/catalogue.ttl", "/ready"):
            assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM staging_observation",  # true values, before disclosure control
    "SELECT count(*) FROM staging_extract",
    "DELETE FROM public_observation",
    "UPDATE public_release SET status = 'draft'",
    "INSERT INTO public_state (change) VALUES (999)",
    "CREATE TABLE sneaky (x int)",
    "DROP TABLE public_observation",
])
def test_the_api_role_cannot_see_staging_nor_change_anything(world, sql):
    # Autocommit, and read-write transactions asked for: the role's privileges alone refuse.
    engine = create_engine(as_role(world["api"], world["schema"]), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SET default_transaction_read_only = off"))  # even if it tries
            with pytest.raises(DBAPIError, match="permission denied|must be owner"):
                conn.execute(text(sql))
    finally:
        engine.dispose()


def test_the_api_role_reads_only_public_tables(world):
    granted = {s.split(".")[-1].split()[0].strip('"') for s in world["statements"]
               if s.startswith("GRANT SELECT") and f'"{world["api"]}"' in s}
    assert granted and all(t.startswith("public_") for t in granted)


def test_grants_are_idempotent(world):
    owner = make_engine(f"{PG_URL}?options=-csearch_path%3D{world['schema']}")
    try:
        assert roles.grant(owner, world["api"], world["publisher"]) == world["statements"]
    finally:
        owner.dispose()


def test_roles_refuse_sqlite():
    with pytest.raises(ValueError, match="PostgreSQL"):
        roles.grant(make_engine("sqlite://"))


def test_passwords_are_set_from_the_environment_and_never_printed(world):
    owner = make_engine(f"{PG_URL}?options=-csearch_path%3D{world['schema']}")
    try:
        done = roles.grant(owner, world["api"], world["publisher"], {world["api"]: "s3cr:et'pw"})
        assert not any("s3cr" in s for s in done)
        with owner.connect() as conn:
            stored = conn.execute(text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"),
                                  {"r": world["api"]}).scalar_one()
        assert stored and stored.startswith(("SCRAM-SHA-256$", "md5"))
    finally:
        owner.dispose()
