#!/usr/bin/env bash
# The REST shim's documentation page (Swagger UI, served from the binary, see
# src/http/api_docs.rs), fetched from the npm registry at a pinned version and checked
# against assets/api-docs/SHA256SUMS. The same steps as scripts/graphiql-assets.sh.
#
#   scripts/api-docs-assets.sh          fetch the pinned package, write the files, verify
#   scripts/api-docs-assets.sh --check  verify the committed files only (offline; CI)
#
# To move to another version: change the pin below, run with --update (rewrites
# SHA256SUMS from what the registry served, after checking the tarball's npm
# integrity), review the diff, and update the file names in src/http/api_docs.rs.
# swagger-ui-dist's `swagger-ui-bundle.js` is self-contained (React and every other
# dependency inside, no CDN, no bundler); the standalone preset (a top bar to type in
# another document's URL) is not needed for one fixed document and is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=assets/api-docs
SWAGGER_UI=5.36.0

if [[ "${1:-}" == "--check" ]]; then
  (cd "$OUT" && sha256sum --quiet -c SHA256SUMS)
  echo "API docs assets match SHA256SUMS"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=npm-fetch.sh
source scripts/npm-fetch.sh

fetch swagger-ui-dist "$SWAGGER_UI"

# Only what the page loads (no source maps), plus the license, the NOTICE that
# Apache-2.0 asks to pass on, and the notices of the libraries inside the bundle.
pkg="$work/swagger-ui-dist/package"
cp "$pkg/swagger-ui-bundle.js" "$OUT/swagger-ui-bundle-$SWAGGER_UI.min.js"
cp "$pkg/swagger-ui.css" "$OUT/swagger-ui-$SWAGGER_UI.min.css"
cp "$pkg/LICENSE" "$OUT/LICENSE.swagger-ui"
cp "$pkg/NOTICE" "$OUT/NOTICE.swagger-ui"
cp "$pkg/swagger-ui-bundle.js.LICENSE.txt" "$OUT/LICENSES.swagger-ui-bundle"

if [[ "${1:-}" == "--update" ]]; then
  (cd "$OUT" && sha256sum swagger-ui-*.min.* LICENSE.* NOTICE.* LICENSES.* > SHA256SUMS)
  echo "SHA256SUMS rewritten: review the diff"
fi
(cd "$OUT" && sha256sum --quiet -c SHA256SUMS)
echo "API docs assets fetched and verified"
