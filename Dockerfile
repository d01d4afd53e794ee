# defect-control: a release build with S3 support, then a slim Debian runtime.
#
#   docker build -t defect-control:local .
#   docker run --rm -p 8000:8000 -v defect-control-data:/data \
#     -e JWT_SECRET='a-long-random-secret-of-32-chars-or-more' \
#     -e PUBLIC_URL=http://localhost:8000 defect-control:local
#
# Without other settings the container keeps SQLite and attachments in the /data volume;
# docker-compose.yml runs it on PostgreSQL instead. JWT_SECRET is never part of the
# image: APP_ENV=production makes the server refuse to start without it, and without
# PUBLIC_URL (the origin of signed links, never taken from a request's Host header).
#
# Needs BuildKit (Docker 23+ by default, or DOCKER_BUILDKIT=1 on 20.10) for the cache
# mounts. There is no `# syntax=` line on purpose: the Dockerfile frontend built into
# BuildKit since Docker 20.10 has everything used here, and that line would make every
# build pull a frontend image first, which fails without a registry. Without one, base
# images come from scripts/docker-base-images.sh (see the Docker section of docs/operations.md).

ARG RUST_VERSION=1.95

# ---- build ------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /app

# The whole build context (see .dockerignore): Cargo.toml, Cargo.lock, migration/, src/, …
COPY . .

# Dependencies and the target dir live in BuildKit cache mounts, so a change to the code
# rebuilds only this crate. The cached target dir is not part of the layer: the binary is
# copied out of it in the same step. The s3 feature pulls aws-lc-rs, which builds with the
# C compiler of the full rust image.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/app/target,sharing=locked \
    cargo build --release --locked --features s3 --bin defect-control \
 && install -D -m 0755 target/release/defect-control /out/defect-control

# ---- runtime ----------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="defect-control" \
      org.opencontainers.image.description="Defect tracking for construction sites: a GraphQL server" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# CA certificates for TLS to S3 and PostgreSQL; nothing else (the health check is the
# binary itself, so no curl).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin app \
 && mkdir -p /data/media \
 && chown -R app:app /data

COPY --from=builder /out/defect-control /usr/local/bin/defect-control
# Demo fixtures: `defect-control seed /app/seed/demo.json`
COPY seed /app/seed

# The working directory is /, so the server's relative defaults (./data/media,
# sqlite://data/…), e.g. from an .env copied from .env.example, also land in /data.
# NO_COLOR: the text log format would otherwise write ANSI colour codes into `docker logs`
# (tracing-subscriber colours by default, TTY or not); LOG_FORMAT=json is unaffected.
# MIMALLOC_ALLOW_THP=0: no transparent huge pages for the allocator even on hosts whose
# THP mode is `always` (the build's `no_thp` only stops it asking for them); memory
# given back after load stays given back (docs/BENCHMARKS.md, "Memory after load").
# MIMALLOC_PURGE_DELAY=0: freed pages go back to the OS at once; with mimalloc's default
# delay an idle server kept its load-time peak (100k defects: 59 MiB 60 s after a load
# run, 2.6× idle; with 0: 1.5×, export CPU +~8 %; `bench run`, same file).
WORKDIR /
ENV BIND_ADDR=0.0.0.0:8000 \
    STORAGE_URL=/data/media \
    DATABASE_URL="sqlite:///data/defect-control.db?mode=rwc" \
    APP_ENV=production \
    NO_COLOR=1 \
    MIMALLOC_ALLOW_THP=0 \
    MIMALLOC_PURGE_DELAY=0

# Numeric, so a platform can verify the user is not root without reading /etc/passwd.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

# GET /health on BIND_ADDR (127.0.0.1 when bound to 0.0.0.0); exit 0 when it answers 200.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["defect-control", "healthcheck"]

# `serve` applies pending migrations, then listens; SIGTERM drains in-flight requests.
ENTRYPOINT ["defect-control"]
CMD ["serve"]
