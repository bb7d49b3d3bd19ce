"""docs/plugins.md never drifts from bench/hookspecs.py; its examples run and conform."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from bench import hookspecs
from bench.conformance import check
from bench.plugins import manager
from bench.plugins.registry import SPECTRUM_KINDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "plugins.md").read_text()
HOOKS = [
    name
    for name, fn in vars(hookspecs).items()
    if inspect.isfunction(fn) and hasattr(fn, "bench_spec")
]
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", DOCS, re.DOTALL)
PLUGIN_BLOCKS = [block for block in PYTHON_BLOCKS if "@hookimpl" in block]


def test_every_code_fence_is_closed():
    """Fences come in pairs, and a block opened with a language is closed by a bare fence
    (an unclosed one swallows the rest of the page)."""
    for path in (
        ROOT / "docs" / "plugins.md",
        ROOT / "docs" / "architecture.md",
        ROOT / "README.md",
    ):
        fences = [
            line.strip() for line in path.read_text().splitlines() if line.strip().startswith("```")
        ]
        assert len(fences) % 2 == 0, f"{path.name}: {len(fences)} fences"
        closers = fences[1::2]
        assert all(f == "```" for f in closers), f"{path.name}: a fence opens where one closes"


def signature(name: str) -> str:
    """``register_models(register: Callable[[type[Model]], None]) -> None`` as written."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_hookspecs_are_found():
    assert set(HOOKS) >= {"register_datasets", "register_models"}


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_its_signature(name):
    assert f"### {name}\n" in DOCS, f"docs/plugins.md: add a '### {name}' section"
    assert signature(name) in DOCS, f"docs/plugins.md: document {signature(name)}"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_docstring(name):
    assert (getattr(hookspecs, name).__doc__ or "").strip()


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_exercised_by_a_test(name):
    users = [
        p
        for p in (ROOT / "tests").rglob("*.py")
        if p.name != "test_docs.py" and f"def {name}(" in p.read_text()
    ]
    assert users, f"no test plugin under tests/ implements {name}"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_complete_example(name):
    assert any(f"def {name}(register)" in block for block in PLUGIN_BLOCKS)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_code_blocks_compile(index):
    compile(PYTHON_BLOCKS[index], f"docs/plugins.md block {index}", "exec")


@pytest.mark.parametrize("index", range(len(PLUGIN_BLOCKS)))
def test_plugin_examples_pass_the_conformance_suite(index):
    module = types.ModuleType(f"docs_example_{index}")
    exec(compile(PLUGIN_BLOCKS[index], module.__name__, "exec"), module.__dict__)  # noqa: S102
    registry = manager.get_registry(extra=[module], third_party=False)
    registered = [
        (kind, name)
        for (kind, name), source in registry.sources.items()
        if source == module.__name__ and kind in SPECTRUM_KINDS
    ]
    if not registered:  # a block that adds only commands
        assert any(source == module.__name__ for _, source in registry.commands.values())
        return
    assert len(registered) == 1
    ((kind, name),) = registered
    results = check(kind, name, registry=registry)
    assert [f"{r.check}: {r.message}" for r in results if not r.ok] == []


def _readme_config_block() -> str:
    """The first TOML block under README's "The config: `benchmarks.toml`" heading."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The config: `benchmarks.toml`", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_example_config_is_benchmarks_toml():
    import tomllib

    shown, real = _readme_config_block(), (ROOT / "benchmarks.toml").read_text()
    assert tomllib.loads(shown) == tomllib.loads(real)
    assert shown == real  # comments too: the README explains the file users run
