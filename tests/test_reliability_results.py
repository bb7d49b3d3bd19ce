"""Issue 28 on the readers of results: a gate that cannot pass on nothing or on a report
its predictions contradict, strict JSON out of the harness (no bare NaN), NaN metrics
ranked last and said so, and one line for a report nested too deeply."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench import hookimpl
from bench.cli import main
from bench.errors import BenchError
from bench.results.compare import compare
from bench.results.leaderboard import format_leaderboard, leaderboard
from bench.results.report import build_report, load_report, now, write_report
from tests.plugins import toy
from tests.test_leaderboard import CLASSES, with_errors, write_run

Y = np.tile(np.arange(3), 100)  # 300 objects


def _edit(path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    report = json.loads(path.read_text())
    change(report)
    path.write_text(json.dumps(report))
    return path


def strict_json(text: str) -> object:
    """json.loads that refuses NaN and Infinity, as strict parsers do."""

    def refuse(token: str) -> object:
        raise ValueError(f"bare {token} in JSON")

    return json.loads(text, parse_constant=refuse)


# -- the gate refuses to judge on nothing -------------------------------------------


def _no_cells(out: Path) -> Path:
    return _edit(write_run(out, Y, {"m": Y.copy()}), lambda r: r.update(results=[]))


@pytest.mark.parametrize(
    "make_baseline, reason",
    [
        (_no_cells, "has no cells"),
        (lambda out: write_run(out, Y, {}, failed={"m": "boom"}), "every cell of the baseline"),
        (lambda out: write_run(out, Y, {"other": Y.copy()}), "no cell in common"),
    ],
)
def test_a_baseline_with_no_comparable_cell_is_exit_2(tmp_path, capsys, make_baseline, reason):
    base = make_baseline(tmp_path / "base")
    current = write_run(tmp_path / "now", Y, {"m": Y.copy()})
    with pytest.raises(BenchError, match=f"nothing to compare: .*{reason}"):
        compare(base, current)
    assert main(["compare", str(base), str(current)]) == 2
    err = capsys.readouterr().err
    assert "nothing to compare" in err and "Traceback" not in err
    assert "no regression" not in err


def test_a_current_report_with_no_ok_cell_is_exit_2(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": Y.copy()})
    for name, current in (
        ("failed", write_run(tmp_path / "failed", Y, {}, failed={"m": "boom"})),
        ("empty", _no_cells(tmp_path / "empty")),
    ):
        with pytest.raises(BenchError, match="nothing to compare: .*current report"):
            compare(base, current)
        assert main(["compare", str(base), str(current)]) == 2, name


# -- the gate checks a report against its predictions -------------------------------


def test_metrics_that_fell_without_their_predictions_are_exit_2_naming_the_cell(tmp_path, capsys):
    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(30))})
    current = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(30))})

    def fall(report):  # type: ignore[no-untyped-def]
        report["results"][0]["metrics"]["accuracy"] -= 0.3

    _edit(current, fall)
    with pytest.raises(BenchError, match="toy__m__f0.8__e3__s0: the report's accuracy 0.6000"):
        compare(base, current)
    assert main(["compare", str(base), str(current)]) == 2
    err = capsys.readouterr().err
    assert "disagrees with its predictions.csv" in err and "Traceback" not in err
    # and the other way round: predictions changed under an unchanged report
    csv_path = tmp_path / "base" / "cells" / "toy__m__f0.8__e3__s0" / "predictions.csv"
    lines = csv_path.read_text().splitlines()
    assert lines[100].startswith("obj-99,STAR,STAR,")  # right in both files
    lines[100] = lines[100].replace(",STAR,STAR,", ",STAR,GALAXY,")
    csv_path.write_text("\n".join(lines) + "\n")
    fresh = write_run(tmp_path / "again", Y, {"m": with_errors(Y, np.arange(30))})
    with pytest.raises(BenchError, match=f"{tmp_path / 'base'}.*toy__m__f0.8__e3__s0"):
        compare(base, fresh)


def test_reports_that_agree_with_their_predictions_are_judged(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(30))})
    worse = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(120))})
    assert compare(base, worse).exit_code == 1  # a real fall, in both files alike


# -- strict JSON out of the harness -------------------------------------------------


def _report_with(history_loss: list[float], model_info: dict, scale: float = 1.0) -> dict:  # type: ignore[type-arg]
    from bench.results.metrics import compute_metrics

    proba = np.full((len(Y), 3), 0.1)
    proba[np.arange(len(Y)), Y] = 0.8
    cell = {"dataset": "toy", "model": "m", "plugin": "p", "train_fraction": 0.8}
    cell |= {"epochs": len(history_loss), "seed": 0, "id": "toy__m"}
    result = {
        "cell": cell,
        "status": "ok",
        "history": {"loss": history_loss, "accuracy": [0.5] * len(history_loss)},
        "metrics": compute_metrics(Y, proba, CLASSES, seed=0),
        "timings": {"fit_s": 0.1, "predict_s": 0.1},
        "n_test": len(Y),
        "model_info": model_info,
    }
    config = {"benchmark": {"name": "t", "classes": CLASSES}, "datasets": [], "models": []}
    return build_report(config | {"protocol": {}}, [result], {"toy": {"scale": scale}}, now(), [0])


def test_non_finite_losses_and_describe_values_are_null_with_a_reason(tmp_path):
    report = _report_with([1.0, math.nan, 0.5], {"temperature": -math.inf, "ok": 1.5}, math.inf)
    path = write_report(report, tmp_path)
    text = path.read_text()
    written = strict_json(text)  # no bare NaN or Infinity
    assert isinstance(written, dict)
    result = written["results"][0]
    assert result["history"]["loss"] == [1.0, None, 0.5]
    assert result["model_info"] == {"temperature": None, "ok": 1.5}
    assert written["non_finite"] == {
        "results/0/history/loss/1": "NaN",
        "results/0/model_info/temperature": "-Infinity",
        "datasets/toy/scale": "Infinity",
    }
    assert load_report(path)["results"][0]["history"]["loss"][1] is None  # schema allows it


def test_a_finite_report_has_no_non_finite_field(tmp_path):
    path = write_report(_report_with([1.0, 0.5], {"ok": 1}), tmp_path)
    assert "non_finite" not in strict_json(path.read_text())  # type: ignore[operator]


# -- NaN in the leaderboard ---------------------------------------------------------


def _with_nan(path: Path, cell: int, metric: str = "macro_f1") -> Path:
    return _edit(path, lambda r: r["results"][cell]["metrics"].update({metric: math.nan}))


def test_a_nan_metric_ranks_last_marked_and_is_null_in_json(tmp_path, capsys):
    run = write_run(tmp_path / "run", Y, {"a": with_errors(Y, np.arange(90)), "b": Y.copy()})
    _with_nan(run, 1)  # "b" is perfect in its predictions but NaN in its report
    rows = leaderboard([tmp_path], "macro_f1")
    assert [r["model"] for r in rows] == ["a", "b"]
    assert rows[1]["value"] is None and rows[1]["non_finite"] == "NaN"
    assert rows[1]["vs_above"] is None  # nothing to test a NaN against
    shown = format_leaderboard(rows, "table")
    assert shown[1]["value"] == "NaN (ranked last)"  # type: ignore[index]
    text = format_leaderboard(rows, "json")
    assert isinstance(text, str)
    assert strict_json(text)[1]["value"] is None  # type: ignore[index]
    assert main(["leaderboard", str(tmp_path), "--format", "json"]) == 0
    strict_json(capsys.readouterr().out)


def test_a_seed_group_with_nan_says_so(tmp_path):
    runs = {f"m#s{s}": with_errors(Y, np.arange(30 * (s + 1))) for s in range(3)}
    run = _with_nan(write_run(tmp_path / "three", Y, runs), 2)
    rows = leaderboard([tmp_path / "three"], "macro_f1")
    text = format_leaderboard(rows, "table")[0]["across seeds"]  # type: ignore[index]
    assert "nan" not in text and "(2 seeds, 1 NaN or infinite left out)" in text
    assert rows[0]["across_seeds"]["n_non_finite"] == 1
    strict_json(format_leaderboard(rows, "json"))  # type: ignore[arg-type]
    two = {f"m#s{s}": with_errors(Y, np.arange(30 * (s + 1))) for s in range(2)}
    _with_nan(write_run(tmp_path / "two", Y, two), 1)
    text = format_leaderboard(leaderboard([tmp_path / "two"], "macro_f1"), "table")[0]
    assert text["across seeds"] == "NaN or infinite in 1 of 2 seeds: no spread"  # type: ignore[index]
    assert run.is_file()


# -- a report nested too deeply -----------------------------------------------------


def test_a_deeply_nested_json_is_one_line_exit_2(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    base = write_run(tmp_path / "base", Y, {"m": Y.copy()})
    with pytest.raises(BenchError, match="nested too deeply"):
        compare(deep, base)
    assert main(["compare", str(base), str(deep)]) == 2
    assert main(["leaderboard", str(deep)]) == 2
    err = capsys.readouterr().err
    assert err.count("nested too deeply") == 2 and "Traceback" not in err


class NanLossModel(toy.CentroidModel):
    """The toy centroid model with a NaN last loss and an infinite describe() value."""

    name = "nan_loss"

    def fit(self, train, validation, epochs, initial_epoch=0):  # type: ignore[no-untyped-def]
        history = super().fit(train, validation, epochs, initial_epoch)
        history["loss"][-1] = float("nan")
        return history

    def describe(self):  # type: ignore[no-untyped-def]
        return {"temperature": float("inf"), "centroids": len(self.classes)}


class NanLossPlugin:
    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        register(NanLossModel)


def test_a_plugin_nan_loss_and_infinite_describe_make_a_strict_report(tmp_path):
    from bench.plugins import manager
    from tests.test_core import write

    config = write(
        tmp_path,
        """
        [benchmark]
        name = "nan"

        [dataset]
        name = "toy"
        n = 60

        [render]
        name = "flat"

        [[models]]
        name = "nan_loss"
        render = { name = "flat" }

        [protocol]
        train_fractions = [0.8]
        epochs = [2]
        seeds = [0]
        batch_size = 16
        """,
    )
    registry = manager.get_registry(extra=[toy, NanLossPlugin()], third_party=False)
    with manager.using_registry(registry):
        assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    written = strict_json((tmp_path / "run" / "report.json").read_text())
    assert isinstance(written, dict)
    result = written["results"][0]
    assert result["status"] == "ok" and result["history"]["loss"] == [0.5, None]
    assert result["model_info"]["temperature"] is None
    assert written["non_finite"] == {
        "results/0/history/loss/1": "NaN",
        "results/0/model_info/temperature": "Infinity",
    }
