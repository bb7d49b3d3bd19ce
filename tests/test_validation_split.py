"""Train / validation / test: fit sees a validation set carved from the training share;
the test set is touched only for the metrics."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest

from bench.cli import main
from bench.results.report import load_report
from tests.plugins import toy

CONFIG = """
[benchmark]
name = "val"

[dataset]
name = "toy"
n = 120

[render]
name = "flat"

[[models]]
name = "centroid"

[protocol]
train_fractions = [0.75]
epochs = [1]
seeds = [3]
validation_fraction = 0.2
"""


def _run(tmp_path: Path, text: str) -> tuple[int, Path]:
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(text))
    out = tmp_path / "run"
    return main(["run", str(path), "--out", str(out)]), out


def test_fit_gets_the_validation_set_not_the_test_set(toy_registry, tmp_path, monkeypatch):
    seen: dict[str, set[str]] = {}
    original = toy.CentroidModel.fit

    def recording_fit(self, train, validation, epochs, initial_epoch=0):  # type: ignore[no-untyped-def]
        seen["train"] = set(train.source.ids[train.index])
        seen["validation"] = set(validation.source.ids[validation.index])
        return original(self, train, validation, epochs, initial_epoch)

    monkeypatch.setattr(toy.CentroidModel, "fit", recording_fit)
    code, out = _run(tmp_path, CONFIG)
    assert code == 0
    result = load_report(out / "report.json")["results"][0]
    with open(out / result["path"] / "predictions.csv", newline="") as fh:
        test_ids = {row["id"] for row in csv.DictReader(fh)}
    assert len(seen["train"]) == result["n_train"]
    assert len(seen["validation"]) == result["n_validation"] == 18  # 0.2 of 90 objects
    assert len(test_ids) == result["n_test"] == 30
    assert not seen["validation"] & test_ids and not seen["train"] & test_ids
    assert not seen["train"] & seen["validation"]


def test_validation_split_is_stratified_by_class(toy_registry, tmp_path, monkeypatch):
    labels: list[str] = []

    def recording_fit(self, train, validation, epochs, initial_epoch=0):  # type: ignore[no-untyped-def]
        labels.extend(validation.source.labels[validation.index])
        return {"loss": [0.0], "accuracy": [1.0]}

    monkeypatch.setattr(toy.CentroidModel, "fit", recording_fit)
    _run(tmp_path, CONFIG)
    assert sorted(labels.count(c) for c in toy.CLASSES) == [6, 6, 6]


def test_history_val_figures_are_the_validation_objects(tmp_path):
    """A real model (logistic regression on synthetic spectra): val_accuracy is measured on
    the validation objects. Tested on another dataset, the run also predicts the validation
    split itself (validation_metrics): the two agree, whatever the test set scores."""
    code, out = _run(
        tmp_path,
        """
        [benchmark]
        name = "val"
        [dataset]
        name = "synthetic"
        n = 300
        [test_dataset]
        name = "synthetic"
        n = 90
        seed = 1
        [[models]]
        name = "logreg"
        [protocol]
        epochs = [1]
        validation_fraction = 0.25
        """,
    )
    assert code == 0
    result = json.loads((out / "report.json").read_text())["results"][0]
    assert result["n_validation"] == result["validation_metrics"]["n"] > 0
    assert result["n_test"] == 90
    val = result["history"]["val_accuracy"][-1]
    assert val == pytest.approx(result["validation_metrics"]["accuracy"], abs=1e-6)
    assert round(val * result["n_validation"], 6).is_integer()


def test_validation_fraction_zero_trains_without_validation(toy_registry, tmp_path):
    code, out = _run(
        tmp_path, CONFIG.replace("validation_fraction = 0.2", "validation_fraction = 0")
    )
    assert code == 0
    result = load_report(out / "report.json")["results"][0]
    assert result["n_validation"] == 0 and result["n_train"] == 90


def test_validation_fraction_out_of_range_is_one_line(toy_registry, tmp_path, capsys):
    code, _ = _run(
        tmp_path, CONFIG.replace("validation_fraction = 0.2", "validation_fraction = 1.5")
    )
    err = capsys.readouterr().err
    assert code == 2 and "validation_fraction" in err and "Traceback" not in err
