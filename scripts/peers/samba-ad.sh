#!/usr/bin/env bash
# A real Active Directory on loopback for the LDAP user-provider tests: Samba's AD domain
# controller (Debian's samba-ad-dc, 4.17 on bookworm), provisioned into a temporary directory,
# seeded with users and groups, and stopped and deleted on exit. See docs/peers.md.
#
#   source scripts/peers/samba-ad.sh        # start it, export RAMPART_TEST_AD_*; ad_stop on exit
#   scripts/peers/samba-ad.sh -- CMD ARGS…  # run CMD with the domain up, then tear it down
#   scripts/peers/samba-ad.sh --check       # start it, assert AD's answers (below), tear down
#
# Installs samba-ad-dc, samba-ad-provision, krb5-user and ldap-utils (without recommends, so
# nsswitch and PAM are left alone) when missing and we are root. Must run as root: Samba's
# LDAP ports are fixed (389, 636, and the global catalog's 3268, 3269; smb.conf has no
# "ldap port"), so the server binds privileged ports. To stay out of the way of anything on
# 127.0.0.1 (a slapd on 636, a second test run) it listens on a random address of 127/8
# (Linux routes the whole block to lo; Samba takes it as `interfaces = 127.a.b.c/8`), or on
# RAMPART_AD_ADDR when set. Only the `ldap` service runs: no SMB, RPC, DNS, KDC or NetBIOS.
#
# Exported for tests:
#   RAMPART_TEST_AD_URL             ldaps://ADDR:636 (certificate below, SAN = ADDR)
#   RAMPART_TEST_AD_PLAIN_URL       ldap://ADDR:389 (StartTLS works; a simple bind without it
#                                   is refused)
#   RAMPART_TEST_AD_CA              PEM of the throw-away CA that signed the server certificate
#   RAMPART_TEST_AD_BASE            DC=rampart,DC=test
#   RAMPART_TEST_AD_REALM           RAMPART.TEST; RAMPART_TEST_AD_UPN_SUFFIX rampart.test;
#   RAMPART_TEST_AD_DOMAIN          RAMPART (NetBIOS; `RAMPART\alice` binds too)
#   RAMPART_TEST_AD_BIND_DN         the lookup service account (rampart-svc), and
#   RAMPART_TEST_AD_BIND_PASSWORD_FILE  its password
#   RAMPART_TEST_AD_ADMIN_DN        CN=Administrator,…, and RAMPART_TEST_AD_ADMIN_PASSWORD_FILE
#                                   (for tests that change the directory, e.g. delete dave)
#   RAMPART_TEST_AD_PASSWORD_DIR    one file per account, named by sAMAccountName, holding its
#                                   password without a newline
#
# Seeded (all in CN=Users; the CN is the account name except alice's, "Alice Example", so a
# test cannot get away with building DNs from user names):
#   alice   in "Rampart Admins"; mail alice@rampart.test      bob    in "Sales"
#   carol   disabled                -> bind: 49, data 533     dave   plain, for a test to delete
#   erin    must change password    -> bind: 49, data 773     frank  account expired -> data 701
#   gina    a password settings object (PSO) locks her out after 2 bad passwords -> data 775
#           (the domain itself never locks out, so other tests may fail binds freely)
#   rampart-svc  the lookup account
#   "All Staff" holds the groups "Rampart Admins" and "Sales" (nesting, for the
#   LDAP_MATCHING_RULE_IN_CHAIN 1.2.840.113556.1.4.1941 tests)
#
# What this Samba answers (checked by --check, observed with ldapsearch from ldap-utils):
#   - simple bind on ldap://:389 without TLS: 8 strongerAuthRequired, "BindSimple: Transport
#     encryption required." (ldap server require strong auth = yes, the default; real AD
#     answers the same when LDAP signing is required). StartTLS first, then it binds.
#   - wrong password, or an unknown or deleted user: 49 with "80090308: LdapErr: DSID-0C0903A9,
#     comment: AcceptSecurityContext error, data 52e, v1db1"; disabled: data 533; must change
#     password: 773; account expired: 701; locked out: 775 (even with the right password).
#   - an empty password: 49 / 52e. Real AD treats an empty password as an unauthenticated
#     bind and answers success, so a client must refuse empty passwords itself.
#   - bind names accepted: the DN, alice@rampart.test (userPrincipalName, any case) and
#     RAMPART\alice; the bare sAMAccountName "alice" is refused (52e).
#   - the Who am I? extended operation is not supported (2 protocolError), so check a bind
#     with a base search of the root DSE, not ldapwhoami.
#   - anonymous search below the base: 1 operationsError, "00002020: Operation unavailable
#     without authentication" (the root DSE is readable anonymously).
#   - a subtree search from DC=rampart,DC=test returns, besides the entries, a search result
#     reference to ldaps://rampart.test/CN=Configuration,DC=rampart,DC=test: a client must
#     skip (not chase) it.
#   - memberOf lists direct groups only; (memberOf:1.2.840.113556.1.4.1941:=CN=All Staff,…)
#     finds alice and bob through their groups.
#   - memberOf leaves out the primary group (Domain Users, primaryGroupID 513); tokenGroups
#     (base search on the user) has every group's SID, nested and primary included.
#   - timings on this 2-core machine: install about 50 s (once per machine), provision about
#     14 s, seeding 10-15 s (a Python start-up per samba-tool call), start about 1 s; from the
#     template (below) about 2 s in all. Start it once per test run, not per test.
#
# Passwords never appear in argv: samba-tool reads them with getpass, which falls back to
# standard input when there is no controlling terminal (hence setsid). The provision's own
# random admin password is replaced the same way.

