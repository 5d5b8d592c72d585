#!/usr/bin/env bash
# A real SAML 2.0 identity provider on loopback for the SAML user-provider tests: our IdP
# (tests/peers/saml/idp.py) on pysaml2's SAML object model (PyPI, pinned in
# tests/peers/saml/requirements.txt) and Debian's xmlsec1, over HTTPS with a throw-away CA,
# in a temporary directory that goes on exit. See docs/peers.md.
#
#   source scripts/peers/saml.sh        # start it, export RAMPART_TEST_SAML_*; saml_stop on exit
#   scripts/peers/saml.sh -- CMD ARGS…  # run CMD with the IdP up, then stop it
#   scripts/peers/saml.sh --check       # start it, sign in to a dummy SP, check every hook, stop
#
# Installs xmlsec1 (Debian, as root) when missing, and pysaml2 into a virtual environment
# under RAMPART_SAML_CACHE (default /var/cache/rampart-test-saml as root, else
# ~/.cache/rampart-test-saml), one per requirements file, when missing.
#
# Exported for tests:
#   RAMPART_TEST_SAML_METADATA_URL    https://127.0.0.1:PORT/metadata (also the IdP's entity id)
#   RAMPART_TEST_SAML_ENTITY_ID       the same
#   RAMPART_TEST_SAML_SSO_URL         https://127.0.0.1:PORT/sso/redirect (HTTP-Redirect binding)
#   RAMPART_TEST_SAML_CA              PEM of the throw-away CA of its HTTPS certificate
#   RAMPART_TEST_SAML_IDP_CERT        PEM of the certificate its responses are signed with
#   RAMPART_TEST_SAML_OTHER_CERT      PEM of the key the "other-key" case signs with
#   RAMPART_TEST_SAML_ADMIN_URL       https://127.0.0.1:PORT/admin, and
#   RAMPART_TEST_SAML_ADMIN_TOKEN_FILE  its bearer token
#   RAMPART_TEST_SAML_PASSWORD_DIR    one file per user (alice, bob), no newline
#
# The IdP trusts no SP at start (or those of RAMPART_SAML_SP_METADATA, files, space-separated):
# a test PUTs its SP's metadata to $ADMIN_URL/sp-metadata once its server has a port.

saml_fail() {
  echo "saml: $*" >&2
  exit 1
}

saml_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/peers/saml" && pwd) \
  || saml_fail "tests/peers/saml not found"

saml_ms() { echo $(($(date +%s%N) / 1000000)); }
saml_span() { local ms=$(($2 - $1)); echo "$((ms / 1000)).$((ms % 1000 / 100)) s"; }
saml_t0=$(saml_ms)

if ! command -v xmlsec1 >/dev/null; then
  [ "$(id -u)" = 0 ] || saml_fail "xmlsec1 is missing (Debian: apt-get install xmlsec1)"
  echo "scripts: installing Debian's xmlsec1" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 xmlsec1 \
    >/dev/null || saml_fail "apt-get install xmlsec1 failed"
fi

# pysaml2 and its dependencies, in a virtual environment per version of the pins.
if [ "$(id -u)" = 0 ]; then
  saml_cache=${RAMPART_SAML_CACHE:-/var/cache/rampart-test-saml}
else
  saml_cache=${RAMPART_SAML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart-test-saml}
fi
{ mkdir -p "$saml_cache" && chmod 700 "$saml_cache"; } || saml_fail "cannot create $saml_cache"
saml_venv="$saml_cache/venv-$({ python3 --version; cat "$saml_src/requirements.txt"; } | sha256sum | cut -c1-16)"
(
  flock 9
  if [ ! -f "$saml_venv/complete" ]; then
    echo "scripts: installing $(grep -m1 '^pysaml2==' "$saml_src/requirements.txt") into $saml_venv" >&2
    rm -rf "$saml_venv"
    python3 -m venv "$saml_venv" \
      || { echo "saml: python3 cannot create a virtual environment; on Debian: apt-get install python3-venv" >&2; exit 1; }
    "$saml_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      -r "$saml_src/requirements.txt" >&2 || exit 1
    touch "$saml_venv/complete"
  fi
) 9>"$saml_cache/.lock" || saml_fail "installing pysaml2 failed"
saml_t_installed=$(saml_ms)

# The directories of earlier runs whose shell is gone (killed before its EXIT trap ran) go.
for saml_old in /tmp/rampart-saml.*/owner; do
  [ -f "$saml_old" ] || continue
  kill -0 "$(cat "$saml_old")" 2>/dev/null || rm -rf "$(dirname "$saml_old")"
done
unset saml_old
saml_dir=$(mktemp -d /tmp/rampart-saml.XXXXXX)
chmod 700 "$saml_dir"
echo "$$" >"$saml_dir/owner"
saml_pid=""
saml_stdin=""

