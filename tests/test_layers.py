"""The layer contracts of the code, read from its imports (every import, also those inside functions: a
function-level import is a dependency too, it only runs later). Imports under `if TYPE_CHECKING:` are left
out: they name types and never run.

1. reid_core, the engine, imports nothing of the web app and no web framework.
2. The Django apps form layers, lowest first: audit, cases, jobs, footage, search. An app imports only apps
   below it, so there are no cycles between apps (an upper app reaches a lower one through signals, job-kind
   hooks and task names).
3. Services never import tasks: a job's task is sent by its name (celery.signature), so a task module may
   import its services without a cycle.
4. Views write no audit events: the services they call do (every action is a webapp.audit.actions name).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_LAYERS = ["audit", "cases", "jobs", "footage", "search"]  # lowest first
WEB_PACKAGES = ("webapp", "django", "celery", "channels", "daphne", "redis")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import that runs, relative imports resolved."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), module)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base]) if base else ".".join(package)
            yield base, node.lineno
            for alias in node.names:  # `from webapp.footage import tasks` imports a module
                yield f"{base}.{alias.name}", node.lineno
        else:
            yield from _imports(node, module)


def _edges(package: str) -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) over the package's product code (no migrations)."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = _module_name(path)
        for target, line in _imports(ast.parse(path.read_text(), str(path)), module):
            found.append((module, target, line))
    return found


def _app(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "webapp" and parts[1] in APP_LAYERS else None


def test_the_engine_imports_nothing_of_the_web_app() -> None:
    bad = [
        f"{module}:{line} imports {target}"
        for module, target, line in _edges("reid_core")
        if target.split(".")[0] in WEB_PACKAGES
    ]
    assert not bad, "\n".join(bad)


def test_django_apps_import_only_apps_below_them() -> None:
    bad = []
    for module, target, line in _edges("webapp"):
        source, imported = _app(module), _app(target)
        if source and imported and APP_LAYERS.index(imported) > APP_LAYERS.index(source):
            bad.append(f"{module}:{line} imports {target} ({source} is below {imported})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles_between_django_apps() -> None:
    graph: dict[str, set[str]] = {app: set() for app in APP_LAYERS}
    for module, target, _ in _edges("webapp"):
        source, imported = _app(module), _app(target)
        if source and imported and source != imported:
            graph[source].add(imported)
    cycles = []
    for start in APP_LAYERS:  # a path from an app back to itself
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert not cycles, "\n".join(cycles)


def test_services_send_tasks_by_name_and_never_import_them() -> None:
    bad = [
        f"{module}:{line} imports {target}"
        for module, target, line in _edges("webapp")
        if (".services" in module or module.endswith("services")) and target.split(".")[-1] == "tasks"
    ]
    assert not bad, "\n".join(bad)


def test_views_leave_audit_writes_to_services() -> None:
    bad = [
        f"{module}:{line} imports {target}"
        for module, target, line in _edges("webapp")
        if module.split(".")[-1] == "views" and target.startswith("webapp.audit.services")
    ]
    assert not bad, "\n".join(bad)


def test_the_contracts_see_imports_inside_functions() -> None:
    """The reader itself: an import in a function body counts, one under TYPE_CHECKING does not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from webapp.search.models import Hit\n"
        "def f():\n    from webapp.footage import tasks\n"
    )
    found = {target for target, _ in _imports(ast.parse(source), "webapp.cases.services")}
    assert "webapp.footage.tasks" in found
    assert "webapp.search.models" not in found