ad_fail() {
  echo "samba-ad: $*" >&2
  exit 1
}

if [ "$(id -u)" != 0 ]; then
  ad_fail "must run as root (Samba's AD DC binds the fixed LDAP ports 389 and 636)"
fi

if ! command -v samba >/dev/null || ! command -v samba-tool >/dev/null \
  || ! [ -d /usr/share/samba/setup ] || ! command -v ldapsearch >/dev/null \
  || ! command -v kinit >/dev/null; then
  echo "scripts: installing Samba's AD DC from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Debian's maintainer scripts start smbd, nmbd, winbind and samba-ad-dc unless
  # policy-rc.d says no (containers usually have one; a machine with systemd may not).
  ad_policy_made=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    ad_policy_made=1
  fi
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
    samba-ad-dc samba-ad-provision krb5-user ldap-utils >/dev/null
  if [ -n "$ad_policy_made" ]; then rm -f /usr/sbin/policy-rc.d; fi
  unset ad_policy_made
fi

# The directories of earlier runs whose shell is gone (killed before its EXIT trap ran) go.
for ad_old in /tmp/rampart-ad.*/owner; do
  [ -f "$ad_old" ] || continue
  kill -0 "$(cat "$ad_old")" 2>/dev/null || rm -rf "$(dirname "$ad_old")"
done
unset ad_old
ad_dir=$(mktemp -d /tmp/rampart-ad.XXXXXX)
chmod 700 "$ad_dir"
echo "$$" >"$ad_dir/owner"
ad_pid=""
ad_stdin=""

ad_stop() {
  if [ -n "$ad_pid" ] && kill -0 "$ad_pid" 2>/dev/null; then
    kill -TERM "$ad_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$ad_pid" 2>/dev/null || break
      sleep 0.1
    done
    # samba -i leads its own process group: its workers go with it.
    kill -KILL -- "-$ad_pid" 2>/dev/null || true
  fi
  if [ -n "$ad_stdin" ]; then exec {ad_stdin}>&- || true; fi
  ad_pid=""
  ad_stdin=""
  rm -rf "$ad_dir"
}
# Keep whatever EXIT trap the sourcing script already has (scripts/pg-throwaway.sh sets one).
eval "ad_prev_trap=($(trap -p EXIT))"
trap -- "ad_stop; ${ad_prev_trap[2]:-}" EXIT
unset ad_prev_trap