saml_stop() {
  if [ -n "$saml_pid" ] && kill -0 "$saml_pid" 2>/dev/null; then
    kill -TERM "$saml_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$saml_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$saml_pid" 2>/dev/null || true
  fi
  if [ -n "$saml_stdin" ]; then exec {saml_stdin}>&- || true; fi
  saml_pid=""
  saml_stdin=""
  rm -rf "$saml_dir"
}
# Keep whatever EXIT trap the sourcing script already has.
eval "saml_prev_trap=($(trap -p EXIT))"
trap -- "saml_stop; ${saml_prev_trap[2]:-}" EXIT
unset saml_prev_trap

# A throw-away CA and HTTPS certificate (P-256) for 127.0.0.1; the signing key (RSA 2048,
# self-signed, as IdP signing certificates usually are) and a second one nobody trusts.
mkdir -m 700 "$saml_dir/tls" "$saml_dir/idp" "$saml_dir/other" "$saml_dir/secrets" "$saml_dir/passwords"
(
  umask 077
  cd "$saml_dir/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout ca.key -out ca.pem -subj "/CN=Rampart test SAML CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout key.pem -out server.csr -subj "/CN=127.0.0.1"
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out cert.pem
  chmod 644 ca.pem
  for which in idp other; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout "../$which/key.pem" \
      -out "../$which/cert.pem" -subj "/CN=Rampart test SAML IdP ($which)"
    chmod 644 "../$which/cert.pem"
  done
) >"$saml_dir/tls.log" 2>&1 || { cat "$saml_dir/tls.log" >&2; saml_fail "key generation failed"; }
(umask 077 && openssl rand -base64 24 | tr -d '/+=\n' >"$saml_dir/secrets/admin-token")
for saml_user in alice bob; do
  (umask 077 && openssl rand -base64 18 | tr -d '/+=\n' >"$saml_dir/passwords/$saml_user")
done
unset saml_user

# The IdP ends itself when its standard input, a FIFO whose only writer is this shell, ends.
mkfifo -m 600 "$saml_dir/stdin"
SAML_DIR="$saml_dir" SAML_READY_FILE="$saml_dir/ready.json" SAML_EXIT_ON_STDIN_EOF=1 \
  SAML_PORT="${RAMPART_SAML_PORT:-0}" SAML_SP_METADATA="${RAMPART_SAML_SP_METADATA:-}" \
  SAML_XMLSEC1="$(command -v xmlsec1)" PYTHONDONTWRITEBYTECODE=1 \
  "$saml_venv/bin/python" "$saml_src/idp.py" <"$saml_dir/stdin" >"$saml_dir/server.log" 2>&1 &
saml_pid=$!
exec {saml_stdin}>"$saml_dir/stdin"
rm -f "$saml_dir/stdin"

saml_base=""
for _ in $(seq 1 300); do
  if [ -z "$saml_base" ] && [ -f "$saml_dir/ready.json" ]; then
    saml_base=$(sed -n 's/.*"base": "\([^"]*\)".*/\1/p' "$saml_dir/ready.json")
  fi
  if [ -n "$saml_base" ] && curl -fsS --cacert "$saml_dir/tls/ca.pem" -o /dev/null \
    "$saml_base/metadata" 2>/dev/null; then
    break
  fi
  kill -0 "$saml_pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$saml_base" ] || ! kill -0 "$saml_pid" 2>/dev/null; then
  tail -n 30 "$saml_dir/server.log" >&2
  saml_fail "the identity provider did not start"
fi
saml_t_up=$(saml_ms)

export RAMPART_TEST_SAML_METADATA_URL="$saml_base/metadata"
export RAMPART_TEST_SAML_ENTITY_ID="$saml_base/metadata"
export RAMPART_TEST_SAML_SSO_URL="$saml_base/sso/redirect"
export RAMPART_TEST_SAML_CA="$saml_dir/tls/ca.pem"
export RAMPART_TEST_SAML_IDP_CERT="$saml_dir/idp/cert.pem"
export RAMPART_TEST_SAML_OTHER_CERT="$saml_dir/other/cert.pem"
export RAMPART_TEST_SAML_ADMIN_URL="$saml_base/admin"
export RAMPART_TEST_SAML_ADMIN_TOKEN_FILE="$saml_dir/secrets/admin-token"
export RAMPART_TEST_SAML_PASSWORD_DIR="$saml_dir/passwords"
echo "scripts: throw-away SAML IdP (pysaml2 $(sed -n 's/^pysaml2==//p' "$saml_src/requirements.txt")," \
  "$(xmlsec1 --version)) on $saml_base, up in $(saml_span "$saml_t_installed" "$saml_t_up")" \
  "(packages checked in $(saml_span "$saml_t0" "$saml_t_installed"))" >&2

# --check: a full login to a dummy SP and every hook, checked with xmlsec1 (check.py).
saml_check() {
  SAML_CHECK_DIR="$saml_dir" PYTHONDONTWRITEBYTECODE=1 "$saml_venv/bin/python" "$saml_src/check.py"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    --check)
      saml_check
      exit
      ;;
    --)
      shift
      [ "$#" -gt 0 ] || saml_fail "usage: $0 -- COMMAND [ARGS…]"
      "$@" {saml_stdin}>&-
      exit
      ;;
    *)
      saml_fail "usage: source $0 | $0 --check | $0 -- COMMAND [ARGS…]"
      ;;
  esac
fi
