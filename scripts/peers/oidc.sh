#!/usr/bin/env bash
# A real OpenID Provider on loopback for the OIDC user-provider tests: panva's oidc-provider
# (npm, pinned in tests/peers/oidc/package-lock.json; OpenID Certified) in a small server of
# ours (tests/peers/oidc/server.js) on the machine's Node.js, over HTTPS with a throw-away CA,
# in a temporary directory that goes on exit. See docs/peers.md.
#
#   source scripts/peers/oidc.sh        # start it, export RAMPART_TEST_OIDC_*; oidc_stop on exit
#   scripts/peers/oidc.sh -- CMD ARGS…  # run CMD with the provider up, then stop it
#   scripts/peers/oidc.sh --check       # start it, drive the flows and hooks (below), stop
#
# Installs the packages (npm ci in tests/peers/oidc) when they are missing or the lockfile
# changed, and Debian's nodejs and npm when there is no node and we are root. Any user.
#
# Exported for tests:
#   RAMPART_TEST_OIDC_ISSUER              https://127.0.0.1:PORT (discovery below it)
#   RAMPART_TEST_OIDC_CA                  PEM of the throw-away CA of its certificate
#   RAMPART_TEST_OIDC_CLIENT_ID           rampart; RAMPART_TEST_OIDC_CLIENT_SECRET_FILE its secret
#   RAMPART_TEST_OIDC_OTHER_CLIENT_ID     rampart-other (another audience), and
#   RAMPART_TEST_OIDC_OTHER_CLIENT_SECRET_FILE
#   RAMPART_TEST_OIDC_ADMIN_URL           https://127.0.0.1:PORT/admin, and
#   RAMPART_TEST_OIDC_ADMIN_TOKEN_FILE    its bearer token
#   RAMPART_TEST_OIDC_PASSWORD_DIR        one file per user (alice, bob, mallory), no newline
#
# Both clients start with a placeholder redirect URI (or RAMPART_OIDC_REDIRECT_URIS,
# space-separated): a test sets its own with PUT $ADMIN_URL/clients/rampart once its server
# has a port. Secrets and passwords are random, in 0600 files, never in argv.

oidc_fail() {
  echo "oidc: $*" >&2
  exit 1
}

oidc_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/peers/oidc" && pwd) \
  || oidc_fail "tests/peers/oidc not found"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  [ "$(id -u)" = 0 ] || oidc_fail "node and npm are missing (Debian: apt-get install nodejs npm)"
  echo "scripts: installing Debian's nodejs and npm" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 nodejs npm \
    >/dev/null || oidc_fail "apt-get install nodejs npm failed"
fi

oidc_ms() { echo $(($(date +%s%N) / 1000000)); }
oidc_span() { local ms=$(($2 - $1)); echo "$((ms / 1000)).$((ms % 1000 / 100)) s"; }
oidc_t0=$(oidc_ms)

# The packages, as the lockfile pins them; installed again when it changes. One install at
# a time (two test binaries may start together).
(
  flock 9
  if ! cmp -s "$oidc_src/package-lock.json" "$oidc_src/node_modules/.rampart-installed" 2>/dev/null; then
    echo "scripts: npm ci in $oidc_src (oidc-provider $(sed -n 's/.*"oidc-provider": "\(.*\)".*/\1/p' \
      "$oidc_src/package.json" | head -1))" >&2
    (cd "$oidc_src" && npm ci --no-audit --no-fund --loglevel=error >&2) || exit 1
    cp "$oidc_src/package-lock.json" "$oidc_src/node_modules/.rampart-installed"
  fi
) 9>"/tmp/rampart-oidc-npm.lock" || oidc_fail "npm ci failed"
oidc_t_installed=$(oidc_ms)

# The directories of earlier runs whose shell is gone (killed before its EXIT trap ran) go.
for oidc_old in /tmp/rampart-oidc.*/owner; do
  [ -f "$oidc_old" ] || continue
  kill -0 "$(cat "$oidc_old")" 2>/dev/null || rm -rf "$(dirname "$oidc_old")"
done
unset oidc_old
oidc_dir=$(mktemp -d /tmp/rampart-oidc.XXXXXX)
chmod 700 "$oidc_dir"
echo "$$" >"$oidc_dir/owner"
oidc_pid=""
oidc_stdin=""