# A free address of 127/8 for the four LDAP ports.
ad_addr=${RAMPART_AD_ADDR:-$(python3 - <<'EOF'
import random, socket
for _ in range(50):
    addr = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255), random.randint(2, 254))
    try:
        for port in (389, 636, 3268, 3269):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.close()
    except OSError:
        continue
    print(addr)
    break
EOF
)}
[ -n "$ad_addr" ] || ad_fail "no free loopback address for ports 389/636/3268/3269"

ad_realm=RAMPART.TEST
ad_domain=RAMPART
ad_dns=rampart.test
ad_base=DC=rampart,DC=test
# Milliseconds since the epoch, and a span of them as seconds with one decimal.
ad_ms() { echo $(($(date +%s%N) / 1000000)); }
ad_span() { local ms=$(($2 - $1)); echo "$((ms / 1000)).$((ms % 1000 / 100)) s"; }
ad_t0=$(ad_ms)

# Throw-away CA and server certificate (P-256) with the address as SAN, so clients can verify
# the server properly; Samba's own autogenerated certificate has no SAN and a 4096-bit key
# that takes seconds to make.
mkdir -m 700 "$ad_dir/tls"
(
  cd "$ad_dir/tls"
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout ca.key -out ca.pem -subj "/CN=Rampart test AD CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout key.pem -out server.csr -subj "/CN=dc1.$ad_dns"
  printf '%s\n' "subjectAltName=IP:$ad_addr,DNS:dc1.$ad_dns,DNS:localhost" \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out cert.pem
  chmod 644 ca.pem
) >"$ad_dir/tls.log" 2>&1 || { cat "$ad_dir/tls.log" >&2; ad_fail "certificate generation failed"; }

# The server's smb.conf keeps every path inside $ad_dir.
ad_conf="$ad_dir/etc/smb.conf"
ad_write_conf() {
  cat >"$ad_conf" <<EOF
[global]
	netbios name = DC1
	workgroup = $ad_domain
	realm = $ad_realm
	server role = active directory domain controller
	server services = ldap
	interfaces = $ad_addr/8
	bind interfaces only = yes
	private dir = $ad_dir/private
	state directory = $ad_dir/state
	lock directory = $ad_dir
	cache directory = $ad_dir/cache
	binddns dir = $ad_dir/bind-dns
	pid directory = $ad_dir
	log file = $ad_dir/log/samba.log
	idmap_ldb:use rfc2307 = yes
	prefork children = 2
	ldap server require strong auth = yes
	tls enabled = yes
	tls certfile = $ad_dir/tls/cert.pem
	tls keyfile = $ad_dir/tls/key.pem
	tls cafile = $ad_dir/tls/ca.pem
EOF
}

# Seeding goes straight to the database files (no server needed, no credentials).
ad_tool() {
  samba-tool "$@" -s "$ad_conf" -H "$ad_dir/private/sam.ldb" >>"$ad_dir/seed.log" 2>&1 \
    || { tail -n 20 "$ad_dir/seed.log" >&2; ad_fail "samba-tool $1 $2 failed"; }
}
# samba-tool command that prompts "New Password:" twice, given the password on stdin.
ad_tool_with_password() {
  local password=$1
  shift
  printf '%s\n%s\n' "$password" "$password" \
    | setsid -w samba-tool "$@" -s "$ad_conf" -H "$ad_dir/private/sam.ldb" >>"$ad_dir/seed.log" 2>&1 \
    || { tail -n 20 "$ad_dir/seed.log" >&2; ad_fail "samba-tool $1 $2 failed"; }
}
ad_new_password() {
  # Meets AD's complexity rule (three of: upper, lower, digit, symbol) whatever the random part.
  local password
  password="Rt9-$(openssl rand -base64 18 | tr -d '/+=\n')"
  (umask 077 && printf '%s' "$password" >"$ad_dir/passwords/$1")
  printf '%s' "$password"
}

