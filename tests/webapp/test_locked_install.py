"""Installs come from the locks: the environment the tests run in holds exactly the locked set, the locks
cover what pyproject.toml asks for, every pin carries hashes, and every installer uses them."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

from live_services import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCKS = REPO / "requirements"


def _venv_lock() -> ModuleType:
    spec = importlib.util.spec_from_file_location("venv_lock", REPO / "scripts" / "lib" / "venv_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installed_set_is_exactly_the_dev_lock() -> None:
    venv_lock = _venv_lock()
    paths = [LOCKS / "dev.lock", LOCKS / "nodeps.lock"]
    pins = venv_lock.locked(paths)
    assert len(pins) > 80 and pins["django"].startswith("5.2.") and pins["trackeval"] == "1.3.0"
    # Names and versions, both ways: nothing missing, nothing at another version, nothing unlocked.
    assert venv_lock.differences(paths) == []
    # The same answer from the interpreter's own view, for a few packages the app cannot run without.
    for name in ("django", "channels-redis", "redis", "celery", "numpy", "onnxruntime"):
        assert metadata.version(name) == pins[name], name


def _pins(path: Path) -> dict[str, list[tuple[str, str]]]:
    """name -> [(version, marker)] for every pin in the file (all markers, not only this interpreter's)."""
    pins: dict[str, list[tuple[str, str]]] = {}
    pin = re.compile(r"^([A-Za-z0-9][\w.-]*)==([^\s;\\]+)(?:\s*;\s*([^\\\n]+?))?\s*\\$", re.M)
    for match in pin.finditer(path.read_text()):
        pins.setdefault(canonicalize_name(match[1]), []).append((match[2], (match[3] or "").strip()))
    return pins


def test_every_pin_carries_hashes() -> None:
    for name in ("app.lock", "dev.lock", "nodeps.lock"):
        text = (LOCKS / name).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # after the two header lines
        pinned = [block for block in blocks if "==" in block.split("\n", 1)[0]]
        assert pinned, name
        for block in pinned:
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), f"{name}: {block.splitlines()[0]}"


def test_locks_satisfy_pyproject_and_agree_with_each_other() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    app, dev = _pins(LOCKS / "app.lock"), _pins(LOCKS / "dev.lock")
    build_lines = (LOCKS / "build.in").read_text().splitlines()
    build = [Requirement(line) for line in build_lines if line[:1].isalpha()]
    for lock, requirements in (
        (app, [*map(Requirement, project["dependencies"]), *build]),
        (dev, [*map(Requirement, project["dependencies"] + project["optional-dependencies"]["dev"]), *build]),
    ):
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{name} is in pyproject.toml but not locked: run scripts/lock.sh"
            for version, _marker in lock[name]:
                assert requirement.specifier.contains(version, prereleases=True), (
                    f"{name}=={version} is outside pyproject.toml's {requirement}: run scripts/lock.sh"
                )
    # The app runs on the versions the tests ran on (markers may be written differently).
    for name, versions in app.items():
        assert {v for v, _ in versions} == {v for v, _ in dev[name]}, name
    assert "pytest" not in app and "uv" in dev


def test_supported_pythons_are_declared_and_this_one_among_them() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    spec = Requirement(f"python{project['requires-python']}").specifier
    prefix = "Programming Language :: Python :: "
    declared = [c.removeprefix(prefix) for c in project["classifiers"] if c.startswith(prefix + "3.")]
    assert declared[0] == "3.11" and len(declared) >= 3
    assert all(spec.contains(f"{version}.0") for version in declared)
    assert not spec.contains(f"3.{int(declared[-1].split('.')[1]) + 1}.0")
    assert spec.contains(f"{sys.version_info.major}.{sys.version_info.minor}.0")


def test_every_installer_uses_the_lock_with_hashes() -> None:
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "--require-hashes -r" in setup and "requirements/dev.lock" in setup
    assert "--no-deps --no-build-isolation -e ." in setup
    assert re.search(r"stamp=.*requirements/\*\.lock", setup), "the setup stamp must change with the lock"
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements/app.lock" in dockerfile
    assert not re.search(r"pip install (?!--require-hashes)", dockerfile)
    assert "!requirements/app.lock" in (REPO / "docker" / "Dockerfile.dockerignore").read_text()
