#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster on a free loopback port, for tests and local replicas.
#
#   scripts/start_postgres.sh [DIR]     -> prints "URL" then "PGDATA" (one per line); the server runs in the background
#   scripts/start_postgres.sh --stop DIR -> stops the cluster started in DIR (fast shutdown)
#
# initdb refuses to run as root, so as root the cluster is owned and run by the
# `postgres` user (Debian's package creates it). Durability is switched off (fsync,
# synchronous_commit): the data is disposable and tests should not wait on disks.
set -euo pipefail

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"
if [[ -z "${PG_BIN}" || ! -x "${PG_BIN}/initdb" ]]; then
    echo "start_postgres.sh: no PostgreSQL binaries (install Debian's postgresql package)" >&2
    exit 3
fi

as_owner() {
    if [[ "$(id -u)" == "0" ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ "${1:-}" == "--stop" ]]; then
    as_owner "${PG_BIN}/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null
    exit 0
fi

DIR="${1:-$(mktemp -d /tmp/verifier-pg-XXXXXX)}"
mkdir -p "${DIR}"
if [[ "$(id -u)" == "0" ]]; then
    chown postgres: "${DIR}"
fi
as_owner "${PG_BIN}/initdb" -D "${DIR}/data" -U postgres -A trust -E UTF8 --no-sync >"${DIR}/initdb.log" 2>&1 \
    || { cat "${DIR}/initdb.log" >&2; exit 1; }
# A port is picked free, then bound by the server: another process (a second test worker's
# server) can take it in between, so a failed start is retried on a fresh port.
started=""
for _ in 1 2 3 4 5; do
    PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    if as_owner "${PG_BIN}/pg_ctl" -D "${DIR}/data" -l "${DIR}/postgres.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p ${PORT} -k ${DIR} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null; then
        started=1
        break
    fi
done
[[ -n "${started}" ]] || { cat "${DIR}/postgres.log" >&2; exit 1; }

echo "postgresql://postgres@127.0.0.1:${PORT}/postgres"
echo "${DIR}"
