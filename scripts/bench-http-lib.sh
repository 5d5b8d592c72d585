# Sourced by scripts/bench-parts/checks and identity: servers started and stopped, wrk runs
# and their medians. Needs BENCH_BIN (release binaries) and WORK (a scratch directory).

command -v wrk >/dev/null || {
  echo "the load generator wrk is not installed (Debian: apt-get install wrk)" >&2
  exit 1
}

# free_port: a loopback port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_rampart DATA_DIR PORT: starts `rampart serve` in the background (pid in $rampart_pid),
# waits for /readyz and sets startup_ms (exec to the first successful /readyz).
start_rampart() {
  local dir=$1 port=$2 t0
  t0=$(date +%s%N)
  RAMPART_HTTPS_ADDR=127.0.0.1:$port RAMPART_HTTP_ADDR=127.0.0.1:0 RAMPART_LOG_FORMAT=json \
    RAMPART_LOG_LEVEL=warn "$BENCH_BIN/rampart" --data-dir "$dir" serve 2>>"$WORK/rampart.log" &
  rampart_pid=$!
  until curl -skf -o /dev/null "https://127.0.0.1:$port/readyz" 2>/dev/null; do
    kill -0 "$rampart_pid" 2>/dev/null || { tail -20 "$WORK/rampart.log" >&2; return 1; }
    sleep 0.002
  done
  startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# start_limit DATA_DIR PORT: starts the 204 handler on Rampart's stack (pid in $limit_pid) and
# sets startup_ms the same way (exec to the first successful request).
start_limit() {
  local dir=$1 port=$2 t0
  t0=$(date +%s%N)
  "$BENCH_BIN/examples/http_limit" serve "$dir" "127.0.0.1:$port" >/dev/null 2>>"$WORK/limit.log" &
  limit_pid=$!
  until curl -skf -o /dev/null "https://127.0.0.1:$port/" 2>/dev/null; do
    kill -0 "$limit_pid" 2>/dev/null || { tail -20 "$WORK/limit.log" >&2; return 1; }
    sleep 0.002
  done
  startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# stop_pid PID: SIGTERM and wait.
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# rss_mib PID: resident memory in MiB.
rss_mib() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# wrk_run SECONDS URL [LUA [LUA ARGS…]]: one timed run under the benchmark lock; prints
# "requests/s p50 p99 non-2xx socket-errors" (latencies in ms). WRK_TIMEOUT (wrk's default
# 2s) is how long a request may take before wrk counts it as a timeout.
wrk_run() {
  local secs=$1 url=$2 out
  shift 2
  if [ $# -gt 0 ]; then
    local lua=$1
    shift
    out=$(flock /tmp/rampart-bench.lock wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${secs}s" ${WRK_TIMEOUT:+--timeout "$WRK_TIMEOUT"} --latency -s "$lua" "$url" -- "$@")
  else
    out=$(flock /tmp/rampart-bench.lock wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${secs}s" ${WRK_TIMEOUT:+--timeout "$WRK_TIMEOUT"} --latency "$url")
  fi
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m[1]) * {"us": 0.001, "ms": 1, "s": 1000}[m[2]]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1])
p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1])
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {non2xx[1] if non2xx else 0} {sum(map(int, errors.groups())) if errors else 0}")
PY
}

# median V…: the median of the numbers given.
median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# fmt N: a number with thousands separators.
fmt() { python3 -c 'import sys; print(f"{float(sys.argv[1]):,.0f}")' "$1"; }

# ratios "A1 A2 …" "B1 B2 …": the median of the paired ratios A/B, two decimals.
paired_ratio() {
  python3 -c 'import statistics,sys
a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]
print(f"{statistics.median(x/y for x,y in zip(a,b)):.2f}")' "$1" "$2"
}
