#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 for the tests and prints
# its URL: export SLIPWAY_TEST_DATABASE_URL="$(bash scripts/pg-start.sh)".
# It lives in a temporary directory and is stopped with
#   pg_ctl -D <dir> stop   (the directory is printed to stderr).
# Uses the newest PostgreSQL under /usr/lib/postgresql, installing Debian's
# package when there is none.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ]; then
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/slipway-pg.XXXXXX)

# initdb refuses to run as root: run the server as the postgres user then.
as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
"${as[@]}" "$bindir/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
"${as[@]}" "$bindir/pg_ctl" -D "$dir" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >&2
echo "PostgreSQL data directory: $dir" >&2
echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