ad_provision_and_seed() {
  # An empty smb.conf for provisioning, so that /etc/samba/smb.conf is not read.
  : >"$ad_dir/etc/provision.conf"
  samba-tool domain provision -s "$ad_dir/etc/provision.conf" --targetdir="$ad_dir" \
    --realm="$ad_realm" --domain="$ad_domain" --server-role=dc --dns-backend=NONE \
    --use-rfc2307 --host-name=dc1 --host-ip="$ad_addr" \
    --option="interfaces=$ad_addr/8" --option="bind interfaces only=yes" \
    >"$ad_dir/provision.log" 2>&1 \
    || { tail -n 30 "$ad_dir/provision.log" >&2; ad_fail "samba-tool domain provision failed"; }
  ad_t_provisioned=$(ad_ms)
  ad_write_conf

  mkdir -m 700 "$ad_dir/passwords"
  # Passwords never expire (the domain's default is 42 days), so a template stays usable.
  ad_tool domain passwordsettings set --max-pwd-age=0
  ad_tool_with_password "$(ad_new_password Administrator)" user setpassword Administrator
  ad_tool_with_password "$(ad_new_password rampart-svc)" user create rampart-svc \
    --description="Rampart user lookups"
  ad_tool_with_password "$(ad_new_password alice)" user create alice \
    --given-name=Alice --surname=Example --mail-address="alice@$ad_dns"
  local user
  for user in bob carol dave; do
    ad_tool_with_password "$(ad_new_password "$user")" user create "$user"
  done
  ad_tool_with_password "$(ad_new_password erin)" user create erin --must-change-at-next-login
  ad_tool_with_password "$(ad_new_password frank)" user create frank
  ad_tool_with_password "$(ad_new_password gina)" user create gina
  ad_tool user disable carol
  ad_tool user setexpiry frank --days=0
  ad_tool domain passwordsettings pso create quick-lockout 1 --account-lockout-threshold=2 \
    --account-lockout-duration=30 --reset-account-lockout-after=30
  ad_tool domain passwordsettings pso apply quick-lockout gina
  ad_tool group add "Rampart Admins"
  ad_tool group add Sales
  ad_tool group add "All Staff"
  ad_tool group addmembers "Rampart Admins" alice
  ad_tool group addmembers Sales bob
  ad_tool group addmembers "All Staff" "Rampart Admins,Sales"
  ad_t_seeded=$(ad_ms)
}

