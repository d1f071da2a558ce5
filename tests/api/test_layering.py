"""The API package's imports: it never reaches into the emulator, and its modules form no cycle.

Read from the source (every import statement, those inside functions too), so an import
hidden in a function to dodge a cycle counts like any other.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import reconciler.api

API = Path(reconciler.api.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Module name -> every ``reconciler.*`` module it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(API.glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[f"reconciler.api.{path.stem}"] = {n for n in names if n.startswith("reconciler")}
    return found


def test_the_api_package_never_imports_the_emulator() -> None:
    reaching = {module: sorted(n for n in names if n.startswith("reconciler.emulator"))
                for module, names in _imports().items()}
    assert {module: names for module, names in reaching.items() if names} == {}


def test_the_api_modules_import_each_other_without_a_cycle() -> None:
    graph = {module: {n for n in names if n.startswith("reconciler.api.")}
             for module, names in _imports().items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None
