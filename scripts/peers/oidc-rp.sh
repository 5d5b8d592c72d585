#!/usr/bin/env bash
# A relying party of Rampart's own OpenID provider: openid-client (npm, pinned in
# tests/peers/oidc/package-lock.json, the package the OIDC user-provider peer uses too) in a
# small script of ours (tests/peers/oidc/rp.js) on the machine's Node.js. It installs the
# packages when they are missing or the lockfile changed (npm ci, one install at a time),
# then runs the script once with the environment it reads (see rp.js) and prints its JSON.
#
#   RP_ISSUER=… RP_CA=cert.pem … scripts/peers/oidc-rp.sh

set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/peers/oidc" && pwd)
command -v node >/dev/null && command -v npm >/dev/null \
  || { echo "oidc-rp: node and npm are missing (Debian: apt-get install nodejs npm)" >&2; exit 1; }
(
  flock 9
  if ! cmp -s "$src/package-lock.json" "$src/node_modules/.rampart-installed" 2>/dev/null; then
    echo "scripts: npm ci in $src" >&2
    (cd "$src" && npm ci --no-audit --no-fund --loglevel=error >&2) || exit 1
    cp "$src/package-lock.json" "$src/node_modules/.rampart-installed"
  fi
) 9>"/tmp/rampart-oidc-npm.lock" || { echo "oidc-rp: npm ci failed" >&2; exit 1; }
NODE_EXTRA_CA_CERTS="${RP_CA:?RP_CA names the server certificate}" exec node "$src/rp.js"