# Provisioning and seeding take about half a minute, all of it samba-tool's Python; the
# result holds no path or address (those are in smb.conf and the certificate, made anew each
# time), so it is kept as a template under RAMPART_AD_CACHE (default /var/cache/rampart-test-ad),
# keyed by Samba's version and this script's text, for a week. RAMPART_AD_NO_CACHE=1 skips it.
mkdir -p "$ad_dir/etc" "$ad_dir/cache" "$ad_dir/log"
ad_cache=${RAMPART_AD_CACHE:-/var/cache/rampart-test-ad}
ad_key=$({ samba --version; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)
ad_template="$ad_cache/$ad_key"
if [ -z "${RAMPART_AD_NO_CACHE:-}" ] && [ -f "$ad_template/complete" ] \
  && [ -n "$(find "$ad_template/complete" -mtime -7 2>/dev/null)" ]; then
  cp -a "$ad_template/private" "$ad_template/state" "$ad_template/bind-dns" \
    "$ad_template/passwords" "$ad_dir/" || ad_fail "copying the template $ad_template failed"
  ad_write_conf
  ad_t_provisioned=$(ad_ms)
  ad_t_seeded=$ad_t_provisioned
  ad_origin="copied from the template $ad_template in $(ad_span "$ad_t0" "$ad_t_provisioned")"
else
  ad_provision_and_seed
  ad_origin="provisioned in $(ad_span "$ad_t0" "$ad_t_provisioned"), seeded in $(ad_span "$ad_t_provisioned" "$ad_t_seeded")"
  if [ -z "${RAMPART_AD_NO_CACHE:-}" ] && mkdir -p "$ad_cache" 2>/dev/null && chmod 700 "$ad_cache"; then
    ad_new=$(mktemp -d "$ad_cache/.new.XXXXXX")
    if cp -a "$ad_dir/private" "$ad_dir/state" "$ad_dir/bind-dns" "$ad_dir/passwords" "$ad_new/"; then
      touch "$ad_new/complete"
      # Templates of another Samba or another version of this script go; a concurrent run
      # that got there first wins.
      find "$ad_cache" -mindepth 1 -maxdepth 1 ! -name "$ad_key" ! -name '.new.*' -exec rm -rf {} +
      if [ -f "$ad_template/complete" ] && [ -n "$(find "$ad_template/complete" -mtime -7)" ]; then
        rm -rf "$ad_new"
      else
        rm -rf "$ad_template"
        mv -T "$ad_new" "$ad_template" 2>/dev/null || rm -rf "$ad_new"
      fi
    else
      rm -rf "$ad_new"
    fi
    unset ad_new
  fi
fi

# samba -i ends itself on end of file on its standard input when that is a pipe: give it a
# FIFO whose only writer is this shell, so the server goes away with the shell even if the
# EXIT trap never runs (kill -9, or a sourcing script that replaces the trap).
mkfifo -m 600 "$ad_dir/stdin"
samba -i -s "$ad_conf" -d 1 --maximum-runtime="${RAMPART_AD_MAX_RUNTIME:-10800}" \
  <"$ad_dir/stdin" >"$ad_dir/log/samba.out" 2>&1 &
ad_pid=$!
exec {ad_stdin}>"$ad_dir/stdin"
rm -f "$ad_dir/stdin"

ad_up=""
for _ in $(seq 1 300); do
  if LDAPTLS_CACERT="$ad_dir/tls/ca.pem" ldapsearch -x -H "ldaps://$ad_addr:636" -b "" -s base \
    -o nettimeout=2 namingContexts >/dev/null 2>&1; then
    ad_up=1
    break
  fi
  kill -0 "$ad_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ad_up" ]; then
  tail -n 30 "$ad_dir/log/samba.out" >&2
  ad_fail "samba did not answer on ldaps://$ad_addr:636"
fi
unset ad_up
ad_t_up=$(ad_ms)

export RAMPART_TEST_AD_URL="ldaps://$ad_addr:636"
export RAMPART_TEST_AD_PLAIN_URL="ldap://$ad_addr:389"
export RAMPART_TEST_AD_CA="$ad_dir/tls/ca.pem"
export RAMPART_TEST_AD_BASE="$ad_base"
export RAMPART_TEST_AD_REALM="$ad_realm"
export RAMPART_TEST_AD_UPN_SUFFIX="$ad_dns"
export RAMPART_TEST_AD_DOMAIN="$ad_domain"
export RAMPART_TEST_AD_BIND_DN="CN=rampart-svc,CN=Users,$ad_base"
export RAMPART_TEST_AD_BIND_PASSWORD_FILE="$ad_dir/passwords/rampart-svc"
export RAMPART_TEST_AD_ADMIN_DN="CN=Administrator,CN=Users,$ad_base"
export RAMPART_TEST_AD_ADMIN_PASSWORD_FILE="$ad_dir/passwords/Administrator"
export RAMPART_TEST_AD_PASSWORD_DIR="$ad_dir/passwords"
echo "scripts: throw-away Active Directory ($(samba --version)) on $RAMPART_TEST_AD_URL:" \
  "$ad_origin, up in $(ad_span "$ad_t_seeded" "$ad_t_up")" >&2

