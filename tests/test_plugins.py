"""Plugin discovery: hooks, the `bench` entry-point group, BENCH_LOAD_PLUGINS, `bench plugins`."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.interfaces import Renderer
from bench.plugins import manager
from bench.plugins.registry import KINDS, Registry

EXT_MODULE = """
import numpy as np
from bench import hookimpl
from bench.interfaces import Renderer
from bench.options import Option


class Ones(Renderer):
    name = "ones"
    options = (Option("value", float, 1.0, "pixel value"),)

    def render(self, batch, shape):
        return np.full((len(batch), *shape), self.params["value"], np.float32)


@hookimpl
def register_renderers(register):
    register(Ones)
"""


@pytest.fixture
def installed_ext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fake installed distribution `bench-ext 1.2` with a `bench` entry point."""
    (tmp_path / "bench_ext_mod.py").write_text(EXT_MODULE)
    info = tmp_path / "bench_ext-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-ext\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text("[bench]\next = bench_ext_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    manager.clear_registry_cache()
    yield tmp_path
    manager.clear_registry_cache()


def test_entry_point_plugin_is_discovered_with_its_distribution(installed_ext, monkeypatch):
    monkeypatch.delenv("BENCH_LOAD_PLUGINS", raising=False)
    registry = manager.get_registry()
    assert registry.classes["renderer"]["ones"].name == "ones"
    assert registry.sources[("renderer", "ones")] == "bench-ext 1.2"


@pytest.mark.parametrize(
    ("allow", "loaded"), [("", False), ("other-dist", False), ("bench-ext", True)]
)
def test_bench_load_plugins_allow_list(installed_ext, monkeypatch, allow, loaded):
    monkeypatch.setenv("BENCH_LOAD_PLUGINS", allow)
    registry = manager.get_registry()
    assert ("ones" in registry.classes["renderer"]) is loaded


def test_bench_plugins_json_lists_sources_and_options(installed_ext, monkeypatch, capsys):
    monkeypatch.delenv("BENCH_LOAD_PLUGINS", raising=False)
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ones = next(r for r in rows if r["name"] == "ones")
    assert ones["kind"] == "renderer" and ones["source"] == "bench-ext 1.2"
    assert ones["options"] == [
        {"name": "value", "type": "float", "default": 1.0, "help": "pixel value"}
    ]
    builtin = {(r["kind"], r["name"]) for r in rows if r["source"] == "built-in"}
    for expected in [
        ("dataset", "synthetic"),
        ("dataset", "sdss"),
        ("preprocessor", "moving_average"),
        ("renderer", "line"),
        ("model", "inception_v3"),
        ("model", "resnet50"),
        ("model", "mnist_cnn"),
        ("executor", "local"),
        ("executor", "dask"),
    ]:
        assert expected in builtin


def test_duplicate_names_and_wrong_kinds_are_rejected():
    class Twice(Renderer):
        name = "twice"

        def render(self, batch, shape):  # pragma: no cover - never called
            raise NotImplementedError

    registry = Registry()
    registry.add("renderer", Twice, "a")
    with pytest.raises(BenchError, match="'twice' is already registered by a"):
        registry.add("renderer", Twice, "b")
    with pytest.raises(BenchError, match="expected a model class"):
        registry.add("model", Twice, "c")


def test_misspelled_hook_fails_at_load():
    bad = type("Bad", (), {})()
    from bench import hookimpl

    def register_modells(register):  # noqa: ARG001 - misspelled on purpose
        pass

    bad.register_modells = hookimpl(register_modells)
    import pluggy

    with pytest.raises(pluggy.PluginValidationError):
        manager.plugin_manager(extra=[bad], third_party=False)


