#!/usr/bin/env bash
# The GraphiQL page's files (served from the binary, see src/http/graphiql.rs), fetched
# from the npm registry at pinned versions and checked against assets/graphiql/SHA256SUMS.
#
#   scripts/graphiql-assets.sh          fetch the pinned packages, write the files, verify
#   scripts/graphiql-assets.sh --check  verify the committed files only (offline; CI)
#
# To move to another version: change the pins below, run with --update (rewrites
# SHA256SUMS from what the registry served, after checking each tarball's npm
# integrity), review the diff, and update the file names in src/http/graphiql.rs.
# GraphiQL 4.x is the last line with a standalone UMD bundle (5.x needs a bundler or
# an ESM CDN), and React 18.3 the last with UMD production builds.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=assets/graphiql
GRAPHIQL=4.1.2
REACT=18.3.1

if [[ "${1:-}" == "--check" ]]; then
  (cd "$OUT" && sha256sum --quiet -c SHA256SUMS)
  echo "GraphiQL assets match SHA256SUMS"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=npm-fetch.sh
source scripts/npm-fetch.sh

fetch graphiql "$GRAPHIQL"
fetch react "$REACT"
fetch react-dom "$REACT"

# Only what the page loads, plus each package's license (shipped inside the binary).
cp "$work/graphiql/package/graphiql.min.js" "$OUT/graphiql-$GRAPHIQL.min.js"
cp "$work/graphiql/package/graphiql.min.css" "$OUT/graphiql-$GRAPHIQL.min.css"
cp "$work/graphiql/package/LICENSE" "$OUT/LICENSE.graphiql"
cp "$work/react/package/umd/react.production.min.js" "$OUT/react-$REACT.production.min.js"
cp "$work/react/package/LICENSE" "$OUT/LICENSE.react"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$OUT/react-dom-$REACT.production.min.js"
cp "$work/react-dom/package/LICENSE" "$OUT/LICENSE.react-dom"

if [[ "${1:-}" == "--update" ]]; then
  (cd "$OUT" && sha256sum graphiql-*.min.* react-*.min.js LICENSE.* > SHA256SUMS)
  echo "SHA256SUMS rewritten: review the diff"
fi
(cd "$OUT" && sha256sum --quiet -c SHA256SUMS)
echo "GraphiQL assets fetched and verified"
