"""Leaderboard: ordering, intervals and ties on the same test set. ``write_run`` (also used
by test_compare and test_html_report) writes a real, schema-valid run folder from chosen
predictions, so each test controls exactly which model is better."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.results.leaderboard import format_leaderboard, leaderboard
from bench.results.metrics import compute_metrics
from bench.results.report import build_report, now, write_report
from bench.store.files import write_csv

CLASSES = ["STAR", "GALAXY", "QSO"]
ROOT = Path(__file__).resolve().parents[1]


def write_run(
    out: Path,
    y_true: np.ndarray,
    predicted: dict[str, np.ndarray],
    *,
    ids: list[str] | None = None,
    plugin: str = "centroid",
    fraction: float = 0.8,
    epochs: int = 3,
    redshift: np.ndarray | None = None,
    failed: dict[str, str] | None = None,
    probas: dict[str, np.ndarray] | None = None,
    quick: bool | None = None,
    cache_keys: bool = False,
) -> Path:
    """A run folder with one cell per model in ``predicted`` (``"m#s1"``: model m, seed 1),
    with probabilities from ``probas`` or 0.8 on the predicted class; ``quick`` recorded
    in the config when given, a cache key per cell id with ``cache_keys``; returns
    report.json."""
    ids = ids or [f"obj-{i}" for i in range(len(y_true))]
    results = []
    for k, (name, y_pred) in enumerate(predicted.items()):
        model, _, seed = name.partition("#s")
        proba = np.full((len(y_pred), len(CLASSES)), 0.1)
        proba[np.arange(len(y_pred)), y_pred] = 0.8
        proba = (probas or {}).get(name, proba)
        cell = {
            "dataset": "toy",
            "model": model,
            "plugin": plugin,
            "train_fraction": fraction,
            "epochs": epochs,
            "seed": int(seed or 0),
        }
        cell["id"] = f"toy__{model}__f{fraction:g}__e{epochs}__s{cell['seed']}"
        loss = list(np.linspace(1.0, 0.3 + 0.1 * k, epochs))
        results.append(
            {
                "cell": cell,
                "status": "ok",
                "history": {
                    "loss": loss,
                    "val_loss": [v + 0.1 for v in loss],
                    "accuracy": [0.5] * epochs,
                    "val_accuracy": [0.5] * epochs,
                },
                "metrics": compute_metrics(y_true, proba, CLASSES, redshift=redshift, seed=0),
                "timings": {"fit_s": 0.1, "predict_s": 0.01},
                "n_train": 4 * len(y_true),
                "n_test": len(y_true),
                "path": f"cells/{cell['id']}",
            }
            | ({"cache_key": f"key-{cell['id']}"} if cache_keys else {})
        )
        rows = [
            [i, CLASSES[t], CLASSES[p], *(f"{x:.3g}" for x in pr)]
            for i, t, p, pr in zip(ids, y_true, y_pred, proba, strict=True)
        ]
        write_csv(
            out / "cells" / cell["id"] / "predictions.csv",
            ["id", "true", "predicted", *(f"p_{c}" for c in CLASSES)],
            rows,
        )
    for model, message in (failed or {}).items():
        cell = {
            "dataset": "toy",
            "model": model,
            "plugin": plugin,
            "train_fraction": fraction,
            "epochs": epochs,
            "seed": 0,
            "id": f"toy__{model}__f{fraction:g}__e{epochs}__s0",
        }
        results.append(
            {
                "cell": cell,
                "status": "failed",
                "error": {"type": "RuntimeError", "message": message},
            }
        )
    config = {
        "benchmark": {"name": out.name, "classes": CLASSES},
        "datasets": [],
        "models": [],
        "protocol": {},
    } | ({"quick": quick} if quick is not None else {})
    report = build_report(config, results, {}, now(), [0])
    out.mkdir(parents=True, exist_ok=True)
    return write_report(report, out)


def with_errors(y_true: np.ndarray, where: np.ndarray) -> np.ndarray:
    """y_true with the objects at ``where`` called the next class."""
    y_pred = y_true.copy()
    y_pred[where] = (y_true[where] + 1) % len(CLASSES)
    return y_pred


Y = np.tile(np.arange(3), 200)  # 600 objects, 200 per class


def test_ranks_by_metric_and_marks_indistinguishable_models_as_tied(tmp_path):
    # a and b make 60 errors each (20 per class) on different objects: identical metrics;
    # worse makes 240 errors
    good_a = with_errors(Y, np.arange(0, 60))
    good_b = with_errors(Y, np.arange(300, 360))
    worse = with_errors(Y, np.arange(0, 240))
    write_run(tmp_path / "run1", Y, {"worse": worse, "good_a": good_a})
    write_run(tmp_path / "run2", Y, {"good_b": good_b})
    rows = leaderboard([tmp_path / "run1", tmp_path / "run2" / "report.json"], "accuracy")
    assert [r["model"] for r in rows][2] == "worse"
    assert {r["model"] for r in rows[:2]} == {"good_a", "good_b"}
    assert [r["value"] for r in rows] == pytest.approx([0.9, 0.9, 0.6])
    assert rows[0]["low"] < 0.9 < rows[0]["high"]
    assert rows[0]["vs_above"] is None
    assert rows[1]["vs_above"]["tied"] and rows[1]["vs_leader"]["tied"]
    assert not rows[2]["vs_above"]["tied"] and rows[2]["vs_above"]["p"] < 0.01
    shown = format_leaderboard(rows, "table")
    assert [r["rank"] for r in shown] == ["1", "2=", "3"]


def test_macro_f1_and_per_class_recall_use_the_paired_bootstrap(tmp_path):
    qso_missed = with_errors(Y, np.arange(2, 600, 3)[:100])  # half the quasars missed
    write_run(tmp_path / "run", Y, {"perfect": Y.copy(), "qso_missed": qso_missed})
    rows = leaderboard([tmp_path], "recall:QSO")
    assert [r["model"] for r in rows] == ["perfect", "qso_missed"]
    assert rows[1]["value"] == pytest.approx(0.5)
    assert rows[1]["vs_above"]["test"] == "paired bootstrap"
    assert not rows[1]["vs_above"]["tied"]
    # STAR recall is equal for both: a tie
    star = leaderboard([tmp_path], "recall:STAR")
    assert star[1]["vs_above"]["tied"]


def test_different_test_sets_are_not_tested_against_each_other(tmp_path):
    write_run(tmp_path / "a", Y, {"m1": Y.copy()})
    write_run(
        tmp_path / "b",
        Y,
        {"m2": with_errors(Y, np.arange(30))},
        ids=[f"other-{i}" for i in range(len(Y))],
    )
    rows = leaderboard([tmp_path], "macro_f1")
    assert rows[1]["vs_above"] is None
    assert format_leaderboard(rows, "table")[1]["rank"] == "2"


def test_bad_metric_and_format_and_paths_are_user_errors(tmp_path):
    write_run(tmp_path / "run", Y, {"m": Y.copy()})
    with pytest.raises(BenchError, match="unknown metric 'f1_macro'.*valid: accuracy, macro_f1"):
        leaderboard([tmp_path], "f1_macro")
    with pytest.raises(BenchError, match="unknown metric 'recall:ELF'.*recall:QSO"):
        leaderboard([tmp_path], "recall:ELF")
    with pytest.raises(BenchError, match="no such report"):
        leaderboard([tmp_path / "nope"])
    with pytest.raises(BenchError, match="valid: table, md, html, json"):
        format_leaderboard([], "xml")


def test_renderers_escape_and_round_trip(tmp_path):
    write_run(tmp_path / "run", Y, {"<b>m</b>": Y.copy(), "n|m": with_errors(Y, np.arange(9))})
    rows = leaderboard([tmp_path])
    html = format_leaderboard(rows, "html")
    assert "<b>m</b>" not in html and "&lt;b&gt;m&lt;/b&gt;" in html
    assert "n\\|m" in format_leaderboard(rows, "md")
    assert json.loads(format_leaderboard(rows, "json"))[0]["model"] == "<b>m</b>"


def test_a_report_named_twice_is_ranked_once(tmp_path):
    path = write_run(tmp_path / "run", Y, {"m": Y.copy(), "n": with_errors(Y, np.arange(6))})
    rows = leaderboard([tmp_path, path, tmp_path / "run"])
    assert [r["model"] for r in rows] == ["m", "n"]


def test_roc_auc_is_ranked_with_a_paired_bootstrap_of_auc(tmp_path):
    # the same argmax calls (so equal accuracy), but only "sharp" ranks QSOs above the rest
    rng = np.random.default_rng(0)
    sharp = np.full((len(Y), 3), 0.1)
    sharp[np.arange(len(Y)), Y] = 0.8
    blurred = sharp.copy()
    blurred[:, 2] = np.where(Y == 2, 0.8, rng.uniform(0.05, 0.79, len(Y)))
    blurred[Y == 2, 2] = rng.uniform(0.1, 0.8, (Y == 2).sum())
    write_run(
        tmp_path / "run", Y, {"sharp": Y, "blurred": Y}, probas={"sharp": sharp, "blurred": blurred}
    )
    rows = leaderboard([tmp_path], "roc_auc:QSO")
    assert [r["model"] for r in rows] == ["sharp", "blurred"]
    assert rows[1]["vs_above"]["test"] == "paired bootstrap of AUC"
    assert not rows[1]["vs_above"]["tied"] and rows[1]["vs_above"]["p"] < 0.01
    same = leaderboard([tmp_path], "accuracy")
    assert same[1]["vs_above"]["tied"]


def test_runs_without_predictions_are_ranked_and_say_no_test_was_possible(tmp_path, capsys):
    write_run(tmp_path / "run", Y, {"a": Y.copy(), "b": with_errors(Y, np.arange(60))})
    for path in (tmp_path / "run" / "cells").rglob("predictions.csv"):
        path.unlink()
    rows = leaderboard([tmp_path], "roc_auc")
    assert [r["model"] for r in rows] == ["a", "b"] and rows[1]["vs_above"] is None
    assert main(["leaderboard", str(tmp_path)]) == 0
    assert "no significance test was possible" in capsys.readouterr().err


def test_a_fresh_clone_ranks_the_committed_baseline(tmp_path, monkeypatch, capsys):
    """`bench leaderboard` with no arguments on what git tracks under reports/."""
    tracked = subprocess.run(
        ["git", "ls-files", "reports"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    for name in tracked:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all("reports/baseline/report.json" in r["report"] for r in rows)


def test_several_seeds_give_mean_spread_and_interval(tmp_path):
    runs = {"m#s0": with_errors(Y, np.arange(60)), "m#s1": with_errors(Y, np.arange(90))}
    runs["m#s2"] = with_errors(Y, np.arange(120))
    write_run(tmp_path / "run", Y, runs)
    rows = leaderboard([tmp_path], "accuracy")
    summary = rows[0]["across_seeds"]
    assert summary["n_seeds"] == 3 and summary["mean"] == pytest.approx(0.85)
    assert summary["std"] == pytest.approx(0.05)
    assert summary["low"] < 0.85 < summary["high"]
    assert "(3 seeds)" in format_leaderboard(rows, "table")[0]["across seeds"]


# -- issue 27.6: one ranking per test set, reruns once ---------------------------------


def test_quick_and_full_runs_are_ranked_apart_with_a_test_set_column(tmp_path):
    write_run(tmp_path / "full", Y, {"full_m": with_errors(Y, np.arange(60))}, quick=False)
    write_run(tmp_path / "quick", Y, {"quick_m": Y.copy()}, quick=True)
    write_run(tmp_path / "f0.6", Y, {"other_split": Y.copy()}, quick=False, fraction=0.6)
    rows = leaderboard([tmp_path], "accuracy")
    by_model = {r["model"]: r for r in rows}
    assert by_model["full_m"]["test_set"] == "toy, 20% test (600 spectra), full"
    assert by_model["quick_m"]["test_set"] == "toy, 20% test (600 spectra), quick"
    assert by_model["other_split"]["test_set"] == "toy, 40% test (600 spectra), full"
    assert [r["rank"] for r in rows] == [1, 1, 1]  # each first on its own test set
    assert all(r["vs_above"] is None and r["vs_leader"] is None for r in rows)
    shown = format_leaderboard(rows, "table")
    assert list(shown[0])[0] == "test set"  # type: ignore[arg-type]


def test_a_cell_reused_by_a_rerun_is_shown_once(tmp_path):
    cells = {"m": with_errors(Y, np.arange(60)), "n": Y.copy()}
    first = write_run(tmp_path / "first", Y, cells, cache_keys=True)
    second = write_run(tmp_path / "second", Y, cells, cache_keys=True)
    rows = leaderboard([tmp_path], "accuracy")
    assert [r["model"] for r in rows] == ["n", "m"]
    assert all(sorted(r["runs"]) == sorted([str(first), str(second)]) for r in rows)
    assert "(2 runs)" in format_leaderboard(rows, "table")[0]["cell"]  # type: ignore[index]
    without_keys = tmp_path / "plain"
    write_run(without_keys / "a", Y, cells)
    write_run(without_keys / "b", Y, cells)
    assert len(leaderboard([without_keys], "accuracy")) == 4  # no key: nothing to fold
