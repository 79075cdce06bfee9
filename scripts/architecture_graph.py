"""Draws docs/img/architecture.png (and .dot beside it) from the code's imports: the web app's modules in
their Django apps, stacked in the layer order tests/test_layers.py enforces, and the engine's modules they
use. Needs Graphviz's `dot` (Debian: apt-get install graphviz).

    python scripts/architecture_graph.py            # writes docs/img/architecture.{dot,png}
    python scripts/architecture_graph.py --check    # fails when the .dot in the tree is not the code's

The imports are read by the same reader as the layer test, so the picture and the contracts agree.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "architecture"
# Left out so the picture shows the flows: what every module uses (models, audit actions, events), Django's
# plumbing (registry, URL tables, admin, forms, middleware, signals, migrations) and the engine's leaf helpers
# (types, durable writes, model runtime).
SKIPPED_SUFFIXES = (".apps", ".urls", ".admin", ".forms", ".models", ".events", ".middleware", ".signals")
SKIPPED_SUFFIXES += (".actions",)
SKIPPED_ENGINE = {"reid_core", "reid_core.types", "reid_core.durable", "reid_core.runtime", "reid_core.cli"}
COLOURS = {
    "audit": "#f3e5f5",
    "cases": "#e3f2fd",
    "jobs": "#fff8e1",
    "footage": "#e8f5e9",
    "search": "#fce4ec",
}


def _layers() -> object:
    spec = importlib.util.spec_from_file_location("test_layers", ROOT / "tests" / "test_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shown(module: str, layers: object) -> str | None:
    """The node a module is drawn as (engine modules by their top module), or None when left out."""
    parts = module.split(".")
    if parts[0] == "reid_core":
        name = ".".join(parts[:2])
        return None if name in SKIPPED_ENGINE else name
    if parts[0] != "webapp" or module.endswith(SKIPPED_SUFFIXES) or "management" in parts:
        return None
    if len(parts) > 1 and parts[1] in layers.APP_LAYERS:  # type: ignore[attr-defined]
        shown = ".".join(parts[:3]) if len(parts) > 2 else None
        return None if shown is None or shown.endswith(SKIPPED_SUFFIXES) or "templatetags" in parts else shown
    return module if module in {"webapp.engine"} else None


def dot_source() -> str:
    layers = _layers()
    modules = {m for m, _, _ in layers._edges("webapp")}  # type: ignore[attr-defined]
    edges: set[tuple[str, str]] = set()
    for module, target, _ in layers._edges("webapp"):  # type: ignore[attr-defined]
        source, imported = _shown(module, layers), _shown(target, layers)
        known = imported is not None and (imported in modules or imported.startswith("reid"))
        if source and imported and source != imported and known:
            edges.add((source, imported))
    nodes = sorted({n for edge in edges for n in edge})
    lines = [
        "digraph architecture {",
        '  graph [rankdir=BT, newrank=true, fontname="Helvetica", fontsize=12, nodesep=0.15, ranksep=0.5];',
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=10];',
        '  edge [color="#00000055", arrowsize=0.5];',
    ]
    for app in layers.APP_LAYERS:  # type: ignore[attr-defined]
        members = [n for n in nodes if n.startswith(f"webapp.{app}.")]
        lines.append(f'  subgraph "cluster_{app}" {{')
        lines.append(f'    label="{app}"; style=filled; color="{COLOURS[app]}";')
        lines += [f'    "{n}" [label="{n.split(".")[-1]}"];' for n in members]
        lines.append("  }")
    engine = [n for n in nodes if n.startswith("reid_core") or n == "webapp.engine"]
    lines.append('  subgraph "cluster_engine" {')
    lines.append('    label="reid_core (the engine)"; style=filled; color="#eeeeee";')
    lines += [f'    "{n}" [label="{n.removeprefix("reid_core.")}"];' for n in engine]
    lines.append("  }")
    lines += [f'  "{a}" -> "{b}";' for a, b in sorted(edges)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the tree's .dot, draw nothing")
    args = parser.parse_args()
    source = dot_source()
    dot_file = OUT.with_suffix(".dot")
    if args.check:
        same = dot_file.is_file() and dot_file.read_text() == source
        print("architecture.dot is up to date" if same else "architecture.dot differs: run this script")
        return 0 if same else 1
    dot = shutil.which("dot")
    if dot is None:
        print("Graphviz's dot is needed (Debian: apt-get install graphviz)", file=sys.stderr)
        return 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    dot_file.write_text(source)
    subprocess.run([dot, "-Tpng", "-Gdpi=110", str(dot_file), "-o", str(OUT.with_suffix(".png"))], check=True)
    print(f"wrote {dot_file.relative_to(ROOT)} and {OUT.with_suffix('.png').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
