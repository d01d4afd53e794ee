#!/usr/bin/env bash
# Starts the built server on a loopback port with a seeded SQLite database and runs the
# browser tests (graphiql.mjs, apidocs.mjs) against it. Needs `chromium` and `npm ci`
# done (.ci/run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="${SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/defect-control}"
port=${BROWSER_TEST_PORT:-18400}
work=$(mktemp -d)
DATABASE_URL="sqlite://$work/browser.db?mode=rwc" STORAGE_URL="$work/media" \
BIND_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  "$bin" serve --seed "$root/seed/demo.json" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
BASE_URL="http://127.0.0.1:$port" node "$here/graphiql.mjs"
BASE_URL="http://127.0.0.1:$port" node "$here/apidocs.mjs"
