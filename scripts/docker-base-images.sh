#!/usr/bin/env bash
# Local stand-ins for the base images the Dockerfile names, for a Docker engine that can
# reach Debian's package mirror but no image registry (this project's machines):
#
#   debian:bookworm-slim  debootstrap --variant=minbase bookworm, imported
#   rust:1.95-bookworm    that + build-essential, pkg-config, ca-certificates, git and the
#                         host's Rust toolchain (rustup's copy of 1.95), laid out like the
#                         official image (RUSTUP_HOME=/usr/local/rustup,
#                         CARGO_HOME=/usr/local/cargo, cargo on PATH)
#   defect-control-postgres:15-bookworm-local
#                         Debian bookworm's postgresql (15) with an entrypoint that reads
#                         POSTGRES_USER/PASSWORD/DB like the official postgres image; used
#                         only by the smoke test's compose override (docker/compose.smoke.yml)
#
# Where a registry is reachable, none of this is needed: `docker build` pulls the official
# images. Rootfs directories go to $WORK (default /var/tmp/defect-control-docker), never
# into the repository. Re-running rebuilds the images; `--if-missing` skips existing ones.
#
#   bash scripts/docker-base-images.sh [--if-missing] [slim] [rust] [postgres]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="${WORK:-/var/tmp/defect-control-docker}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RUST_VERSION="${RUST_VERSION:-1.95}"
RUSTUP_HOME_HOST="${RUSTUP_HOME:-$HOME/.rustup}"
SLIM=debian:bookworm-slim
RUST="rust:${RUST_VERSION}-bookworm"
PG=defect-control-postgres:15-bookworm-local
# Docker 20.10's client: the legacy builder uses local images without asking a registry.
DOCKER="${DOCKER:-docker}"
IF_MISSING=false
[ "${1:-}" = --if-missing ] && { IF_MISSING=true; shift; }
WANT="${*:-slim rust postgres}"

# True when image $2 (one of WANT's names: $1) is not wanted, or exists and --if-missing.
have() {
  case " $WANT " in *" $1 "*) ;; *) return 0 ;; esac
  $IF_MISSING && "$DOCKER" image inspect "$2" >/dev/null 2>&1
}
t0=$(date +%s)
mkdir -p "$WORK"

if have slim "$SLIM"; then
  echo "== $SLIM: kept"
else
  echo "== $SLIM from debootstrap --variant=minbase"
  rm -rf "$WORK/slim"
  debootstrap --variant=minbase bookworm "$WORK/slim" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # The official slim image's trims (debuerreotype's): apt keeps no package caches or
  # downloaded .debs after a run, dpkg installs no docs, man pages or translations.
  # Without them every `apt-get install` layer in a Dockerfile carries ~90 MB of apt cache.
  cat >"$WORK/slim/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  echo 'Acquire::Languages "none";' >"$WORK/slim/etc/apt/apt.conf.d/docker-no-languages"
  echo 'APT::AutoRemove::SuggestsImportant "false";' >"$WORK/slim/etc/apt/apt.conf.d/docker-autoremove-suggests"
  cat >"$WORK/slim/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
DPKG
  find "$WORK/slim/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$WORK/slim/var/lib/apt/lists/"* "$WORK/slim/var/cache/apt/"*.bin \
    "$WORK/slim/var/cache/apt/archives/"*.deb "$WORK/slim/usr/share/man/"* \
    "$WORK/slim/usr/share/info/"* "$WORK/slim/usr/share/locale/"* \
    "$WORK/slim/var/log/"*.log "$WORK/slim/var/log/apt/"*
  tar -C "$WORK/slim" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$SLIM"
fi

if have rust "$RUST"; then
  echo "== $RUST: kept"
else
  echo "== $RUST from $SLIM + build tools + the host's Rust $RUST_VERSION"
  toolchain=$(ls -d "$RUSTUP_HOME_HOST/toolchains/${RUST_VERSION}"*-x86_64-unknown-linux-gnu 2>/dev/null | head -n1)
  [ -n "$toolchain" ] || { echo "no Rust $RUST_VERSION toolchain under $RUSTUP_HOME_HOST/toolchains (rustup toolchain install $RUST_VERSION)" >&2; exit 1; }
  ctx="$WORK/rust-context"
  rm -rf "$ctx"
  mkdir -p "$ctx/rustup/toolchains" "$ctx/cargo/bin"
  name=$(basename "$toolchain")
  # -L: the toolchain dir may be a symlink to "stable"; the docs (share/doc) are left out.
  rsync -aL --exclude 'share/doc' "$toolchain/" "$ctx/rustup/toolchains/$name/"
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\nauto_self_update = "disable"\n' \
    "$name" >"$ctx/rustup/settings.toml"
  # rustup's proxies, as in the official image: cargo, rustc, … are rustup itself.
  cp "$(command -v rustup)" "$ctx/cargo/bin/rustup"
  for tool in cargo rustc rustdoc rust-gdb rust-lldb cargo-clippy clippy-driver rustfmt cargo-fmt; do
    ln -f "$ctx/cargo/bin/rustup" "$ctx/cargo/bin/$tool"
  done
  # The host's own extra CA certificates (a TLS-inspecting egress proxy, as on this
  # project's machines): cargo in the build stage must trust what the host trusts to reach
  # crates.io. Only this local stand-in gets them, never the published image.
  mkdir -p "$ctx/ca"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $SLIM
RUN apt-get update \\
 && apt-get install -y --no-install-recommends build-essential pkg-config ca-certificates git \\
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$RUST_VERSION
RUN cargo --version && rustc --version
DOCKERFILE
  DOCKER_BUILDKIT=0 nice -n 19 "$DOCKER" build --network host -t "$RUST" "$ctx"
  rm -rf "$ctx"
fi

if have postgres "$PG"; then
  echo "== $PG: kept"
else
  echo "== $PG from $SLIM + Debian's postgresql"
  ctx="$WORK/pg-context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp docker/postgres-entrypoint.sh "$ctx/entrypoint.sh"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $SLIM
RUN apt-get update \\
 && apt-get install -y --no-install-recommends postgresql \\
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
RUN chmod 0755 /usr/local/bin/entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
DOCKERFILE
  DOCKER_BUILDKIT=0 nice -n 19 "$DOCKER" build --network host -t "$PG" "$ctx"
  rm -rf "$ctx"
fi

"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^($SLIM|$RUST|$PG) " || true
echo "base images ready in $(( $(date +%s) - t0 )) s"