oidc_stop() {
  if [ -n "$oidc_pid" ] && kill -0 "$oidc_pid" 2>/dev/null; then
    kill -TERM "$oidc_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$oidc_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$oidc_pid" 2>/dev/null || true
  fi
  if [ -n "$oidc_stdin" ]; then exec {oidc_stdin}>&- || true; fi
  oidc_pid=""
  oidc_stdin=""
  rm -rf "$oidc_dir"
}
# Keep whatever EXIT trap the sourcing script already has.
eval "oidc_prev_trap=($(trap -p EXIT))"
trap -- "oidc_stop; ${oidc_prev_trap[2]:-}" EXIT
unset oidc_prev_trap

# Throw-away CA and server certificate (P-256) for 127.0.0.1 (and localhost).
mkdir -m 700 "$oidc_dir/tls" "$oidc_dir/secrets" "$oidc_dir/passwords"
(
  cd "$oidc_dir/tls"
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout ca.key -out ca.pem -subj "/CN=Rampart test OIDC CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout key.pem -out server.csr -subj "/CN=127.0.0.1"
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out cert.pem
  chmod 644 ca.pem
) >"$oidc_dir/tls.log" 2>&1 || { cat "$oidc_dir/tls.log" >&2; oidc_fail "certificate generation failed"; }

oidc_secret() {
  (umask 077 && openssl rand -base64 24 | tr -d '/+=\n' >"$1")
}
oidc_client_id=${RAMPART_OIDC_CLIENT_ID:-rampart}
oidc_other_client_id=rampart-other
oidc_secret "$oidc_dir/secrets/admin-token"
oidc_secret "$oidc_dir/secrets/client-$oidc_client_id"
oidc_secret "$oidc_dir/secrets/client-$oidc_other_client_id"
for oidc_user in alice bob mallory; do oidc_secret "$oidc_dir/passwords/$oidc_user"; done
unset oidc_user

# node ends itself when its standard input, a FIFO whose only writer is this shell, ends: it
# goes away with the shell even if the EXIT trap never runs.
mkfifo -m 600 "$oidc_dir/stdin"
OIDC_DIR="$oidc_dir" OIDC_READY_FILE="$oidc_dir/ready.json" OIDC_EXIT_ON_STDIN_EOF=1 \
  OIDC_CLIENT_ID="$oidc_client_id" OIDC_OTHER_CLIENT_ID="$oidc_other_client_id" \
  OIDC_REDIRECT_URIS="${RAMPART_OIDC_REDIRECT_URIS:-}" OIDC_PORT="${RAMPART_OIDC_PORT:-0}" \
  node "$oidc_src/server.js" <"$oidc_dir/stdin" >"$oidc_dir/server.log" 2>&1 &
oidc_pid=$!
exec {oidc_stdin}>"$oidc_dir/stdin"
rm -f "$oidc_dir/stdin"

oidc_issuer=""
for _ in $(seq 1 300); do
  if [ -z "$oidc_issuer" ] && [ -f "$oidc_dir/ready.json" ]; then
    oidc_issuer=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$oidc_dir/ready.json")
  fi
  if [ -n "$oidc_issuer" ] && curl -fsS --cacert "$oidc_dir/tls/ca.pem" -o /dev/null \
    "$oidc_issuer/.well-known/openid-configuration" 2>/dev/null; then
    break
  fi
  kill -0 "$oidc_pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$oidc_issuer" ] || ! kill -0 "$oidc_pid" 2>/dev/null; then
  tail -n 30 "$oidc_dir/server.log" >&2
  oidc_fail "the provider did not start"
fi
oidc_t_up=$(oidc_ms)

