"""examples/bench-prior, installed as a fake distribution from its own pyproject.toml:
discovered through the `bench` entry point, run in a benchmark, passing the conformance suite."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.conformance import check
from bench.plugins import manager
from bench.plugins.registry import KINDS, Registry
from bench.results.report import validate_report
from tests.plugins import toy

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bench-prior"

CONFIG = """
[benchmark]
name = "prior"
classes = ["STAR", "GALAXY", "QSO"]

[dataset]
name = "toy"
n = 90

[[models]]
name = "nearest_centroid"
n_pixels = 100

[protocol]
train_fractions = [0.7]
epochs = [1]
seeds = [0]
"""


@pytest.fixture
def installed_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """bench-prior's dist-info written from its pyproject; its module read from examples/."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    info = tmp_path / f"bench_prior-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    points = project["entry-points"]["bench"]
    (info / "entry_points.txt").write_text(
        "[bench]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.delenv("BENCH_LOAD_PLUGINS", raising=False)
    manager.clear_registry_cache()
    registry = manager.get_registry(extra=[toy])  # entry points on, plus the toy dataset
    with manager.using_registry(registry):
        yield registry
    manager.clear_registry_cache()


def test_example_is_discovered_through_its_entry_point(installed_example):
    assert "nearest_centroid" in installed_example.classes["model"]
    assert installed_example.sources[("model", "nearest_centroid")] == "bench-prior 0.1.0"


def test_bench_plugins_json_structure(installed_example, capsys):
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        sink = {"enabled"} if row["kind"] == "sink" else set()  # sinks: whether they take part
        assert set(row) == {"kind", "name", "source", "description", "options"} | sink
        assert (row["kind"] in KINDS or sink) and row["name"] and row["source"]
        for option in row["options"]:
            assert set(option) - {"choices", "bounds"} == {"name", "type", "default", "help"}
            assert option["type"] in {"int", "float", "str", "bool", "list", "dict"}
            assert option.get("choices", [option["default"]]) != []
    assert len({(r["kind"], r["name"]) for r in rows}) == len(rows)
    (example,) = [r for r in rows if r["name"] == "nearest_centroid"]
    assert example["kind"] == "model" and example["source"] == "bench-prior 0.1.0"
    assert [o["name"] for o in example["options"]] == ["n_pixels", "temperature", "prior_weight"]
    assert example["options"][0] == {
        "name": "n_pixels",
        "type": "int",
        "default": 512,
        "help": "length of the flux vector",
    }


def test_example_runs_in_a_benchmark(installed_example, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(CONFIG)
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    (cell,) = report["results"]
    assert cell["status"] == "ok" and cell["cell"]["model"] == "nearest_centroid"
    # the toy classes differ by a strong emission line: the centroids find it
    assert cell["metrics"]["accuracy"] > 0.9


def test_example_passes_the_conformance_suite(installed_example, capsys):
    results = check("model", "nearest_centroid", registry=installed_example)
    assert [r.message for r in results if not r.ok] == []
    assert main(["check-plugin", "nearest_centroid"]) == 0
    assert "0 failed" in capsys.readouterr().out


def test_example_prior_weight_moves_probability_to_the_common_class(installed_example):
    """With one class dominating training, prior_weight > 0 raises its probability."""
    import numpy as np

    from bench.feed import Feed, Pipeline

    source = toy.ToyDataset(n=60).open()
    renderer = installed_example.create("renderer", "none", {}, "render")
    pipeline = Pipeline([], renderer, (100, 1))
    classes = list(toy.CLASSES)
    star = np.flatnonzero(source.labels == "STAR")
    train_index = np.concatenate([star, [1, 2]])  # 20 stars, one galaxy, one quasar
    mean_star = {}
    for weight in (0.0, 3.0):
        model = installed_example.create(
            "model", "nearest_centroid", {"n_pixels": 100, "prior_weight": weight}, "m"
        )
        model.build((100, 1), classes, 0)
        model.fit(Feed(source, train_index, pipeline, classes), None, 1)
        proba = model.predict_proba(Feed(source, np.arange(60), pipeline, classes))
        mean_star[weight] = proba[:, 0].mean()
    assert mean_star[3.0] > mean_star[0.0]
