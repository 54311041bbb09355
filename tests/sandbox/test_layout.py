"""The emulator's import structure, read from the source (every import counts, also those under
`TYPE_CHECKING` and inside functions): it imports nothing else of syncd, it has no import cycle,
the core knows no vendor, and neither vendor knows the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import syncd.sandbox.defaults

ROOT = Path(syncd.sandbox.defaults.__file__).resolve().parent
PACKAGE = "syncd.sandbox"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module `name` imports; `from pkg import mod` counts as importing `pkg.mod`."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _inside(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def test_the_walk_sees_every_module_and_its_imports() -> None:
    graph = _graph()
    assert {"syncd.sandbox.app", "syncd.sandbox.core.server", "syncd.sandbox.world"} <= set(graph)
    assert "syncd.sandbox.core.interfaces" in graph["syncd.sandbox.core.server"]
    assert "syncd.sandbox.app" in graph["syncd.sandbox"]  # a TYPE_CHECKING import counts


def test_the_emulator_imports_nothing_else_of_syncd() -> None:
    outside = {
        f"{name} -> {imp}"
        for name, imports in _graph().items()
        for imp in imports
        if (imp == "syncd" or imp.startswith("syncd.")) and not _inside(imp)
    }
    assert not outside


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (depth-first search), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        found = visit(node)
        if found:
            return found
    return None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle() -> None:
    graph = _graph()
    inside = {name: {i for i in imports if i in graph} for name, imports in graph.items()}
    assert _find_cycle(inside) is None


def _violations(prefix: str, forbidden: tuple[str, ...]) -> set[str]:
    return {
        f"{name} -> {imp}"
        for name, imports in _graph().items()
        if name.startswith(prefix)
        for imp in imports
        if any(imp == f or imp.startswith(f + ".") for f in forbidden)
    }


def test_core_knows_no_vendor_and_not_the_facade() -> None:
    facade = ("syncd.sandbox.app", "syncd.sandbox.serve", "syncd.sandbox.world")
    vendors = ("syncd.sandbox.hubspot", "syncd.sandbox.mailchimp")
    assert not _violations("syncd.sandbox.core", (*vendors, *facade))


def test_vendors_do_not_know_each_other_or_the_facade() -> None:
    facade = ("syncd.sandbox.app", "syncd.sandbox.serve", "syncd.sandbox.world")
    assert not _violations("syncd.sandbox.hubspot", ("syncd.sandbox.mailchimp", *facade))
    assert not _violations("syncd.sandbox.mailchimp", ("syncd.sandbox.hubspot", *facade))


def test_nothing_inside_imports_the_package_itself() -> None:
    """`from syncd.sandbox import X` inside the package would load the facade lazily and
    close a cycle through `__init__`; inside, import the defining module instead.
    """
    assert not {n for n, imps in _graph().items() if PACKAGE in imps and n != PACKAGE}