export RAMPART_TEST_OIDC_ISSUER="$oidc_issuer"
export RAMPART_TEST_OIDC_CA="$oidc_dir/tls/ca.pem"
export RAMPART_TEST_OIDC_CLIENT_ID="$oidc_client_id"
export RAMPART_TEST_OIDC_CLIENT_SECRET_FILE="$oidc_dir/secrets/client-$oidc_client_id"
export RAMPART_TEST_OIDC_OTHER_CLIENT_ID="$oidc_other_client_id"
export RAMPART_TEST_OIDC_OTHER_CLIENT_SECRET_FILE="$oidc_dir/secrets/client-$oidc_other_client_id"
export RAMPART_TEST_OIDC_ADMIN_URL="$oidc_issuer/admin"
export RAMPART_TEST_OIDC_ADMIN_TOKEN_FILE="$oidc_dir/secrets/admin-token"
export RAMPART_TEST_OIDC_PASSWORD_DIR="$oidc_dir/passwords"
echo "scripts: throw-away OpenID Provider (oidc-provider" \
  "$(node -p "require('$oidc_src/node_modules/oidc-provider/package.json').version"), node" \
  "$(node --version)) on $oidc_issuer, up in $(oidc_span "$oidc_t_installed" "$oidc_t_up")" \
  "(packages checked in $(oidc_span "$oidc_t0" "$oidc_t_installed"))" >&2

