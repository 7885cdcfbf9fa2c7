#!/usr/bin/env bash
# A throwaway local PostgreSQL server for the portability tests (docs/PORTABILITY.md).
#
#   scripts/postgres.sh start    initdb (first time) + start + create the database; idempotent
#   scripts/postgres.sh stop     stop the server and delete its folder; idempotent
#   scripts/postgres.sh status   exit 0 when running, 3 when not
#   scripts/postgres.sh env      print `export PG...=` lines for dbt's postgres target and dlt
#
# Settings (environment):
#   ACCOUNT_HEALTH_PG_PORT   TCP port, 127.0.0.1 only            (default 54329)
#   ACCOUNT_HEALTH_PG_DIR    folder holding the data directory   (default ${TMPDIR:-/tmp}/account_health_pg)
#   ACCOUNT_HEALTH_PG_DB     database created on start           (default account_health)
#   ACCOUNT_HEALTH_PG_BIN    PostgreSQL bin folder               (default: newest /usr/lib/postgresql/*/bin)
#
# Why this shape: initdb refuses to run as root, so a root caller runs the server binaries as the
# `postgres` system user on a folder that user owns; any other caller runs them directly. Trust
# auth on 127.0.0.1 only and the unix socket inside the data folder keep it invisible to the
# machine's own PostgreSQL service. Durability is switched off: this server only holds test builds.
# JIT is off: dbt's hundreds of small queries over view chains pass its cost threshold, and compiling
# them made the demo company's first build take 64 s instead of 34 s.
set -euo pipefail

PORT="${ACCOUNT_HEALTH_PG_PORT:-54329}"
ROOT_DIR="${ACCOUNT_HEALTH_PG_DIR:-${TMPDIR:-/tmp}/account_health_pg}"
DB_NAME="${ACCOUNT_HEALTH_PG_DB:-account_health}"
DATA_DIR="$ROOT_DIR/data"
SUPERUSER="postgres"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    if [[ -n "${ACCOUNT_HEALTH_PG_BIN:-}" ]]; then
        echo "$ACCOUNT_HEALTH_PG_BIN"
        return
    fi
    # Prefer 15 (the verified version), else the newest installed major version.
    if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    echo "${found:-/usr/lib/postgresql/15/bin}"
}

is_root() { [[ "$(id -u)" == "0" ]]; }

# Run a server binary as the user owning the data folder.
as_owner() {
    if is_root; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

ensure_installed() {
    PG_BIN="$(find_bin)"
    if [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]]; then
        return
    fi
    if ! is_root; then
        log "no PostgreSQL binaries in $PG_BIN and not root: install the Debian package 'postgresql'"
        exit 1
    fi
    log "installing PostgreSQL (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
    PG_BIN="$(find_bin)"
    if [[ ! -x "$PG_BIN/initdb" ]]; then
        log "apt-get install finished but $PG_BIN/initdb is missing"
        exit 1
    fi
}

running() {
    [[ -f "$DATA_DIR/PG_VERSION" ]] || return 1
    as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

psql_cmd() {
    "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$@"
}

start() {
    ensure_installed
    if running; then
        log "already running on 127.0.0.1:$PORT ($DATA_DIR)"
    else
        mkdir -p "$ROOT_DIR"
        if is_root; then
            id postgres >/dev/null 2>&1 || {
                log "root caller but no 'postgres' system user to run the server as"
                exit 1
            }
            chown postgres "$ROOT_DIR"
            chmod 755 "$ROOT_DIR"
        fi
        if [[ ! -f "$DATA_DIR/PG_VERSION" ]]; then
            rm -rf "$DATA_DIR"
            as_owner "$PG_BIN/initdb" -D "$DATA_DIR" -U "$SUPERUSER" --auth=trust \
                --encoding=UTF8 --locale=C >"$ROOT_DIR/initdb.log" 2>&1 || {
                cat "$ROOT_DIR/initdb.log" >&2
                exit 1
            }
        fi
        as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w -t 60 \
            -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DATA_DIR \
                -c timezone=UTC -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                -c max_connections=50 -c jit=off" \
            start >/dev/null || {
            tail -n 30 "$DATA_DIR/server.log" >&2 || true
            exit 1
        }
        log "started on 127.0.0.1:$PORT ($DATA_DIR)"
    fi
    if [[ "$(psql_cmd -d postgres -tAc "select 1 from pg_database where datname = '$DB_NAME'")" != "1" ]]; then
        psql_cmd -d postgres -c "create database \"$DB_NAME\"" >/dev/null
        log "created database $DB_NAME"
    fi
}

stop() {
    PG_BIN="$(find_bin)"
    if [[ -x "$PG_BIN/pg_ctl" ]] && running; then
        as_owner "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w stop >/dev/null
        log "stopped"
    fi
    rm -rf "$ROOT_DIR"
}

status() {
    PG_BIN="$(find_bin)"
    if [[ -x "$PG_BIN/pg_ctl" ]] && running; then
        echo "running on 127.0.0.1:$PORT, database $DB_NAME, data $DATA_DIR"
        return 0
    fi
    echo "not running"
    return 3
}

env_lines() {
    echo "export PGHOST=127.0.0.1"
    echo "export PGPORT=$PORT"
    echo "export PGUSER=$SUPERUSER"
    echo "export PGDATABASE=$DB_NAME"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) env_lines ;;
    *)
        echo "usage: $0 start|stop|status|env" >&2
        exit 2
        ;;
esac
