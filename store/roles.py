"""Database roles on PostgreSQL: the public API reads, the publisher writes.

* The **API role** (``migstat_api`` by default) may read the public area only: SELECT on the
  ``public_*`` tables, nothing on staging (true values, before disclosure control), no
  write anywhere, and every one of its transactions read-only by default. Even a bug in
  the API, or an injection that got past it, can neither change nor see what it should not.
* The **publisher role** (``migstat_publisher``) owns the work: everything on every table
  of the store's schema, and it runs the migrations.

``grant`` is idempotent: run it after every migration (``publisher db roles``), since new
tables get no grants by themselves. SQLite has no roles: the API opens the file read-only
(store.db), and the publisher's file permissions do the rest.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from store.schema import metadata

API_ROLE = "migstat_api"
PUBLISHER_ROLE = "migstat_publisher"


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"{name!r} is not a plain role name")
    return f'"{name}"'


def statements(schema: str, api_role: str = API_ROLE, publisher_role: str = PUBLISHER_ROLE) -> list[str]:
    """The SQL that creates both roles (without passwords: set them with ALTER ROLE, or use
    certificates) and grants each what it may do."""
    api, pub, sch = _quoted(api_role), _quoted(publisher_role), _quoted(schema)
    public_tables = sorted(t.name for t in metadata.sorted_tables if t.name.startswith("public_"))
    every_table = sorted(t.name for t in metadata.sorted_tables)
    out = []
    for role in (api_role, publisher_role):
        out.append(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
                   f"THEN CREATE ROLE {_quoted(role)} LOGIN; END IF; END $$")
    out += [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {sch} FROM {api}",
        f"REVOKE CREATE ON SCHEMA {sch} FROM {api}",
        f"GRANT USAGE ON SCHEMA {sch} TO {api}",
        *[f"GRANT SELECT ON {sch}.{_quoted(t)} TO {api}" for t in public_tables],
        f"ALTER ROLE {api} SET default_transaction_read_only = on",
        f"GRANT USAGE, CREATE ON SCHEMA {sch} TO {pub}",
        *[f"GRANT ALL ON {sch}.{_quoted(t)} TO {pub}" for t in every_table + ["alembic_version"]],
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {sch} TO {pub}",
    ]
    return out


def grant(engine: Engine, api_role: str = API_ROLE, publisher_role: str = PUBLISHER_ROLE,
          passwords: dict[str, str] | None = None) -> list[str]:
    """Create the roles and apply the grants in the engine's current schema (run as the
    schema's owner or a superuser); `passwords`: role -> password to set. Returns the
    statements run (without the passwords)."""
    if engine.dialect.name != "postgresql":
        raise ValueError("roles are a PostgreSQL feature; SQLite is opened read-only by the API instead")
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        done = statements(schema, api_role, publisher_role)
        for sql in done:
            conn.execute(text(sql))
        for role, password in (passwords or {}).items():
            # ALTER ROLE takes no bind parameters: the literal is quoted by doubling quotes.
            literal = "'" + password.replace("'", "''") + "'"
            conn.execute(text(f"ALTER ROLE {_quoted(role)} PASSWORD {literal}".replace(":", r"\:")))
    return done