def test_cli_commands_that_need_no_keras_do_not_import_it(tmp_path):
    import subprocess
    import sys

    code = textwrap.dedent(
        """
        import sys
        from bench.cli import main
        main(["plugins", "--json"])
        assert "keras" not in sys.modules and "jax" not in sys.modules, sorted(
            m for m in sys.modules if m.startswith(("keras", "jax")))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_built_ins_are_entry_points_of_our_distribution_and_always_load(monkeypatch):
    monkeypatch.setenv("BENCH_LOAD_PLUGINS", "")
    registry = manager.get_registry()
    assert registry.sources[("dataset", "synthetic")] == "built-in"
    assert registry.sources[("executor", "local")] == "built-in"
    assert set(registry.classes) == set(KINDS)


def test_bench_disable_plugins_leaves_out_built_ins_by_entry_point_name(monkeypatch):
    monkeypatch.setenv("BENCH_DISABLE_PLUGINS", "sdss, executors")
    registry = manager.get_registry()
    assert "sdss" not in registry.classes["dataset"] and "synthetic" in registry.classes["dataset"]
    assert registry.classes["executor"] == {}
    monkeypatch.delenv("BENCH_DISABLE_PLUGINS")
    assert "sdss" in manager.get_registry().classes["dataset"]


def test_disabled_third_party_plugin_is_not_loaded(installed_ext, monkeypatch):
    monkeypatch.delenv("BENCH_LOAD_PLUGINS", raising=False)
    monkeypatch.setenv("BENCH_DISABLE_PLUGINS", "ext")
    assert "ones" not in manager.get_registry().classes["renderer"]


BROKEN_MODULES = {
    "import_error": "import not_a_module_anyone_has\n",
    "hook_raises": textwrap.dedent(
        """
        from bench import hookimpl


        @hookimpl
        def register_models(register):
            raise RuntimeError("model registry exploded\\nsecond line")
        """
    ),
    "twice": EXT_MODULE.replace('name = "ones"', 'name = "line"'),  # a built-in's name
}


@pytest.fixture
def installed_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Three installed distributions with a broken plugin each, beside the good bench-ext."""
    for name, code in BROKEN_MODULES.items():
        (tmp_path / f"broken_{name}.py").write_text(code)
        info = tmp_path / f"bench_{name}-0.1.dist-info"
        info.mkdir()
        dist = f"bench-{name.replace('_', '-')}"
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[bench]\n{name} = broken_{name}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BENCH_LOAD_PLUGINS", raising=False)
    manager.clear_registry_cache()
    yield tmp_path
    manager.clear_registry_cache()


def test_broken_plugins_are_left_out_in_one_line_each_and_help_still_works(
    installed_ext, installed_broken, capsys
):
    registry = manager.get_registry()
    assert set(registry.broken) == set(BROKEN_MODULES)
    assert "ones" in registry.classes["renderer"]  # the good plugin still loads
    assert registry.sources[("renderer", "line")] == "built-in"  # not replaced
    for name, line in registry.broken.items():
        assert "\n" not in line and f"BENCH_DISABLE_PLUGINS={name}" in line
    assert "failed to import" in registry.broken["import_error"]
    assert (
        "register_models raised RuntimeError: model registry exploded"
        in (registry.broken["hook_raises"])
    )
    assert "already registered" in registry.broken["twice"]
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    captured = capsys.readouterr()
    assert "COMMAND" in captured.out and "Traceback" not in captured.err
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3 and all("BENCH_DISABLE_PLUGINS=" in w for w in warnings)


def test_a_broken_plugin_fails_a_run_only_when_the_config_needs_it(
    installed_broken, tmp_path, capsys
):
    good = tmp_path / "good.toml"
    good.write_text('[dataset]\nname = "synthetic"\nn = 60\n[[models]]\nname = "logreg"\n')
    assert main(["validate", str(good)]) == 0
    needs = tmp_path / "needs.toml"
    needs.write_text('[dataset]\nname = "synthetic"\nn = 60\n[[models]]\nname = "exploded"\n')
    assert main(["run", str(needs), "--out", str(tmp_path / "run")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "unknown model 'exploded'" in errors[0]
    assert "'hook_raises'" in errors[0] and "model registry exploded" in errors[0]
    assert not (tmp_path / "run").exists()


def test_disabling_a_broken_plugin_silences_it_and_unknown_names_are_warned(
    installed_broken, monkeypatch, capsys
):
    monkeypatch.setenv("BENCH_DISABLE_PLUGINS", "import_error,hook_raises,twice,no_such")
    monkeypatch.setenv("BENCH_LOAD_PLUGINS", "bench-import-error,bench-hook-raises,nopkg")
    registry = manager.get_registry()
    assert registry.broken == {}
    assert len(registry.warnings) == 2
    assert "BENCH_DISABLE_PLUGINS names 'no_such'" in registry.warnings[0]
    assert "BENCH_LOAD_PLUGINS names 'nopkg'" in registry.warnings[1]
    assert main(["plugins", "--json"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 2 and "no_such" in err and "nopkg" in err


def test_bench_plugins_takes_a_kind_and_lists_sinks(capsys):
    assert main(["plugins", "model", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["kind"] for r in rows} == {"model"}
    assert "logreg" in {r["name"] for r in rows}
    assert main(["plugins", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)
    sinks = {r["name"]: r for r in every if r["kind"] == "sink"}
    assert {"objects_table", "report_html", "mlflow"} <= set(sinks)
    assert sinks["report_html"]["source"] == "core" and sinks["mlflow"]["source"] == "built-in"
    assert main(["plugins", "sink"]) == 0
    listing = capsys.readouterr().out
    assert "mlflow" in listing and "logreg" not in listing
    assert main(["plugins", "modle"]) == 2
    assert "did you mean 'model'" in capsys.readouterr().err


def test_an_installed_plugin_taking_a_core_command_is_left_out_and_help_works(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "clash_mod.py").write_text(
        textwrap.dedent(
            """
            from bench import hookimpl
            from bench.interfaces import Command


            @hookimpl
            def register_commands(register):
                register(Command(("validate",), "mine", lambda args, context: 0))
            """
        )
    )
    info = tmp_path / "bench_clash-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-clash\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench]\nclash = clash_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BENCH_LOAD_PLUGINS", raising=False)
    manager.clear_registry_cache()
    try:
        with pytest.raises(SystemExit) as done:
            main(["--help"])
        assert done.value.code == 0
        err = capsys.readouterr().err
        assert "command 'validate' is a core command" in err and "BENCH_DISABLE_PLUGINS" in err
        config = tmp_path / "c.toml"
        config.write_text('[dataset]\nname = "synthetic"\nn = 60\n[[models]]\nname = "logreg"\n')
        assert main(["validate", str(config)]) == 0  # the core's validate, not the plugin's
        assert "valid" in capsys.readouterr().out
    finally:
        manager.clear_registry_cache()
