"""The conformance suite: built-in plugins pass it; broken ones fail saying what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from bench.cli import main
from bench.cli.check_plugin import parse_options
from bench.conformance import check, resolve_kind
from bench.errors import BenchError
from bench.interfaces import Renderer
from bench.options import Option
from bench.plugins import manager
from bench.plugins.registry import Registry
from tests.plugins import broken

BUILTIN = manager.get_registry(third_party=False)
LIGHT_MODELS = ("logreg", "cnn1d", "mnist_cnn")
HEAVY_MODELS = ("inception_v3", "resnet50")  # ~30-40 s each on 2 busy CPU cores: slow


def failures(results: list[Any]) -> dict[str, str]:
    return {r.check: r.message for r in results if not r.ok}


@pytest.fixture
def broken_registry() -> Iterator[Registry]:
    with manager.using_registry(
        manager.get_registry(extra=[broken], third_party=False)
    ) as registry:
        yield registry


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (kind, name)
        for kind in ("dataset", "preprocessor", "renderer")
        for name in sorted(BUILTIN.classes[kind])
        if name != "sdss"  # needs files: test_sdss_dataset_with_a_path_option
    ],
)
def test_builtin_plugins_pass(kind, name):
    options = {"n": 60} if name == "synthetic" else {}
    results = check(kind, name, options, BUILTIN)
    assert failures(results) == {}
    assert len(results) >= 3  # options plus at least two behaviour checks


@pytest.mark.parametrize(
    "name", [*LIGHT_MODELS, *(pytest.param(m, marks=pytest.mark.slow) for m in HEAVY_MODELS)]
)
def test_builtin_models_pass(name):
    results = check("model", name, registry=BUILTIN)
    assert failures(results) == {}
    assert [r.check for r in results] == [
        "options",
        "build and fit",
        "fit history",
        "describe",
        "predict_proba shape",
        "probabilities",
        "save/load",
        "deterministic",
        "fit continuation",
    ]


def _spec_lite_folder(folder: Path) -> Path:
    from tests.fixtures.sdss_files import write_spec_lite

    for i, (label, z) in enumerate([("STAR", 0.0), ("GALAXY", 0.1), ("QSO", 1.5)] * 2):
        write_spec_lite(folder / f"spec-{i}.fits", label=label, redshift=z, fiber=i + 1, seed=i)
    return folder


def test_sdss_dataset_with_a_path_option(tmp_path, capsys):
    folder = _spec_lite_folder(tmp_path / "spectra")
    assert failures(check("dataset", "sdss", {"path": str(folder)}, BUILTIN)) == {}
    assert main(["check-plugin", "dataset", "sdss", "--option", f"path={folder}"]) == 0
    assert "0 failed" in capsys.readouterr().out


def test_dataset_missing_a_required_option_says_how_to_pass_it():
    found = failures(check("dataset", "sdss", registry=BUILTIN))
    assert list(found) == ["open"]
    assert "sdss.path" in found["open"] and "--option key=value" in found["open"]


def test_broken_model_says_what_to_fix(broken_registry):
    found = failures(check("model", "broken_model", registry=broken_registry))
    assert set(found) == {"fit history", "probabilities", "save/load", "deterministic"}
    assert found["fit history"].startswith("fit() given validation data must return")
    assert "rows must sum to 1" in found["probabilities"]
    assert "apply a softmax" in found["probabilities"]
    assert "after save() and load() predictions differ" in found["save/load"]
    assert "save every weight" in found["save/load"]
    assert "seed every random generator" in found["deterministic"]


def test_broken_renderer_preprocessor_dataset_say_what_to_fix(broken_registry):
    shapes = failures(check("renderer", "broken_renderer", registry=broken_registry))
    assert shapes["shape (28, 28, 1)"] == (
        "render(batch, (28, 28, 1)) returned shape (6, 28, 28); return (6, 28, 28, 1)"
    )
    assert len(shapes) == 3
    nan = failures(check("preprocessor", "broken_preprocessor", registry=broken_registry))
    assert list(nan) == ["finite output"] and "non-finite flux" in nan["finite output"]
    short = failures(check("dataset", "broken_dataset", registry=broken_registry))
    assert short == {"open": "source.labels has 9 entries for 10 ids: give one per spectrum"}


def test_undocumented_option_and_bad_default_fail_the_options_check():
    class Sloppy(Renderer):
        name = "sloppy"
        options: ClassVar[tuple[Option, ...]] = (Option("width", int, 1, ""),)

        def render(self, batch, shape):  # pragma: no cover - never reached
            return np.zeros((len(batch), *shape), np.float32)

    registry = Registry()
    registry.add("renderer", Sloppy, "test")
    assert failures(check("renderer", "sloppy", registry=registry)) == {
        "options": "option 'width': give it a one-line help text"
    }
    Sloppy.options = (Option("width", int, "wide", "line width"),)
    message = failures(check("renderer", "sloppy", registry=registry))["options"]
    assert (
        message.startswith("option 'width': default is not valid") and "expected integer" in message
    )


def test_cli_exit_codes_and_kind_resolution(broken_registry, capsys, monkeypatch):
    from bench.cli import console

    monkeypatch.setattr(console.out, "width", 240)  # one table row per line, whatever COLUMNS is
    assert main(["check-plugin", "broken_renderer"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "shape (28, 28, 1)" in line)
    assert "FAIL" in row and "return (6, 28, 28, 1)" in row
    assert out.rstrip().endswith("2 passed, 3 failed")  # "device version agrees": has none
    assert main(["check-plugin", "normalize"]) == 0
    assert main(["check-plugin", "normalise"]) == 2
    assert "did you mean 'normalize'" in capsys.readouterr().err
    assert main(["check-plugin", "gadget", "line"]) == 2
    assert main(["check-plugin", "line", "--option", "nonsense"]) == 2
    assert "expected key=value" in capsys.readouterr().err


def test_options_are_parsed_as_json_else_kept_as_text():
    assert parse_options(["n=40", "z=[0, 1.5]", "path=data/sdss", "flag=true"]) == {
        "n": 40,
        "z": [0, 1.5],
        "path": "data/sdss",
        "flag": True,
    }
    with pytest.raises(BenchError, match="expected key=value"):
        parse_options(["=3"])


def test_resolve_kind_names_the_kind_or_refuses():
    assert resolve_kind("line", BUILTIN) == "renderer"
    assert resolve_kind("synthetic", BUILTIN) == "dataset"
    with pytest.raises(BenchError, match="no plugin named 'lnie'"):
        resolve_kind("lnie", BUILTIN)


def test_model_checks_work_on_a_registry_without_the_builtin_renderers():
    from tests.plugins import toy

    registry = Registry()
    registry.add("model", toy.CentroidModel, "test")
    results = check("model", "centroid", registry=registry)
    assert failures(results) == {} and len(results) == 9


def test_checking_a_renderer_does_not_import_keras():
    import subprocess
    import sys

    code = (
        "import sys; from bench.cli import main; rc = main(['check-plugin', 'renderer', 'line']);"
        "assert rc == 0, rc; assert 'keras' not in sys.modules, 'keras imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
