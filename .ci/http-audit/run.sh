#!/usr/bin/env bash
# Starts the built server on a temporary SQLite database and runs the GraphQL-over-HTTP
# audit against it. Usage: .ci/http-audit/run.sh <path to defect-control binary> [port]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"
port="${2:-18080}"
tmp="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
(cd "$here" && npm ci --offline --no-audit --no-fund --silent)
DATABASE_URL="sqlite://$tmp/audit.db?mode=rwc" STORAGE_URL="$tmp/media" \
  BIND_ADDR="127.0.0.1:$port" RUST_LOG=warn "$bin" serve >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
  sleep 0.2
done
if ! node "$here/audit.mjs" "http://127.0.0.1:$port/graphql"; then
  echo "--- server log"; cat "$tmp/server.log"; exit 1
fi
