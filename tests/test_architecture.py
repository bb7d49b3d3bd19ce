"""The shape of the house, as docs/architecture.md states it: the test reads the layers
and the map from that page, so the page and the checks cannot drift apart.

- The core never imports its built-ins; no import cycle in the whole tree (bench and
  bench_plugins, type-only and function-level imports included).
- Core imports point down the page's layer list, never up.
- Plugins, built-in or not (and the example plugin), import only ``bench.PUBLIC_API``;
  no built-in plugin imports another.
- The map names every core module in its folder's row, and only modules that exist.
- Functions a reader takes in at once.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bench

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
BUILT_INS = ("synthetic", "sdss", "preprocess", "render", "models", "executors", "mlflow")
MAX_FUNCTION_LINES = 60


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
EXAMPLES = {str(p.relative_to(ROOT)): p for p in sorted((ROOT / "examples").rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in ``path``: module level, inside functions and under
    ``if TYPE_CHECKING:`` alike; ``from a import b`` counts as ``a.b`` when that is a module."""
    known = BENCH | PLUGINS
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def _doc_block(marker: str) -> list[str]:
    """The lines of the fenced block right after ``<!-- marker -->`` in docs/architecture.md."""
    text = DOC.read_text()
    match = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.*?)```", text, re.S)
    assert match, f"docs/architecture.md: no fenced block after <!-- {marker} -->"
    return [line for line in match.group(1).splitlines() if line.strip()]


def _layers() -> dict[str, int]:
    """Unit (package or module) -> its layer, 0 the top, from the page's layer list."""
    return {
        unit: depth
        for depth, line in enumerate(_doc_block("layers"))
        for unit in line.split("#")[0].split()
    }


def _unit(module: str, layers: dict[str, int]) -> str | None:
    """The listed unit ``module`` belongs to: itself, or the longest listed package
    holding it (``bench`` holds only the module ``bench`` itself)."""
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        if ".".join(parts[:n]) in layers:
            return ".".join(parts[:n])
    return module if module in layers else None


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
}))
"""
    env = os.environ | {"BENCH_LOAD_PLUGINS": "", "BENCH_DISABLE_PLUGINS": ",".join(BUILT_INS)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"plugins": [], "classes": 0}


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


def test_no_import_cycle_in_the_whole_tree():
    known = BENCH | PLUGINS
    graph = {
        name: {m for m in _imports(path) if m in known and m != name}
        for name, path in known.items()
    }
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_every_core_module_has_a_layer():
    layers = _layers()
    assert {name for name in BENCH if _unit(name, layers) is None} == set()
    assert set(layers) <= {_unit(name, layers) for name in BENCH}, "a layer names no module"


def test_core_imports_point_down_the_layers():
    layers = _layers()
    upward = sorted(
        f"{name} -> {target}"
        for name, path in BENCH.items()
        for target in _imports(path)
        if target in BENCH
        and layers[_unit(target, layers) or ""] < layers[_unit(name, layers) or ""]
    )
    assert upward == []


def test_the_layer_check_sees_an_upward_import():
    layers = {"bench.cli": 0, "bench.run": 1}
    assert (
        layers[_unit("bench.cli.main", layers) or ""] < layers[_unit("bench.run.x", layers) or ""]
    )
    assert _unit("bench.other", {"bench": 0}) is None


def test_the_public_api_is_declared_and_importable():
    assert set(bench.PUBLIC_API) <= set(BENCH), "PUBLIC_API names a module that is not there"
    layers = _layers()
    internal = {"bench.cli", "bench.run", "bench.results", "bench.config", "bench.plugins"}
    assert not internal & {_unit(m, layers) for m in bench.PUBLIC_API}
    assert not any(m.startswith("bench.feed") for m in bench.PUBLIC_API)


def test_the_top_level_of_bench_is_the_public_api():
    top = {name for name, path in BENCH.items() if path.parent == ROOT / "bench"}
    assert top - {"bench.__main__"} == set(bench.PUBLIC_API), "a folder holds the internals"


def test_plugins_import_only_the_public_api():
    plugin_files = {**PLUGINS, **EXAMPLES}
    outside = sorted(
        f"{name}: {m}"
        for name, path in plugin_files.items()
        for m in _imports(path)
        if m.split(".")[0] == "bench" and m not in bench.PUBLIC_API
    )
    assert outside == []


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


def _map_rows() -> dict[str, str]:
    """Folder (``bench/feed/``, ``bench/`` for the top level) -> what the map says it owns
    (the second column of its row)."""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\|\s*`(bench/[a-z_/]*)`\s*\|([^|]*)\|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_the_map_names_every_core_module_and_no_other():
    rows = _map_rows()
    folders = {p.parent for p in BENCH.values()}
    wrong = {}
    for folder in folders:
        key = folder.relative_to(ROOT).as_posix() + "/"
        named = set(re.findall(r"`([a-z_]+\.py)`", rows.get(key, "")))
        present = {p.name for p in folder.glob("*.py")} - {"__init__.py", "__main__.py"}
        if named != present:
            wrong[key] = {"missing": sorted(present - named), "stale": sorted(named - present)}
    assert wrong == {}
    assert set(rows) == {f.relative_to(ROOT).as_posix() + "/" for f in folders}


def test_the_map_names_every_built_in_plugin_package():
    text = DOC.read_text()
    tops = {p.relative_to(ROOT / "plugins").parts[0] for p in PLUGINS.values()}
    tops = {t for t in tops if t != "__init__.py"}
    missing = sorted(t for t in tops if f"`{t.removesuffix('.py')}" not in text)
    assert missing == []


def test_every_package_ships_in_the_wheel():
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    packages = {
        ".".join([top, *init.parent.relative_to(ROOT / folder).parts])
        for top, folder in (("bench", "bench"), ("bench_plugins", "plugins"))
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert packages - listed == set(), "add them to [tool.setuptools] packages"


def _checked() -> list[Path]:
    return [*BENCH.values(), *PLUGINS.values()]


@pytest.mark.parametrize("path", _checked(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_functions_fit_on_a_screen(path):
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
