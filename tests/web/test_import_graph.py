"""No import cycles between the modules of searchapp and mininas_web.

The graph is grimp's (import-linter's), read from the source without importing anything. Here
an edge is a module-level import, one that runs when its module is imported; an import inside
a function (or under `if TYPE_CHECKING:`) runs later or never and is left out. lint-imports'
acyclic contract (pyproject.toml) also counts those, between sibling modules and packages.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("searchapp", "mininas_web")


def _source(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _deferred_lines(tree: ast.Module) -> set[int]:
    """Line numbers of the imports that do not run at module import: in a function body, or
    under `if TYPE_CHECKING:`."""
    lines: set[int] = set()

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True
            if isinstance(child, (ast.Import, ast.ImportFrom)) and inner:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
            visit(child, inner)

    visit(tree, False)
    return lines


def module_level_graph() -> dict[str, set[str]]:
    """Each module of PACKAGES -> the modules of PACKAGES it imports at module level."""
    graph = grimp.build_graph(*PACKAGES)
    edges: dict[str, set[str]] = {}
    for importer in sorted(graph.modules):
        deferred = _deferred_lines(ast.parse(_source(importer).read_text()))
        edges[importer] = {
            imported
            for imported in graph.find_modules_directly_imported_by(importer)
            if any(
                d["line_number"] not in deferred
                for d in graph.get_import_details(importer=importer, imported=imported)
            )
        }
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph ([a, b, ..., a]), or None when it has none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_it_finds_a_cycle_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    cycle = find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    assert cycle is not None and set(cycle) == {"a", "b", "c"}


def test_it_sees_only_module_level_imports():
    tree = ast.parse(
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import json\n"
        "def f():\n"
        "    import sys\n"
    )
    assert _deferred_lines(tree) == {4, 6}


def test_no_module_imports_one_that_imports_it_back():
    graph = module_level_graph()
    assert {"searchapp.models", "searchapp.tasks.search", "mininas_web.settings"} <= set(graph)
    cycle = find_cycle(graph)
    if cycle is not None:
        pytest.fail("import cycle: " + " -> ".join(cycle))
