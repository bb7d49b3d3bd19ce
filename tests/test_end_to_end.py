"""The built-in plugins end to end: synthetic -> moving average -> line -> MNIST-CNN."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from bench.cli import main
from bench.results.report import load_report

CONFIG = """
[dataset]
name = "synthetic"
n = 150
seed = 1

[[preprocess]]
name = "mask"

[[preprocess]]
name = "moving_average"
window = 5

[render]
name = "line"

[[models]]
name = "mnist_cnn"
image_size = [16, 16]

[protocol]
train_fractions = [0.6]
epochs = [1, 2]
seeds = [3]
batch_size = 32
"""


def run(tmp_path: Path, name: str, extra: str = "") -> dict:
    config = tmp_path / f"{name}.toml"
    config.write_text(textwrap.dedent(CONFIG + extra))
    assert main(["run", str(config), "--out", str(tmp_path / name)]) == 0
    return load_report(tmp_path / name / "report.json")


def test_two_cpu_runs_with_one_seed_give_identical_metrics(tmp_path):
    first, second = run(tmp_path, "a"), run(tmp_path, "b")
    assert [r["cell"]["epochs"] for r in first["results"]] == [1, 2]
    for a, b in zip(first["results"], second["results"], strict=True):
        assert a["metrics"] == b["metrics"] and a["history"] == b["history"]
    assert first["provenance"]["keras_backend"] == "jax"
    assert first["provenance"]["devices"] and all(
        d.startswith("cpu") for d in first["provenance"]["devices"]
    )
    preds = [
        (tmp_path / n / first["results"][1]["path"] / "predictions.csv").read_text() for n in "ab"
    ]
    assert preds[0] == preds[1]
    assert (tmp_path / "a" / "report.html").stat().st_size > 10_000


def test_train_on_synthetic_test_on_real_files(tmp_path, shared_data):
    extra = f'\n[test_dataset]\nname = "sdss"\npath = "{shared_data / "sdss"}"\n'
    report = run(tmp_path, "real", extra)
    test = report["datasets"]["test"]
    labels = (shared_data / "sdss" / "labels.csv").read_text().splitlines()[1:]
    assert test["n_used"] == len(labels)
    result = report["results"][0]
    assert result["n_test"] == len(labels)
    assert sum(v["support"] for v in result["metrics"]["per_class"].values()) == len(labels)
    cell = json.loads((tmp_path / "real" / result["path"] / "cell.json").read_text())
    assert cell["pipeline"]["shape"] == [16, 16, 1]
