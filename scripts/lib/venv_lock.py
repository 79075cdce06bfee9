"""Compares the distributions installed in this interpreter's environment with requirements/*.lock files.

    python scripts/lib/venv_lock.py LOCK...           prints the differences; exit 1 when there are any
    python scripts/lib/venv_lock.py --prune LOCK...   first uninstalls what no lock names

The project itself and pip (the venv's own installer) are not in the locks and are not compared.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

NOT_LOCKED = {"sightline", "pip"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(paths: list[Path]) -> dict[str, str]:
    """name -> version of every pin whose environment marker holds for this interpreter."""
    pins: dict[str, str] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            match = PIN.match(line)
            if match is None:
                continue
            name, version, marker = match.groups()
            if marker and not Marker(marker).evaluate():
                continue
            pins[canonicalize_name(name)] = version
    return pins


def installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonicalize_name(name)] = dist.version
    return {name: version for name, version in found.items() if name not in NOT_LOCKED}


def differences(paths: list[Path]) -> list[str]:
    want, have = locked(paths), installed()
    problems = [f"missing: {name}=={version}" for name, version in sorted(want.items()) if name not in have]
    problems += [
        f"version: {name} {have[name]} installed, {version} locked"
        for name, version in sorted(want.items())
        if name in have and have[name] != version
    ]
    problems += [f"not locked: {name}=={have[name]}" for name in sorted(set(have) - set(want))]
    return problems


def main(argv: list[str]) -> int:
    prune = "--prune" in argv
    paths = [Path(arg) for arg in argv if arg != "--prune"]
    if prune:
        extra = sorted(set(installed()) - set(locked(paths)))
        if extra:
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *extra], check=True)
    problems = differences(paths)
    for problem in problems:
        print(f"venv differs from {', '.join(map(str, paths))}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
