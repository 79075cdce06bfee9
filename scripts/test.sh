#!/usr/bin/env bash
# The whole test suite: lint, types, the frontend's unit tests, then every Python test (unit, integration
# against real PostgreSQL + Redis + Celery workers, browser tests in Chromium). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# shellcheck source=lib/services.sh
source scripts/lib/services.sh
ensure_postgres || { echo "PostgreSQL is needed for the tests and could not be started"; exit 1; }
ensure_redis || { echo "Redis is needed for the tests and could not be started"; exit 1; }
DATABASE_URL=${DATABASE_URL:-$(postgres_url sightline)}
export DATABASE_URL
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
export SIGHTLINE_SHARED_DIR=${SIGHTLINE_SHARED_DIR:-$(cd .. && pwd)/shared}
export PYTHONUNBUFFERED=1
source .venv/bin/activate

echo "== ruff"
ruff check .
echo "== mypy"
mypy
if [[ -f frontend/package.json ]]; then
  echo "== frontend tests"
  (cd frontend && npm test --silent)
fi
echo "== pytest"
mkdir -p test-artifacts
pytest "$@"
