#!/usr/bin/env bash
# The standard benchmark set on local PostgreSQL: a million defects (generated once and
# reused), SQL statements per request, then every load scenario against the release
# server. Results go to stdout as Markdown; docs/BENCHMARKS.md holds the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

DEFECTS="${DEFECTS:-1000000}"
BENCH_DB="${BENCH_DB:-dc_bench}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
URL="$PG/$BENCH_DB?sslmode=disable"
CONCURRENCY="${CONCURRENCY:-16}"
SECONDS_PER_SCENARIO="${SECONDS_PER_SCENARIO:-10}"
TARGET="${CARGO_TARGET_DIR:-target}"

cargo build --release --locked --bins

psql "$PG/postgres" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'" | grep -q 1 \
  || psql "$PG/postgres" -qc "CREATE DATABASE $BENCH_DB"
# SSD storage: PostgreSQL's default random_page_cost (4) assumes spinning disks and
# keeps the planner off the covering index behind the reports (README, Operations).
psql "$PG/postgres" -qc "ALTER DATABASE $BENCH_DB SET random_page_cost = 1.1"
have=$(psql "$PG/$BENCH_DB" -Atqc "SELECT count(*) FROM defects" 2>/dev/null || echo 0)
if [ "$have" != "$DEFECTS" ]; then
  echo "== generating $DEFECTS defects into $BENCH_DB"
  "$TARGET/release/bench" generate --database-url "$URL" --defects "$DEFECTS"
fi

echo "== machine"
echo "date: $(date -u +%F), cores: $(nproc), memory: $(free -g | awk '/Mem:/ {print $2}') GiB, $(psql "$PG/postgres" -Atqc 'SHOW server_version' | sed 's/^/PostgreSQL /')"
echo "== SQL statements per request"
"$TARGET/release/bench" statements --database-url "$URL"
echo "== load (each scenario ${SECONDS_PER_SCENARIO}s at $CONCURRENCY connections)"
"$TARGET/release/bench" run --database-url "$URL" --server "$TARGET/release/defect-control" \
  --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_SCENARIO"
