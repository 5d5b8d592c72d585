# Sourced by scripts/test and scripts/bench: starts a throw-away PostgreSQL cluster on
# loopback and exports RAMPART_TEST_PG_URL; the cluster is stopped and deleted on exit
# (not durable unless RAMPART_PG_DURABLE=1).
#
# Installs Debian's postgresql when it is missing and we are root. PostgreSQL refuses to
# run as root, so as root the cluster runs as the unprivileged user `rampart-pg`.

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "scripts: installing PostgreSQL from Debian packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  else
    echo "scripts: PostgreSQL is not installed; run: sudo apt-get install postgresql" >&2
    exit 1
  fi
fi

pg_dir=$(mktemp -d /tmp/rampart-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id rampart-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin rampart-pg
  chown rampart-pg "$pg_dir"
  as_pg=(runuser -u rampart-pg --)
fi
# Tests need no durability; a benchmark of durable appends does: RAMPART_PG_DURABLE=1 keeps
# PostgreSQL's defaults (fsync, synchronous commit, full-page writes).
if [ -n "${RAMPART_PG_DURABLE:-}" ]; then
  pg_durability=""
else
  pg_durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w start \
  -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=300 $pg_durability" >/dev/null \
  || { cat "$pg_dir/server.log" >&2; exit 1; }

pg_stop() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap pg_stop EXIT

export RAMPART_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
echo "scripts: throw-away PostgreSQL ($("$pg_bin/postgres" --version)) on 127.0.0.1:$pg_port" >&2
