"""The shape of the house: the core blind to its built-ins, no import cycles, plugins that
do not reach into each other, and modules and functions a reader takes in at once."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT_INS = ("synthetic", "sdss", "preprocess", "render", "models", "executors", "mlflow")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
# folders the size limits do not check yet; the integrator empties this set
NOT_YET: set[str] = set()


def _modules(package: str, folder: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``folder``."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([package, *parts])] = path
    return found


BENCH = _modules("bench", ROOT / "bench")
PLUGINS = _modules("bench_plugins", ROOT / "plugins")


def _imports(path: Path) -> set[str]:
    """Modules imported anywhere in ``path`` (module and function level), except under
    ``if TYPE_CHECKING:``; ``from a import b`` counts as ``a.b`` when that is a module."""
    known = BENCH | PLUGINS
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def test_importing_every_bench_module_loads_no_built_in_plugin():
    code = """
import importlib, json, pkgutil, sys
import bench
for info in pkgutil.walk_packages(bench.__path__, "bench."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
from bench.plugins.manager import get_registry
registry = get_registry()
print(json.dumps({
    "plugins": sorted(m for m in sys.modules if m.split(".")[0] == "bench_plugins"),
    "classes": sum(len(names) for names in registry.classes.values()),
    "commands": len(registry.commands),
}))
"""
    env = os.environ | {"BENCH_LOAD_PLUGINS": "", "BENCH_DISABLE_PLUGINS": ",".join(BUILT_INS)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"plugins": [], "classes": 0, "commands": 0}


def test_bench_never_imports_the_built_in_plugins():
    users = {
        name
        for name, path in BENCH.items()
        if any(m.split(".")[0] == "bench_plugins" for m in _imports(path))
    }
    assert users == set()


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_no_import_cycle_among_bench_modules():
    graph = {
        name: {m for m in _imports(path) if m in BENCH and m != name}
        for name, path in BENCH.items()
    }
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_built_in_plugin_imports_another():
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    reaching = {
        (name, m)
        for name, path in PLUGINS.items()
        for m in _imports(path)
        if m.startswith("bench_plugins.")
        and name != "bench_plugins"
        and package(m) != package(name)
    }
    assert reaching == set()


def _checked() -> list[Path]:
    paths = [*BENCH.values(), *PLUGINS.values()]
    return [
        p
        for p in paths
        if not any(p.relative_to(ROOT).as_posix().startswith(f"{folder}/") for folder in NOT_YET)
    ]


@pytest.mark.parametrize("path", _checked(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_modules_and_functions_are_short(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, "split this module"
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
