#!/bin/sh
# Entrypoint of the smoke test's local PostgreSQL image (scripts/docker-base-images.sh):
# the part of the official postgres image's contract that docker-compose.yml uses.
# On an empty PGDATA, initdb with POSTGRES_USER / POSTGRES_PASSWORD (md5 over TCP) and
# create POSTGRES_DB; then run postgres in the foreground on PGPORT (default 5432),
# listening on LISTEN_ADDRESSES (default *).
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${PGPORT:=5432}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
: "${LISTEN_ADDRESSES:=*}"
export PGPORT

mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"

as_pg() { su postgres -s /bin/sh -c "$*"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp) && printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile" && chown postgres "$pwfile"
  as_pg "initdb -D '$PGDATA' -U '$POSTGRES_USER' --pwfile='$pwfile' --auth-local=trust --auth-host=md5 -E UTF8" >/dev/null
  rm -f "$pwfile"
  echo "host all all all md5" >>"$PGDATA/pg_hba.conf"
  as_pg "pg_ctl -D '$PGDATA' -o \"-c listen_addresses=''\" -w start" >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    as_pg "psql -U '$POSTGRES_USER' -d postgres -v ON_ERROR_STOP=1 -c 'CREATE DATABASE \"$POSTGRES_DB\"'" >/dev/null
  fi
  as_pg "pg_ctl -D '$PGDATA' -m fast -w stop" >/dev/null
  echo "initialised $PGDATA: user $POSTGRES_USER, database $POSTGRES_DB"
fi

# setpriv (not su): postgres itself becomes PID 1 and gets docker stop's SIGTERM.
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$PGDATA" -p "$PGPORT" -c listen_addresses="$LISTEN_ADDRESSES"