# --check: what docs/peers.md promises, asserted against the running server.
ad_check() {
  local passed=0 failed=0
  local pw="$RAMPART_TEST_AD_PASSWORD_DIR"
  ok() {
    passed=$((passed + 1))
    printf '  ok    %s\n' "$1"
  }
  # bad NAME DETAIL…: a failed assertion, with what was seen indented below it.
  bad() {
    failed=$((failed + 1))
    printf '  FAIL  %s\n' "$1"
    shift
    printf '%s\n' "$@" | sed 's/^/        /'
  }
  # expect NAME RC DATA URL BINDDN PASSWORD_FILE [ldapsearch args…]: a bind (and search) whose
  # exit code must be RC and whose diagnostic, if DATA is not "-", must carry "data DATA".
  expect() {
    local name=$1 want_rc=$2 want_data=$3 url=$4 dn=$5 pwfile=$6
    shift 6
    local out rc
    out=$(LDAPTLS_CACERT="$RAMPART_TEST_AD_CA" ldapsearch -LLL -x -o nettimeout=5 -H "$url" \
      -D "$dn" -y "$pwfile" "$@" 2>&1)
    rc=$?
    local want="$want_rc"
    [ "$want_data" = - ] || want="$want_rc, data $want_data"
    if [ "$rc" = "$want_rc" ] && { [ "$want_data" = - ] || grep -q "data $want_data," <<<"$out"; }; then
      ok "$name ($want)"
    else
      bad "$name: wanted $want, got $rc:" "$out"
    fi
    LAST_OUT=$out
  }
  # has NAME PATTERN: the last answer contains the line PATTERN (grep -x).
  has() {
    if grep -qxF -- "$2" <<<"$LAST_OUT"; then
      ok "$1"
    else
      bad "$1: no line \"$2\" in:" "$LAST_OUT"
    fi
  }
  local url=$RAMPART_TEST_AD_URL plain=$RAMPART_TEST_AD_PLAIN_URL base=$RAMPART_TEST_AD_BASE
  local upn=$RAMPART_TEST_AD_UPN_SUFFIX root=(-b "" -s base dn)
  local wrong="$ad_dir/wrong-password"
  printf 'Not-the-password-1' >"$wrong"
  local empty="$ad_dir/empty-password"
  : >"$empty"

  # Every LDAPS and StartTLS call below verifies the certificate against RAMPART_TEST_AD_CA
  # and the address (LDAPTLS_REQCERT is left at its default, demand).
  echo "samba-ad check against $url"
  expect "simple bind over plain LDAP is refused" 8 - "$plain" "alice@$upn" "$pw/alice" "${root[@]}"
  if grep -q "Transport encryption required" <<<"$LAST_OUT"; then
    ok "… saying: Transport encryption required"
  else
    bad "… without 'Transport encryption required':" "$LAST_OUT"
  fi
  expect "simple bind after StartTLS on 389" 0 - "$plain" "alice@$upn" "$pw/alice" -ZZ "${root[@]}"
  expect "bind as alice@$upn (userPrincipalName)" 0 - "$url" "alice@$upn" "$pw/alice" "${root[@]}"
  expect "bind as ALICE@${upn^^} (any case)" 0 - "$url" "ALICE@${upn^^}" "$pw/alice" "${root[@]}"
  expect "bind as $RAMPART_TEST_AD_DOMAIN\\alice" 0 - "$url" "$RAMPART_TEST_AD_DOMAIN\\alice" "$pw/alice" "${root[@]}"
  expect "bind by DN" 0 - "$url" "CN=Alice Example,CN=Users,$base" "$pw/alice" "${root[@]}"
  expect "bare sAMAccountName is no bind name" 49 52e "$url" alice "$pw/alice" "${root[@]}"
  expect "wrong password" 49 52e "$url" "alice@$upn" "$wrong" "${root[@]}"
  expect "empty password" 49 52e "$url" "alice@$upn" "$empty" "${root[@]}"
  expect "unknown user" 49 52e "$url" "nobody@$upn" "$wrong" "${root[@]}"
  expect "disabled account (carol)" 49 533 "$url" "carol@$upn" "$pw/carol" "${root[@]}"
  expect "must change password (erin)" 49 773 "$url" "erin@$upn" "$pw/erin" "${root[@]}"
  expect "account expired (frank)" 49 701 "$url" "frank@$upn" "$pw/frank" "${root[@]}"
  expect "gina: first wrong password" 49 52e "$url" "gina@$upn" "$wrong" "${root[@]}"
  expect "gina: second wrong password" 49 52e "$url" "gina@$upn" "$wrong" "${root[@]}"
  expect "gina: locked out, right password" 49 775 "$url" "gina@$upn" "$pw/gina" "${root[@]}"
  expect "the service account binds by DN" 0 - "$url" "$RAMPART_TEST_AD_BIND_DN" \
    "$RAMPART_TEST_AD_BIND_PASSWORD_FILE" "${root[@]}"

  local svc=("$RAMPART_TEST_AD_BIND_DN" "$RAMPART_TEST_AD_BIND_PASSWORD_FILE")
  LAST_OUT=$(LDAPTLS_CACERT="$RAMPART_TEST_AD_CA" ldapsearch -LLL -x -H "$url" -b "$base" \
    '(sAMAccountName=alice)' dn 2>&1)
  if grep -q "00002020: Operation unavailable without authentication" <<<"$LAST_OUT"; then
    ok "anonymous search is refused (operationsError, 00002020)"
  else
    bad "anonymous search was not refused:" "$LAST_OUT"
  fi
  expect "search by sAMAccountName" 0 - "$url" "${svc[@]}" -b "$base" "(sAMAccountName=alice)" \
    userPrincipalName memberOf
  has "… finds alice's DN" "dn: CN=Alice Example,CN=Users,$base"
  has "… with her userPrincipalName" "userPrincipalName: alice@$upn"
  has "… and memberOf her direct group" "memberOf: CN=Rampart Admins,CN=Users,$base"
  has "… and a reference to the configuration partition" \
    "# refldaps://$upn/CN=Configuration,$base"
  expect "memberOf names direct groups only" 0 - "$url" "${svc[@]}" -b "$base" \
    "(memberOf=CN=All Staff,CN=Users,$base)" sAMAccountName
  if grep -q "sAMAccountName: alice" <<<"$LAST_OUT"; then
    bad "… but found alice through nesting:" "$LAST_OUT"
  else
    ok "… (not alice)"
  fi
  expect "memberOf:1.2.840.113556.1.4.1941: follows nesting" 0 - "$url" "${svc[@]}" -b "$base" \
    "(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=CN=All Staff,CN=Users,$base))" \
    sAMAccountName
  has "… alice (All Staff > Rampart Admins > alice)" "sAMAccountName: alice"
  has "… bob (All Staff > Sales > bob)" "sAMAccountName: bob"
  expect "dave binds before deletion" 0 - "$url" "dave@$upn" "$pw/dave" "${root[@]}"
  if LAST_OUT=$(LDAPTLS_CACERT="$RAMPART_TEST_AD_CA" ldapdelete -x -H "$url" \
    -D "$RAMPART_TEST_AD_ADMIN_DN" -y "$RAMPART_TEST_AD_ADMIN_PASSWORD_FILE" \
    "CN=dave,CN=Users,$base" 2>&1); then
    ok "the administrator deletes dave over LDAPS"
  else
    bad "deleting dave failed:" "$LAST_OUT"
  fi
  expect "deleted dave no longer binds" 49 52e "$url" "dave@$upn" "$pw/dave" "${root[@]}"

  echo "samba-ad check: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    --check)
      ad_check
      exit
      ;;
    --)
      shift
      [ "$#" -gt 0 ] || ad_fail "usage: $0 -- COMMAND [ARGS…]"
      "$@" {ad_stdin}>&-
      exit
      ;;
    *)
      ad_fail "usage: source $0 | $0 --check | $0 -- COMMAND [ARGS…]"
      ;;
  esac
fi
