#!/usr/bin/env bash
# Installs everything the app (and, with --dev, the test suite) needs. Idempotent: a second run is fast.
#   scripts/setup.sh          app: system packages, .venv, frontend build
#   scripts/setup.sh --dev    also the browser and tools the tests use
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# --- system packages (Debian/Ubuntu) -------------------------------------------------------------
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [[ $DEV == 1 ]]; then
  [[ -x /usr/bin/chromium ]] || need+=(chromium)
  command -v pg_ctlcluster >/dev/null || command -v pg_isready >/dev/null || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
fi
if [[ ${#need[@]} -gt 0 ]]; then
  if command -v apt-get >/dev/null; then
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    log "installing system packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    log "please install: ${need[*]} (no apt-get here)"; exit 1
  fi
fi

# --- Python environment ---------------------------------------------------------------------------
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  $PY -m venv .venv
fi
# Exactly the locked versions (requirements/*.lock, written by scripts/lock.sh): every distribution pinned
# with its hashes, so that every machine, CI and the Docker image run the same set.
locks=(requirements/app.lock)
# A dev install holds everything the app needs: the app's setup (start.sh) keeps it a dev install.
[[ $DEV == 0 ]] && compgen -G ".venv/.installed-*-1" >/dev/null && DEV=1
[[ $DEV == 1 ]] && locks=(requirements/dev.lock requirements/nodeps.lock)
# The stamp follows the locks and pyproject.toml: a new lock installs again.
stamp=".venv/.installed-$(cat pyproject.toml requirements/*.lock | sha256sum | cut -c1-16)-$DEV"
if [[ ! -f $stamp ]]; then
  log "installing Python packages (${locks[*]})"
  mkdir -p var
  pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >>var/pip-install.log 2>&1; }
  : >var/pip-install.log
  pip_install --require-hashes -r "${locks[0]}" \
    || { tail -30 var/pip-install.log; log "pip install failed (full log: var/pip-install.log)"; exit 1; }
  if [[ $DEV == 1 ]]; then
    # Without their dependencies, for the reason given in requirements/nodeps.in.
    pip_install --require-hashes --no-deps -r requirements/nodeps.lock \
      || { tail -30 var/pip-install.log; log "pip install (nodeps.lock) failed"; exit 1; }
  fi
  # The project itself (the `reid` command), built by the locked setuptools: nothing unhashed is fetched.
  pip_install --no-deps --no-build-isolation -e . \
    || { tail -30 var/pip-install.log; log "pip install of the project failed"; exit 1; }
  # Packages an older lock had and this one dropped go; then the environment must equal the lock.
  .venv/bin/python scripts/lib/venv_lock.py --prune "${locks[@]}" || { log "the venv differs from the lock"; exit 1; }
  .venv/bin/python -c "import django, celery, channels, onnxruntime, faiss, cv2, av, supervision" \
    || { log "Python packages failed to install"; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# --- frontend -------------------------------------------------------------------------------------
if [[ -f frontend/package.json ]]; then
  fstamp="frontend/node_modules/.installed-$(cat frontend/package.json frontend/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)"
  if [[ ! -f $fstamp ]]; then
    log "installing frontend packages"
    if [[ -f frontend/package-lock.json ]]; then
      (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd frontend && npm install --no-audit --no-fund --loglevel=error)
    fi
    touch "$fstamp"
  fi
  (cd frontend && npm run --silent build)
fi
log "ready ($ROOT)"
