#!/usr/bin/env bash
# Starts Sightline on this machine: installs what is missing, prepares the database, creates a first admin
# account, then runs the web server (daphne), one Celery worker and Celery beat (periodic sweeps, retention)
# until Ctrl-C.
#
#   scripts/start.sh
#
# Environment (all optional):
#   SIGHTLINE_MODE=services|embedded   force a mode; default: services when PostgreSQL and Redis are reachable
#                                      or startable here, embedded (SQLite, no servers) otherwise
#   SIGHTLINE_HOST / SIGHTLINE_PORT    where the web server listens (127.0.0.1:8000)
#   SIGHTLINE_ADMIN_USER / SIGHTLINE_ADMIN_PASSWORD   the first admin (default user "admin", password generated)
#   SIGHTLINE_PG_PORT / SIGHTLINE_REDIS_PORT   where to look for PostgreSQL and Redis on 127.0.0.1
#   SIGHTLINE_DEV=1                    developer mode: DEBUG on, static files straight from the source tree
#                                      (default: webapp.settings.local, DEBUG off, no TLS on 127.0.0.1)
#   DATABASE_URL, REDIS_URL, SIGHTLINE_DATA_DIR, SIGHTLINE_MEDIA_ROOT, REID_MODELS_DIRS, DJANGO_SETTINGS_MODULE
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '\033[1m[sightline]\033[0m %s\n' "$*"; }

bash scripts/setup.sh
# shellcheck source=lib/services.sh
source scripts/lib/services.sh
# shellcheck disable=SC1091
source .venv/bin/activate

if [[ ${SIGHTLINE_DEV:-0} == 1 ]]; then
  export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-webapp.settings.dev}
else
  export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-webapp.settings.local}
fi
export SIGHTLINE_DATA_DIR=${SIGHTLINE_DATA_DIR:-$ROOT/var}
export PYTHONUNBUFFERED=1
HOST=${SIGHTLINE_HOST:-127.0.0.1}
PORT=${SIGHTLINE_PORT:-8000}
mkdir -p "$SIGHTLINE_DATA_DIR"

# --- mode ---------------------------------------------------------------------------------------------
MODE=${SIGHTLINE_MODE:-auto}
why=""
if [[ $MODE == auto || $MODE == services ]]; then
  if ensure_postgres && ensure_redis && url=$(postgres_url sightline); then
    MODE=services
    export DATABASE_URL=${DATABASE_URL:-$url}
    export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
    # The database itself may be missing on a fresh machine.
    admin_url=${DATABASE_URL%/*}/postgres
    db_name=${DATABASE_URL##*/}
    if ! psql "$DATABASE_URL" -Atc 'select 1' >/dev/null 2>&1; then
      say "creating database $db_name"
      psql "$admin_url" -qc "CREATE DATABASE \"$db_name\"" >/dev/null
    fi
  elif [[ $MODE == services ]]; then
    say "SIGHTLINE_MODE=services but PostgreSQL or Redis cannot be reached or started"; exit 1
  else
    MODE=embedded
    why=" (PostgreSQL or Redis not reachable)"
  fi
fi
if [[ $MODE != services && $MODE != embedded ]]; then
  say "SIGHTLINE_MODE must be services or embedded, not '$MODE'"; exit 1
fi
export SIGHTLINE_MODE=$MODE

# --- database and first admin -------------------------------------------------------------------------
say "preparing the database"
python manage.py migrate --no-input -v 0
python manage.py ensure_admin
if [[ $DJANGO_SETTINGS_MODULE != webapp.settings.dev ]]; then
  python manage.py collectstatic --no-input -v 0  # hashed, compressed copies that whitenoise serves
fi

# --- run ----------------------------------------------------------------------------------------------
# Ctrl-C, SIGTERM or SIGHUP to this script stops every process it started: SIGTERM first, SIGKILL for any
# still running after STOP_GRACE_S. (A shell started in the background ignores SIGINT and cannot trap it;
# SIGTERM still works there.)
pids=()
STOP_GRACE_S=${SIGHTLINE_STOP_GRACE_S:-20}
running() {
  local pid alive=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  echo "${alive[@]}"
}
stop() {
  trap - INT TERM HUP EXIT
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local waited=0
  while [[ -n $(running) && $waited -lt $((STOP_GRACE_S * 10)) ]]; do sleep 0.1; waited=$((waited + 1)); done
  local left
  left=$(running)
  if [[ -n $left ]]; then
    say "still running after ${STOP_GRACE_S} s, killing: $left"
    for pid in $left; do
      pkill -KILL -P "$pid" 2>/dev/null || true  # its own children first (a Celery worker's pool)
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  wait 2>/dev/null || true
}
trap stop INT TERM HUP EXIT

worker_args=(-A webapp worker -Q ingest,search --loglevel INFO --concurrency "${SIGHTLINE_WORKER_CONCURRENCY:-1}")
if [[ $MODE == embedded ]]; then
  # The filesystem transport has no fan-out: no gossip, mingle or heartbeat; one process polls it.
  worker_args+=(--pool solo --without-gossip --without-mingle --without-heartbeat)
fi
celery "${worker_args[@]}" &
pids+=($!)
# One beat per installation: it only sends the periodic tasks (settings.CELERY_BEAT_SCHEDULE) to the worker.
celery -A webapp beat --loglevel INFO &
pids+=($!)
daphne -b "$HOST" -p "$PORT" webapp.asgi:application &
pids+=($!)

if [[ $MODE == embedded ]]; then
  say "mode: embedded$why: SQLite, SQLite channel layer and a filesystem queue under $SIGHTLINE_DATA_DIR"
else
  say "mode: services: PostgreSQL ($DATABASE_URL) and Redis ($REDIS_URL)"
fi
say "open http://$HOST:$PORT/  (administration: http://$HOST:$PORT/admin/)  Ctrl-C stops"
# Exit as soon as any process dies, so a crash is not hidden behind the others still running.
wait -n "${pids[@]}"
say "a process exited; shutting down the others"