# --check: the documented browserless code flow with curl, then the relying-party checks
# of tests/peers/oidc/check.js (openid-client) and the hooks.
oidc_check() {
  local passed=0 failed=0
  ok() {
    passed=$((passed + 1))
    printf '  ok    %s\n' "$1"
  }
  bad() {
    failed=$((failed + 1))
    printf '  FAIL  %s\n' "$1"
    shift
    printf '%s\n' "$@" | sed 's/^/        /'
  }
  local iss=$RAMPART_TEST_OIDC_ISSUER ca=$RAMPART_TEST_OIDC_CA cid=$RAMPART_TEST_OIDC_CLIENT_ID
  local admin=(-H "Authorization: Bearer $(cat "$RAMPART_TEST_OIDC_ADMIN_TOKEN_FILE")")
  local jar="$oidc_dir/check-cookies" redirect="https://127.0.0.1:8443/oidc/callback"
  echo "oidc check against $iss"

  local out
  out=$(curl -sS --cacert "$ca" "${admin[@]}" -X PUT -H 'Content-Type: application/json' \
    --data "{\"redirect_uris\":[\"$redirect\"]}" "$iss/admin/clients/$cid")
  if jq -e --arg r "$redirect" '.redirect_uris == [$r]' >/dev/null 2>&1 <<<"$out"; then
    ok "PUT /admin/clients/$cid sets the redirect URI"
  else
    bad "setting the redirect URI" "$out"
  fi

  # PKCE: a 43-character verifier and its S256 challenge.
  local verifier challenge state nonce
  verifier=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
  challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
  state=$(openssl rand -hex 8)
  nonce=$(openssl rand -hex 8)
  local c=(curl -sS --cacert "$ca" -b "$jar" -c "$jar" -o "$oidc_dir/check-body" -w '%{http_code} %{redirect_url}')
  local enc code loc
  enc=$(jq -rn --arg r "$redirect" '$r|@uri')
  local base="$iss/auth?response_type=code&client_id=$cid&scope=openid%20email%20profile%20groups&state=$state&nonce=$nonce"
  local pkce="&code_challenge=$challenge&code_challenge_method=S256"
  local authz="$base&redirect_uri=$enc$pkce"

  read -r code loc < <("${c[@]}" "$base&redirect_uri=$enc")
  if [ "$code" = 303 ] && [[ "$loc" == "$redirect?error=invalid_request"* ]]; then
    ok "authorize without code_challenge: back to the client with invalid_request"
  else
    bad "authorize without PKCE: $code $loc" "$(cat "$oidc_dir/check-body")"
  fi
  read -r code loc < <("${c[@]}" "$base&redirect_uri=$(jq -rn --arg r "$redirect/" '$r|@uri')$pkce")
  if [ "$code" = 400 ] && grep -q redirect_uri "$oidc_dir/check-body"; then
    ok "authorize with a redirect URI not registered exactly (a trailing /): 400 page, no redirect"
  else
    bad "unregistered redirect URI: $code $loc" "$(cat "$oidc_dir/check-body")"
  fi

  read -r code loc < <("${c[@]}" "$authz")
  if [ "$code" = 303 ] && [[ "$loc" == "$iss/interaction/"* ]]; then
    ok "GET /auth: 303 to the interaction ($loc)"
  else
    bad "GET /auth: $code $loc" "$(cat "$oidc_dir/check-body")"
  fi
  local interaction=$loc
  read -r code loc < <("${c[@]}" "$interaction")
  if [ "$code" = 200 ] && grep -q 'name="password"' "$oidc_dir/check-body"; then
    ok "GET the interaction: 200, the login form"
  else
    bad "GET the interaction: $code" "$(cat "$oidc_dir/check-body")"
  fi
  read -r code loc < <("${c[@]}" --data-urlencode username=alice --data-urlencode password=wrong \
    "$interaction/login")
  if [ "$code" = 401 ] && grep -q 'Invalid username or password' "$oidc_dir/check-body"; then
    ok "POST a wrong password: 401, the form again"
  else
    bad "wrong password: $code $loc" "$(cat "$oidc_dir/check-body")"
  fi
  read -r code loc < <("${c[@]}" --data-urlencode username=alice \
    --data-urlencode "password@$RAMPART_TEST_OIDC_PASSWORD_DIR/alice" "$interaction/login")
  if [ "$code" = 303 ] && [[ "$loc" == "$iss/auth/"* ]]; then
    ok "POST the login form: 303 back to /auth/UID"
  else
    bad "login: $code $loc" "$(cat "$oidc_dir/check-body")"
  fi
  read -r code loc < <("${c[@]}" "$loc")
  local authcode
  authcode=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$loc")
  if [ "$code" = 303 ] && [[ "$loc" == "$redirect?"* ]] && [[ "$loc" == *"state=$state"* ]] \
    && [ -n "$authcode" ]; then
    ok "GET /auth/UID: 303 to the redirect URI with code and state (consent granted)"
  else
    bad "resume: $code $loc" "$(cat "$oidc_dir/check-body")"
  fi
  out=$(curl -sS --cacert "$ca" -u "$cid:$(cat "$RAMPART_TEST_OIDC_CLIENT_SECRET_FILE")" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$authcode" \
    --data-urlencode "redirect_uri=$redirect" --data-urlencode "code_verifier=$verifier" "$iss/token")
  local idt claims
  idt=$(jq -r '.id_token // empty' <<<"$out")
  claims=$(cut -d. -f2 <<<"$idt" | node -e 'process.stdin.on("data",d=>process.stdout.write(Buffer.from(String(d).trim(),"base64url")))')
  if jq -e --arg n "$nonce" --arg a "$cid" --arg i "$iss" \
    '.iss == $i and .aud == $a and .nonce == $n and .email == "alice@rampart.test" and .email_verified == true and .groups == ["rampart-admins"]' \
    >/dev/null 2>&1 <<<"$claims"; then
    ok "POST /token (client_secret_basic, code_verifier): an ID token for alice with email and groups"
  else
    bad "token: $out" "$claims"
  fi
  out=$(curl -sS --cacert "$ca" -u "$cid:$(cat "$RAMPART_TEST_OIDC_CLIENT_SECRET_FILE")" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$authcode" \
    --data-urlencode "redirect_uri=$redirect" --data-urlencode "code_verifier=$verifier" "$iss/token")
  if jq -e '.error == "invalid_grant"' >/dev/null 2>&1 <<<"$out"; then
    ok "the same code again: invalid_grant"
  else
    bad "code reuse: $out"
  fi

  echo "oidc check: relying-party checks with openid-client (tests/peers/oidc/check.js)"
  local node_out
  node_out=$(NODE_EXTRA_CA_CERTS="$ca" node "$oidc_src/check.js" 2>&1)
  printf '%s\n' "$node_out" | grep -v '^#'
  passed=$((passed + $(grep -c '^  ok ' <<<"$node_out")))
  failed=$((failed + $(grep -c '^  FAIL ' <<<"$node_out")))
  if ! grep -q '^# done' <<<"$node_out"; then
    bad "check.js did not finish" "$node_out"
  fi

  echo "oidc check: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    --check)
      oidc_check
      exit
      ;;
    --)
      shift
      [ "$#" -gt 0 ] || oidc_fail "usage: $0 -- COMMAND [ARGS…]"
      "$@" {oidc_stdin}>&-
      exit
      ;;
    *)
      oidc_fail "usage: source $0 | $0 --check | $0 -- COMMAND [ARGS…]"
      ;;
  esac
fi
