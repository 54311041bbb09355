"""The package's shape: an acyclic module graph with no import hidden in a function, nothing
from `syncd` outside the package but `syncd.errors` and `syncd.yamlfile`, no I/O library, and
no clock read (callers pass `now`).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import syncd.segments

PACKAGE = "syncd.segments"
ROOT = Path(syncd.segments.__file__).parent
MODULES = {p.stem: p for p in sorted(ROOT.glob("*.py")) if p.stem != "__init__"}
ALLOWED_SYNCD = {"syncd.errors", "syncd.yamlfile"}
ALLOWED_OUTSIDE = {"polars", "pydantic", "numpy", "scipy", "__future__"}
IO_MODULES = {"os", "io", "shutil", "socket", "subprocess", "time", "tempfile", "urllib", "http"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _imports(tree: ast.AST) -> list[str]:
    """Every module a file imports, at any depth; `from pkg import submodule` names the
    submodule.
    """
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if node.module == PACKAGE and a.name in MODULES:
                    found.append(f"{PACKAGE}.{a.name}")
                else:
                    found.append(node.module)
    return found


def _trees() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def test_module_graph_is_acyclic() -> None:
    graph = {
        name: {m.removeprefix(f"{PACKAGE}.") for m in _imports(tree) if m.startswith(PACKAGE)}
        for name, tree in _trees().items()
    }
    assert all(deps <= set(MODULES) for deps in graph.values()), graph  # none through __init__
    done: list[str] = []
    while len(done) < len(graph):
        ready = [m for m in graph if m not in done and graph[m] <= set(done)]
        assert ready, f"import cycle among {sorted(set(graph) - set(done))}"
        done += sorted(ready)


def test_no_import_inside_a_function() -> None:
    for name, tree in _trees().items():
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [n for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not inner, f"{name}.{fn.name} imports at call time"


def test_pure_no_io_and_no_clock() -> None:
    stdlib = sys.stdlib_module_names
    for name, tree in _trees().items():
        for module in _imports(tree):
            top = module.split(".")[0]
            if top == "syncd":
                assert module.startswith(PACKAGE) or module in ALLOWED_SYNCD, (name, module)
            else:
                assert top in ALLOWED_OUTSIDE or top in stdlib, (name, module)
                assert top not in IO_MODULES, (name, module)
            if module == "pathlib":
                assert name == "loader", "only the loader reads files"
        calls = {
            n.func.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        }
        assert not calls & CLOCK_CALLS, (name, calls & CLOCK_CALLS)
