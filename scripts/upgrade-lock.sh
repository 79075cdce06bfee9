#!/usr/bin/env bash
# A deliberate, tested dependency upgrade: re-resolves requirements/*.lock to the newest versions that
# pyproject.toml allows, installs exactly that into .venv, then runs the whole test suite against it.
# Review `git diff requirements/` and commit the locks only when the suite passes; `git checkout requirements/`
# followed by scripts/setup.sh --dev goes back. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev  # uv comes with the dev lock
bash scripts/lock.sh --upgrade
git --no-pager diff --stat -- requirements/ || true
bash scripts/setup.sh --dev  # the stamp follows the locks: this installs the new set and removes what left it
bash scripts/test.sh "$@"
echo "upgrade-lock: the suite passed on the new locks; review and commit requirements/*.lock"
