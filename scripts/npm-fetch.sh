# Sourced by scripts/graphiql-assets.sh and scripts/api-docs-assets.sh: the one way the
# embedded web assets come from the npm registry. Needs $work (a scratch directory).
REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}

# fetch <package> <version>: download the tarball, check npm's sha512 integrity, unpack
# into "$work/<package>".
fetch() {
  local pkg=$1 version=$2 meta integrity want got
  meta=$(curl -fsSL "$REGISTRY/$pkg/$version")
  integrity=$(printf '%s' "$meta" | python3 -c 'import sys,json; print(json.load(sys.stdin)["dist"]["integrity"])')
  curl -fsSL -o "$work/$pkg.tgz" "$REGISTRY/$pkg/-/$pkg-$version.tgz"
  want=${integrity#sha512-}
  got=$(openssl dgst -sha512 -binary "$work/$pkg.tgz" | base64 -w0)
  if [[ "$want" != "$got" ]]; then
    echo "$pkg@$version: the tarball does not match the registry's integrity" >&2
    exit 1
  fi
  mkdir -p "$work/$pkg"
  tar xzf "$work/$pkg.tgz" -C "$work/$pkg"
}
