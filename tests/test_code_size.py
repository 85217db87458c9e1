"""Code a reader can hold: no function over 100 lines, no module over 450, in the app and site.

Run as a script (``python tests/test_code_size.py``) it lists everything over either limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("searchapp", "mininas_web")
MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 450


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def long_modules() -> list[tuple[str, int]]:
    """(path, lines) of each module over MAX_MODULE_LINES."""
    out = []
    for path in _modules():
        n = len(path.read_text().splitlines())
        if n > MAX_MODULE_LINES:
            out.append((str(path.relative_to(ROOT)), n))
    return out


def long_functions() -> list[tuple[str, int]]:
    """("path:line name", lines) of each function or method over MAX_FUNCTION_LINES.

    A function's length runs from its first decorator to its last line, docstring included."""
    out = []
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                n = node.end_lineno - first + 1
                if n > MAX_FUNCTION_LINES:
                    out.append((f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", n))
    return out


def test_no_function_is_over_the_limit():
    assert long_functions() == []


def test_no_module_is_over_the_limit():
    assert long_modules() == []


if __name__ == "__main__":
    for where, n in long_modules() + long_functions():
        print(f"{n:5d}  {where}")
