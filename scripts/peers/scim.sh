#!/usr/bin/env bash
# scim2-tester (PyPI, pinned in tests/peers/scim/requirements.txt), a SCIM 2.0 server
# compliance checker, run against a live Rampart by the scim tests. See docs/peers.md.
#
#   scripts/peers/scim.sh BASE_URL    # SCIM_TOKEN in the environment; one JSON line per check
#
# Installs the checker into a virtual environment under Cargo's target directory
# (target/scim-venv, or under CARGO_TARGET_DIR), once per version of the pins.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/peers/scim" && pwd)
target=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "${BASH_SOURCE[0]}")/../../target}")
venv=$target/scim-venv
mkdir -p "$target"
(
  flock 9
  if ! cmp -s "$src/requirements.txt" "$venv/.requirements" 2>/dev/null; then
    echo "scim: installing $(grep -m1 '^scim2-tester==' "$src/requirements.txt") into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" \
      || { echo "scim: python3 cannot create a virtual environment; on Debian: apt-get install python3-venv" >&2; exit 1; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      -r "$src/requirements.txt" >&2 || exit 1
    cp "$src/requirements.txt" "$venv/.requirements"
  fi
) 9>"$target/.scim-venv.lock"
PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" "$src/check.py" "$@"
