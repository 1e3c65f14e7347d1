#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and the benchmarks: a new
# cluster in DIR on a free port of 127.0.0.1, trusted local logins for the
# user `mortar` (a superuser of this cluster only). Installs Debian's
# postgresql when it is missing.
#
#   scripts/postgres.sh start DIR [--durable]   prints the server's URL
#   scripts/postgres.sh stop DIR                stops that server (the PID
#                                               in DIR/postmaster.pid)
#
# Without --durable the server skips fsync (a test's data need not survive
# a power cut); the benchmarks pass --durable to measure what a real
# deployment pays. PostgreSQL refuses to run as root: as root, the cluster
# belongs to the `postgres` user that Debian's package makes.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

usage() { echo "usage: scripts/postgres.sh start DIR [--durable] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1
dir=$2
durable=${3:-}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "no free port found between 20000 and 60000" >&2
  return 1
}

case "$command" in
  start)
    ensure_postgres >&2
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    as_owner "$pg_bin/initdb" -D "$dir" -U mortar -A trust -E UTF8 --no-locale >"$dir.initdb.log" 2>&1 \
      || { cat "$dir.initdb.log" >&2; exit 1; }
    port=$(free_port)
    settings="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400"
    [ "$durable" = --durable ] || settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_owner "$pg_bin/pg_ctl" -D "$dir" -o "$settings" -l "$dir/server.log" -w -t 60 start >&2 \
      || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    echo "postgres://mortar@127.0.0.1:$port/postgres"
    ;;
  stop)
    find_postgres || { echo "PostgreSQL is not installed" >&2; exit 1; }
    [ -f "$dir/postmaster.pid" ] || exit 0
    as_owner "$pg_bin/pg_ctl" -D "$dir" -m fast -w stop >&2
    rm -f "$dir.initdb.log"
    ;;
  *) usage ;;
esac
