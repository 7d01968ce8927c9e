#!/bin/sh
# A stand-in for the official image's entrypoint: POSTGRES_PASSWORD, POSTGRES_DB, a data
# directory initialised once, password authentication over the network.
set -e
PGDATA=/var/lib/postgresql/data
BIN=/usr/lib/postgresql/15/bin
mkdir -p "$PGDATA" /run/postgresql && chown -R postgres "$PGDATA" /run/postgresql && chmod 700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > /tmp/pw && chown postgres /tmp/pw
  as_postgres $BIN/initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pw -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm /tmp/pw
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  as_postgres $BIN/pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  [ -z "$POSTGRES_DB" ] || as_postgres $BIN/createdb -U postgres "$POSTGRES_DB"
  as_postgres $BIN/pg_ctl -D "$PGDATA" -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups $BIN/postgres -D "$PGDATA" -c listen_addresses='*'
