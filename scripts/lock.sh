#!/usr/bin/env bash
# Resolves the Python dependency locks from pyproject.toml (the source of the version ranges):
#   requirements/dev.lock     the app, the dev extra and the build backend (what scripts/setup.sh --dev installs)
#   requirements/app.lock     the app and the build backend, at the dev lock's versions (setup.sh, Docker image)
#   requirements/nodeps.lock  packages installed without their dependencies (see requirements/nodeps.in)
# Every file pins every distribution, transitive ones included, with the hashes of its files. The resolution is
# universal (environment markers), for every Python version pyproject.toml's requires-python admits; each of
# those versions is then checked to have a wheel of every locked package on Linux (glibc 2.36) x86_64 and aarch64.
#
#   scripts/lock.sh             add what pyproject.toml asks for, keep every existing pin that still fits
#   scripts/lock.sh --upgrade   re-resolve everything to the newest allowed versions
#   (scripts/upgrade-lock.sh does the latter, installs the result and runs the whole test suite on it)
#
# uv does the resolving (pip-tools resolves for the running interpreter only, so it cannot write one lock that
# is right for several Python versions); installs use plain pip with --require-hashes.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
[[ -x $UV ]] || UV=$(command -v uv) || { echo "uv not found: run scripts/setup.sh --dev (or pip install uv)"; exit 1; }
export UV_PYTHON_DOWNLOADS=never  # resolving needs no interpreter of each version, only their tags
upgrade=()
[[ "${1:-}" == "--upgrade" ]] && upgrade=(--upgrade)
oldest=$(sed -nE 's/^requires-python = ">=([0-9.]+),<([0-9.]+)".*/\1/p' pyproject.toml)
bound=$(sed -nE 's/^requires-python = ">=([0-9.]+),<([0-9.]+)".*/\2/p' pyproject.toml)
[[ -n $oldest && -n $bound ]] || { echo "pyproject.toml: requires-python must read \">=3.X,<3.Y\""; exit 1; }

compile() {
  "$UV" pip compile --quiet --universal --python-version "$oldest" --generate-hashes \
    --custom-compile-command "scripts/lock.sh" "${upgrade[@]}" "$@"
}
compile pyproject.toml requirements/build.in --extra dev -o requirements/dev.lock
# Constrained to the dev lock: the app runs on the very versions the tests ran on.
compile pyproject.toml requirements/build.in -c requirements/dev.lock -o requirements/app.lock
compile requirements/nodeps.in --no-deps -o requirements/nodeps.lock

minor=${oldest#3.}
while [[ "3.$minor" != "$bound" ]]; do
  for platform in x86_64-manylinux_2_36 aarch64-manylinux_2_36; do  # glibc 2.36: Debian 12, the image
    if ! "$UV" pip compile --quiet --no-header --python-version "3.$minor" --python-platform "$platform" \
        --only-binary :all: --no-deps requirements/dev.lock -o /dev/null; then
      echo "lock: some locked package has no wheel for Python 3.$minor on $platform (see above)"; exit 1
    fi
  done
  minor=$((minor + 1))
done
echo "lock: requirements/*.lock written; wheels present for Python $oldest up to (excluding) $bound"
