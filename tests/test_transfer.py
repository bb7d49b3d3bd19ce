"""Trained on one dataset, tested on another: each model's validation and test accuracy
side by side, the gap, and the rank agreement of the two orderings (Kendall tau)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

from bench.cli import main
from bench.results.report import load_report
from bench.results.transfer import _paired, _tau_draws, kendall_tau_b

# three models that differ on noisy spectra: two nearest-centroid, one logistic regression
MODELS = {
    "centroid": '[[models]]\nname = "centroid"\n',
    "logreg": '[[models]]\nname = "logreg"\nC = 0.001\nmax_iter = 50\n',
    "logreg_strong": '[[models]]\nname = "logreg"\nlabel = "logreg_strong"\nC = 100.0\n',
}


def _run(tmp_path, models: list[str]) -> tuple[dict, str, str]:
    """A tiny run: trained on toy spectra, tested on noisier toy spectra of another seed."""
    config = tmp_path / "bench.toml"
    config.write_text(
        '[benchmark]\nname = "transfer"\n'
        '[dataset]\nname = "toy"\nn = 150\nnoise = 6.0\n'
        '[test_dataset]\nname = "toy"\nlabel = "toy_hard"\nn = 90\nseed = 7\nnoise = 10.0\n'
        '[render]\nname = "flat"\n' + "".join(MODELS[m] for m in models) + "[protocol]\n"
        "epochs = [1]\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    return load_report(out / "report.json"), md, html


def test_a_run_with_a_test_dataset_reports_validation_against_test_and_tau(toy_registry, tmp_path):
    report, md, html = _run(tmp_path, list(MODELS))
    for r in report["results"]:
        val = r["validation_metrics"]
        assert val["n"] == r["n_validation"] > 0
        assert sum(c["support"] for c in val["per_class"].values()) == val["n"]
        lo, hi = val["intervals"]["accuracy"]
        assert lo <= val["accuracy"] <= hi
    (group,) = report["transfer"]["groups"]
    assert (group["dataset"], group["test_dataset"]) == ("toy", "toy_hard")
    by_model = {m["model"]: m for m in group["models"]}
    assert set(by_model) == set(MODELS)
    for r in report["results"]:
        row = by_model[r["cell"]["model"]]
        assert row["test_accuracy"] == r["metrics"]["accuracy"]
        assert row["validation_accuracy"] == r["validation_metrics"]["accuracy"]
        assert row["gap"] == pytest.approx(row["validation_accuracy"] - row["test_accuracy"])
        assert row["validation_macro_recall"] == r["validation_metrics"]["macro_recall"]
        assert row["test_macro_recall"] == r["metrics"]["macro_recall"]
    val = [m["validation_accuracy"] for m in group["models"]]
    test = [m["test_accuracy"] for m in group["models"]]
    tau = group["kendall_tau"]
    assert tau == pytest.approx(kendalltau(val, test).statistic)
    lo, hi = group["tau_interval"]
    assert -1 <= lo <= tau <= hi <= 1
    assert group["n_validation_shared"] == report["results"][0]["n_validation"]
    assert group["n_test_shared"] == report["results"][0]["n_test"]
    assert "## Validation against test" in md and "gap (val − test)" in md
    for m in group["models"]:
        assert f"| {m['model']} |" in md and f"{m['gap']:+.3f}" in md
        assert f"{m['validation_macro_recall']:.3f} / {m['test_macro_recall']:.3f}" in md
    assert f"Kendall tau {tau:.3f} over 3 models, 95 % interval [{lo:.3f}, {hi:.3f}]" in md
    assert "Validation against test" in html and f"Kendall tau {tau:.3f}" in html


def test_with_two_models_tau_is_undefined(toy_registry, tmp_path):
    report, md, _ = _run(tmp_path, ["centroid", "logreg"])
    (group,) = report["transfer"]["groups"]
    assert len(group["models"]) == 2
    assert group["kendall_tau"] is None and group["tau_interval"] is None
    assert "Kendall tau undefined: 2 models" in md
    assert "Kendall tau 0" not in md and "Kendall tau -" not in md and "Kendall tau 1" not in md


def test_a_run_tested_on_its_own_dataset_has_no_transfer_section(toy_registry, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(
        '[benchmark]\nname = "plain"\n[dataset]\nname = "toy"\nn = 60\n'
        '[render]\nname = "flat"\n[[models]]\nname = "centroid"\n[protocol]\nepochs = [1]\n'
    )
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert "transfer" not in report and "validation_metrics" not in report["results"][0]
    assert "Validation against test" not in (out / "report.md").read_text()


def test_vectorised_tau_b_agrees_with_scipy_ties_included():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (50, 5)).astype(float)  # many ties
    b = rng.integers(0, 4, (50, 5)).astype(float)
    ours = kendall_tau_b(a, b)
    for k in range(len(a)):
        expected = kendalltau(a[k], b[k]).statistic
        assert np.isnan(ours[k]) if np.isnan(expected) else ours[k] == pytest.approx(expected)


def test_the_bootstrap_is_paired_and_seeded():
    rng = np.random.default_rng(1)
    base = rng.random(200) < 0.7
    val = np.stack([base, base, base], axis=1)  # three identical models: every draw all tied
    test = rng.random((80, 3)) < 0.6
    assert np.isnan(_tau_draws(val, test, seed=0, n_draws=300)).all()
    val = rng.random((200, 3)) < np.array([0.9, 0.7, 0.5])
    first, again = _tau_draws(val, test, seed=3), _tau_draws(val, test, seed=3)
    assert np.array_equal(first, again, equal_nan=True)
    assert not np.array_equal(first, _tau_draws(val, test, seed=4), equal_nan=True)


def test_objects_are_paired_by_id_and_true_classes_must_agree():
    from bench.results.paired import Predictions

    def cell(ids: np.ndarray, true: list[int], predicted: list[int]) -> Predictions:
        return Predictions(ids, np.array(true), np.array(predicted), np.zeros((len(ids), 0)))

    ids = np.array(["a", "b", "c"])
    one = cell(ids, [0, 1, 2], [0, 1, 1])
    other = cell(ids[::-1], [2, 1, 0], [2, 2, 0])
    paired = _paired([one, other])
    assert paired.tolist() == [[True, True], [True, False], [False, True]]
    wrong = cell(ids, [1, 1, 2], [0, 1, 1])
    assert _paired([one, wrong]) is None


def _result(model: str, val: float, test: float, with_validation: bool = True) -> dict:
    cell = {"id": f"syn~real__{model}__f0.8__e1__s0", "dataset": "syn", "model": model}
    cell |= {"plugin": model, "train_fraction": 0.8, "epochs": 1, "seed": 0}
    result = {
        "cell": cell | {"test_dataset": "real"},
        "status": "ok",
        "n_test": 50,
        "metrics": {"accuracy": test, "per_class": {}, "intervals": {"accuracy": [0.0, 1.0]}},
    }
    if with_validation:
        result["validation_metrics"] = {"n": 40, "accuracy": val, "intervals": {}}
    return result


def test_cells_without_validation_figures_are_named_and_left_out():
    from bench.results.transfer import tau_text, transfer_section

    results = [_result("a", 0.9, 0.7), _result("b", 0.8, 0.6), _result("c", 0.7, 0.65)]
    results.append(_result("old", 0.0, 0.5, with_validation=False))
    section = transfer_section(results, ["STAR", "GALAXY", "QSO"], root=None)
    (group,) = section["groups"]
    assert [m["model"] for m in group["models"]] == ["a", "b", "c"]
    assert group["left_out"] == ["syn~real__old__f0.8__e1__s0"]
    assert group["kendall_tau"] == pytest.approx(1 / 3)
    assert group["tau_interval"] is None  # no cell files to resample
    text = tau_text(group)
    assert "Kendall tau 0.333 over 3 models (no interval" in text
    assert "Left out" in text and "syn~real__old__f0.8__e1__s0" in text
    assert transfer_section([results[-1]], ["STAR"], root=None) is None
