# Shortcuts for the commands in the README; each recipe is the plain command, so nothing
# here works only through just. `just --dry-run RECIPE` prints what a recipe would run.

test_database_url := env("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")

# List the recipes
default:
    @{{ just_executable() }} --justfile {{ quote(justfile()) }} --list

# Build, migrate, load the demo data and serve on 127.0.0.1:8000
run:
    cargo run -- serve --seed seed/demo.json

# The test suite on SQLite (extra arguments go to cargo test)
test *args:
    cargo test {{ args }}

# The test suite on SQLite and on PostgreSQL at TEST_DATABASE_URL
test-pg *args:
    TEST_DATABASE_URL='{{ test_database_url }}' cargo test {{ args }}

# Formatting check and clippy with warnings as errors, as CI runs them
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Format the code
fmt:
    cargo fmt --all

# Apply pending migrations to DATABASE_URL
migrate:
    cargo run -- migrate

# Load the demo data (idempotent)
seed:
    cargo run -- seed seed/demo.json

# Regenerate schema.graphql after an API change
schema:
    cargo run -q -- print-schema > schema.graphql

# Run the benchmark (bench/run.sh; extra arguments go to it)
bench *args:
    @test -f bench/run.sh || { echo "just bench: bench/run.sh does not exist yet (the benchmark work adds it)" >&2; exit 1; }
    bash bench/run.sh {{ args }}

# Build the image and start PostgreSQL and the app (JWT_SECRET from the environment or .env)
up:
    docker compose up -d --build

# Stop and remove the containers (the volumes stay)
down:
    docker compose down

# Local stand-ins for the Dockerfile's base images and the smoke test's PostgreSQL image
# (for a Docker engine that reaches no image registry; see the Docker section of docs/operations.md)
docker-base-images *args:
    bash scripts/docker-base-images.sh {{ args }}

# Build the image, run it on SQLite and as the compose stack on PostgreSQL, smoke-test both
# (`just docker-smoke --check`: its expectations only, no Docker engine)
docker-smoke *args:
    bash scripts/docker-smoke.sh {{ args }}
