#!/usr/bin/env bash
# A real SMTP server on loopback for the support desk's tests: aiosmtpd (PyPI, pinned in
# tests/peers/smtp/requirements.txt) in a small server of ours (tests/peers/smtp/server.py),
# plain text, which writes every message it accepts to a directory the tests read. In a
# temporary directory that goes when the server ends. See docs/peers.md.
#
#   source scripts/peers/smtp.sh        # start it, export RAMPART_TEST_SMTP_*; stops on exit
#   scripts/peers/smtp.sh -- CMD ARGS…  # run CMD with the server up, then stop it
#   scripts/peers/smtp.sh --serve       # for a test binary: print `ready PORT DIR`, serve
#                                       # until standard input ends, then clean up
#   scripts/peers/smtp.sh --check       # start it, send one message, read it back, stop
#
# Installs aiosmtpd into a virtual environment per version of the pins (a cache directory),
# once. Any user.
#
# Exported for tests:
#   RAMPART_TEST_SMTP_PORT   the port on 127.0.0.1
#   RAMPART_TEST_SMTP_DIR    messages arrive as $RAMPART_TEST_SMTP_DIR/messages/NNNNNN.eml

smtp_fail() {
  echo "smtp: $*" >&2
  exit 1
}

smtp_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/peers/smtp" && pwd) \
  || smtp_fail "tests/peers/smtp not found"

if [ "$(id -u)" = 0 ]; then
  smtp_cache=${RAMPART_SMTP_CACHE:-/var/cache/rampart-test-smtp}
else
  smtp_cache=${RAMPART_SMTP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart-test-smtp}
fi
{ mkdir -p "$smtp_cache" && chmod 700 "$smtp_cache"; } || smtp_fail "cannot create $smtp_cache"
smtp_venv="$smtp_cache/venv-$({ python3 --version; cat "$smtp_src/requirements.txt"; } | sha256sum | cut -c1-16)"
(
  flock 9
  if [ ! -f "$smtp_venv/complete" ]; then
    echo "scripts: installing $(grep -m1 '^aiosmtpd==' "$smtp_src/requirements.txt") into $smtp_venv" >&2
    rm -rf "$smtp_venv"
    python3 -m venv "$smtp_venv" \
      || { echo "smtp: python3 cannot create a virtual environment; on Debian: apt-get install python3-venv" >&2; exit 1; }
    "$smtp_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      -r "$smtp_src/requirements.txt" >&2 || exit 1
    touch "$smtp_venv/complete"
  fi
) 9>"$smtp_cache/.lock" || smtp_fail "installing aiosmtpd failed"

smtp_dir=$(mktemp -d /tmp/rampart-smtp.XXXXXX)
chmod 700 "$smtp_dir"

if [ "${1:-}" = "--serve" ]; then
  # The caller's pipe is our standard input: the server reads it and ends with it.
  SMTP_DIR="$smtp_dir" "$smtp_venv/bin/python" "$smtp_src/server.py" \
    2>"$smtp_dir/server.log" | while read -r word port; do
      [ "$word" = ready ] && echo "ready $port $smtp_dir"
    done
  rm -rf "$smtp_dir"
  exit 0
fi

smtp_pid=""
smtp_stdin=""
smtp_stop() {
  if [ -n "$smtp_stdin" ]; then exec {smtp_stdin}>&- || true; fi
  if [ -n "$smtp_pid" ]; then
    for _ in $(seq 1 50); do
      kill -0 "$smtp_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM "$smtp_pid" 2>/dev/null || true
  fi
  smtp_pid=""
  smtp_stdin=""
  rm -rf "$smtp_dir"
}
eval "smtp_prev_trap=($(trap -p EXIT))"
trap -- "smtp_stop; ${smtp_prev_trap[2]:-}" EXIT
unset smtp_prev_trap

# Python ends itself when its standard input, a FIFO whose only writer is this shell, ends.
mkfifo -m 600 "$smtp_dir/stdin"
SMTP_DIR="$smtp_dir" "$smtp_venv/bin/python" "$smtp_src/server.py" \
  <"$smtp_dir/stdin" >"$smtp_dir/ready" 2>"$smtp_dir/server.log" &
smtp_pid=$!
exec {smtp_stdin}>"$smtp_dir/stdin"
rm -f "$smtp_dir/stdin"
smtp_port=""
for _ in $(seq 1 200); do
  smtp_port=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$smtp_dir/ready" 2>/dev/null)
  [ -n "$smtp_port" ] && break
  kill -0 "$smtp_pid" 2>/dev/null || break
  sleep 0.05
done
[ -n "$smtp_port" ] || { cat "$smtp_dir/server.log" >&2; smtp_fail "the server did not start"; }
export RAMPART_TEST_SMTP_PORT="$smtp_port"
export RAMPART_TEST_SMTP_DIR="$smtp_dir"

if [ "${1:-}" = "--check" ]; then
  "$smtp_venv/bin/python" - <<'PY' || smtp_fail "check failed"
import os, smtplib, time, email
port = int(os.environ["RAMPART_TEST_SMTP_PORT"])
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail("a@example.test", ["b@example.test"],
               "From: a@example.test\r\nTo: b@example.test\r\nSubject: check\r\n\r\nhello\r\n")
d = os.path.join(os.environ["RAMPART_TEST_SMTP_DIR"], "messages")
for _ in range(100):
    names = [n for n in os.listdir(d) if n.endswith(".eml")]
    if names:
        break
    time.sleep(0.05)
m = email.message_from_bytes(open(os.path.join(d, names[0]), "rb").read())
assert m["Subject"] == "check" and m["X-Peer-Rcpt-To"] == "b@example.test", m
print("smtp: check passed: one message sent and read back")
PY
  exit 0
fi

if [ "${1:-}" = "--" ]; then
  shift
  "$@"
  exit $?
fi
