"""The CI gate: exit 0 (no regression), 1 (regression, with which), 2 (bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.errors import USER_ERROR_EXIT, BenchError
from bench.results.compare import compare
from tests.test_leaderboard import with_errors, write_run

Y = np.tile(np.arange(3), 300)  # 900 objects


def test_same_run_and_a_change_within_tolerance_pass(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(90))})
    same = compare(base, base, tolerance=0.0)
    assert same.exit_code == 0 and same.regressions == []
    assert {r["metric"] for r in same.rows} == {
        "accuracy", "macro_f1", "roc_auc", "log_loss",
        *(f"{m}:{c}" for m in ("recall", "precision") for c in ("STAR", "GALAXY", "QSO")),
    }  # fmt: skip
    slightly = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(99))})
    assert compare(base, slightly, tolerance=0.02).exit_code == 0


def test_a_passing_gate_prints_the_full_table_and_its_power(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(90))})
    text = compare(base, base).markdown()
    assert text.count("| toy__m__f0.8__e3__s0 |") == 10  # every metric, not one line
    assert "no regression in 1 compared cells" in text
    assert "smallest accuracy fall this gate detects" in text and "at 900 test spectra" in text


def test_a_drop_beyond_tolerance_and_interval_is_a_regression(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(90)), "ok": Y.copy()})
    worse = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(270)), "ok": Y.copy()})
    result = compare(base, worse, tolerance=0.02)
    assert result.exit_code == 1
    regressed = {(r["cell"], r["metric"]) for r in result.regressions}
    assert ("toy__m__f0.8__e3__s0", "accuracy") in regressed
    loss = next(r for r in result.rows if r["metric"] == "log_loss" and "__m__" in r["cell"])
    assert loss["delta"] > 0 and loss["verdict"] == "worse (not gated)"  # lower is better
    assert not any("__ok__" in cell for cell, _ in regressed)
    assert "| toy__m__f0.8__e3__s0 | accuracy |" in result.markdown()
    assert json.loads(result.to_json())["exit_code"] == 1


@pytest.mark.parametrize("n_test", [300, 600])
def test_an_injected_three_point_drop_fails_the_paired_gate(tmp_path, n_test):
    """The CI gate's power: 3 % of the test objects turned from right to wrong."""
    y = np.tile(np.arange(3), n_test // 3)
    base_pred = with_errors(y, np.arange(0, n_test, 5))  # 80 % accurate
    correct = np.flatnonzero(base_pred == y)
    worse = with_errors(
        y, np.concatenate([np.arange(0, n_test, 5), correct[: round(0.03 * n_test)]])
    )
    base = write_run(tmp_path / "base", y, {"m": base_pred})
    now = write_run(tmp_path / "now", y, {"m": worse})
    result = compare(base, now, tolerance=0.02)
    row = next(r for r in result.rows if r["metric"] == "accuracy")
    assert row["delta"] == pytest.approx(-0.03) and row["test"].startswith("paired")
    assert row["regression"] and result.exit_code == 1
    assert compare(base, base, tolerance=0.02).exit_code == 0


def test_a_drop_within_the_interval_of_a_small_test_set_is_noise(tmp_path):
    # 30 objects, no per-object predictions: one more error is a 3.3 % drop, more than
    # the tolerance but well inside the two runs' intervals
    y = np.tile(np.arange(3), 10)
    base = write_run(tmp_path / "base", y, {"m": with_errors(y, np.arange(3))})
    now = write_run(tmp_path / "now", y, {"m": with_errors(y, np.arange(4))})
    for path in tmp_path.rglob("predictions.csv"):
        path.unlink()
    result = compare(base, now, tolerance=0.02)
    row = next(r for r in result.rows if r["metric"] == "accuracy")
    assert row["test"] == "intervals"
    assert row["delta"] < -0.02 and row["allowed"] > -row["delta"]
    assert row["detectable"] > 0.1  # what 30 objects can tell apart, stated
    assert result.exit_code == 0


def test_a_cell_that_fails_now_is_a_regression(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": Y.copy(), "n": Y.copy()})
    now = write_run(tmp_path / "now", Y, {"n": Y.copy()}, failed={"m": "out of memory"})
    result = compare(base, now)
    assert result.exit_code == 1 and result.newly_failed == ["toy__m__f0.8__e3__s0"]


def _edit(path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    report = json.loads(path.read_text())
    change(report)
    path.write_text(json.dumps(report))
    return path


def test_missing_cells_metrics_and_nan_are_regressions_never_a_pass(tmp_path):
    cells = {m: with_errors(Y, np.arange(90)) for m in ("a", "b", "c")}
    base = write_run(tmp_path / "base", Y, cells)
    one_cell = write_run(tmp_path / "one", Y, {"a": cells["a"]})
    result = compare(base, one_cell)
    assert result.exit_code == 1 and len(result.missing) == 2
    assert "Baseline cells missing now" in result.markdown()

    def drop(report):  # type: ignore[no-untyped-def]
        metrics = report["results"][0]["metrics"]
        del metrics["macro_f1"]
        del metrics["per_class"]["QSO"]
        report["results"][1]["metrics"]["accuracy"] = float("nan")

    now = _edit(write_run(tmp_path / "now", Y, cells), drop)
    result = compare(base, now)
    verdicts = {(r["cell"].split("__")[1], r["metric"]): r["verdict"] for r in result.regressions}
    assert verdicts[("a", "macro_f1")] == "REGRESSION: missing"
    assert verdicts[("a", "recall:QSO")] == "REGRESSION: missing"
    assert verdicts[("b", "accuracy")] == "REGRESSION: NaN"
    assert result.exit_code == 1


def test_duplicate_ids_and_nan_baselines_are_bad_input(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": Y.copy()})
    dup = _edit(
        write_run(tmp_path / "dup", Y, {"m": Y.copy()}),
        lambda r: r["results"].append(r["results"][0]),
    )
    with pytest.raises(BenchError, match="appears twice"):
        compare(dup, base)
    with pytest.raises(BenchError, match="appears twice"):
        compare(base, dup)
    nan = _edit(
        write_run(tmp_path / "nan", Y, {"m": Y.copy()}),
        lambda r: r["results"][0]["metrics"].update(accuracy=float("nan")),
    )
    with pytest.raises(BenchError, match="accuracy is NaN"):
        compare(nan, base)


def test_bad_input_is_a_user_error_exit_2(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": Y.copy()})
    assert USER_ERROR_EXIT == 2
    with pytest.raises(BenchError, match="report not found"):
        compare(base, tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(BenchError, match="not a readable JSON report"):
        compare(base, broken)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**json.loads(base.read_text()), "schema": "bench.report/0"}))
    with pytest.raises(BenchError, match="expected 'bench.report/1'"):
        compare(old, base)
    with pytest.raises(BenchError, match="tolerance"):
        compare(base, base, tolerance=-0.1)


def cli_has(command: str) -> bool:
    import argparse

    from bench.cli.main import _parser

    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return command in sub.choices


@pytest.mark.skipif(not cli_has("compare"), reason="`bench compare` is not wired into the CLI")
def test_bench_compare_exit_codes(tmp_path):
    from bench.cli import main

    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(90))})
    worse = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(270))})
    assert main(["compare", str(base), str(base)]) == 0
    assert main(["compare", str(base), str(worse), "--tolerance", "0.02"]) == 1
    assert main(["compare", str(base), str(tmp_path / "missing.json")]) == 2


@pytest.mark.skipif(not cli_has("leaderboard"), reason="`bench leaderboard` is not wired")
def test_bench_leaderboard_exit_codes(tmp_path):
    from bench.cli import main

    write_run(tmp_path / "run", Y, {"m": Y.copy(), "n": with_errors(Y, np.arange(9))})
    for fmt in ("table", "md", "html", "json"):
        assert main(["leaderboard", str(tmp_path), "--format", fmt]) == 0
    assert main(["leaderboard", str(tmp_path), "--metric", "f1_macro"]) == 2


BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline" / "report.json"


def _degraded_copy(out: Path, cell_id: str, fall: float) -> Path:
    """The committed baseline with ``fall`` of one cell's test objects turned from right to
    wrong (its predictions.csv and metrics rewritten), the other cells as they were."""
    from bench.results.metrics import compute_metrics
    from bench.results.paired import read_predictions
    from bench.results.report import write_report
    from bench.store.files import write_csv

    report = json.loads(BASELINE.read_text())
    classes = report["config"]["benchmark"]["classes"]
    for r in report["results"]:
        p = read_predictions(BASELINE.parent / r["path"] / "predictions.csv", classes)
        if r["cell"]["id"] == cell_id:
            right = np.flatnonzero(p.pred == p.true)[: int(np.ceil(fall * len(p.true)))]
            wrong = (p.true[right] + 1) % len(classes)
            p.proba[right] = 0.0
            p.proba[right, wrong] = 1.0
            p.pred = p.proba.argmax(axis=1)
            r["metrics"] = compute_metrics(p.true, p.proba, classes, seed=r["cell"]["seed"])
        rows = [
            [i, classes[t], classes[k], *(f"{x:.6g}" for x in pr)]
            for i, t, k, pr in zip(p.ids, p.true, p.pred, p.proba, strict=True)
        ]
        header = ["id", "true", "predicted", *(f"p_{c}" for c in classes)]
        (out / r["path"]).mkdir(parents=True, exist_ok=True)
        write_csv(out / r["path"] / "predictions.csv", header, rows)
    return write_report(report, out)


@pytest.mark.skipif(
    not any(BASELINE.parent.glob("cells/*/predictions.csv")), reason="no baseline predictions"
)
def test_the_ci_gate_on_the_committed_baseline_catches_a_three_point_fall(tmp_path):
    """What `.ci/run` compares: a model of the quick default benchmark degraded on purpose
    by 0.03 in accuracy fails the gate at the default tolerance; the baseline passes."""
    report = json.loads(BASELINE.read_text())
    assert compare(BASELINE, BASELINE).exit_code == 0
    for r in report["results"]:
        cell = r["cell"]["id"]
        now = _degraded_copy(tmp_path / cell, cell, 0.03)
        result = compare(BASELINE, now)
        row = next(x for x in result.rows if x["cell"] == cell and x["metric"] == "accuracy")
        assert row["delta"] <= -0.03 + 1e-9 and row["test"].startswith("paired")
        assert row["regression"] and result.exit_code == 1, result.markdown()


# -- issue 27.3: a comparison that explains a mismatch before it judges ---------------


def test_quick_against_full_and_other_test_sizes_are_said_before_the_verdict(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": Y.copy(), "gone": Y.copy()}, quick=True)
    y = np.tile(np.arange(3), 100)
    now = write_run(tmp_path / "now", y, {"m": y.copy(), "new": y.copy()}, quick=False)
    result = compare(base, now)
    text = result.markdown()
    verdict_at = text.index("REGRESSION")
    for said in (
        "the baseline is a quick run and the current one a full run",
        "tested on 900 spectra in the baseline and 300 now",
        "Baseline cells missing now: toy__gone__f0.8__e3__s0",
        "Cells only in the current run (not gated): toy__new__f0.8__e3__s0",
        "(quick run, 2 cells, 2 ok)",
        "(full run, 2 cells, 2 ok)",
    ):
        assert 0 <= text.index(said) < verdict_at, said
    assert text.index("Baseline cells missing") < text.index("| cell | metric |")


def test_different_dataset_options_and_objects_are_explained(tmp_path):
    def options(n):  # type: ignore[no-untyped-def]
        return lambda r: r["config"].update(
            datasets=[{"name": "toy", "label": "toy", "params": {"n": n}}]
        )

    base = _edit(write_run(tmp_path / "base", Y, {"m": Y.copy()}), options(900))
    ids = [f"other-{i}" for i in range(len(Y))]
    now = _edit(write_run(tmp_path / "now", Y, {"m": Y.copy()}, ids=ids), options(1800))
    result = compare(base, now)
    assert "dataset 'toy' has other options: n 900 -> 1800" in result.notes
    assert any("tested different objects (0 shared" in n for n in result.notes)
    assert next(r for r in result.rows if r["metric"] == "accuracy")["test"] == "intervals"


def test_run_folders_json_and_only_changed(tmp_path, capsys):
    from bench.cli import main

    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(90)), "same": Y.copy()})
    now = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(95)), "same": Y.copy()})
    assert main(["compare", str(base.parent), str(now.parent), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 0 and len(data["rows"]) == 20
    assert data["verdict"].startswith("no regression in 2 compared cells")
    assert main(["compare", str(base.parent), str(now.parent), "--json", "--only-changed"]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert {r["cell"] for r in changed["rows"]} == {"toy__m__f0.8__e3__s0"}
    assert changed["unchanged_rows_hidden"] == 20 - len(changed["rows"]) > 0
    assert main(["compare", str(base.parent), str(now.parent), "--only-changed"]) == 0
    text = capsys.readouterr().out
    assert (
        "| toy__same__" not in text and "| toy__m__" in text and "unchanged rows not shown" in text
    )
    assert main(["compare", str(tmp_path), str(now)]) == 2  # a folder with no report.json
    assert "a folder with no report.json" in capsys.readouterr().err


def test_the_committed_baseline_says_it_is_a_quick_run(tmp_path):
    report = json.loads(BASELINE.read_text())
    assert report["config"]["quick"] is True
    result = compare(BASELINE.parent, BASELINE)
    assert result.runs["baseline"].endswith("(quick run, 4 cells, 4 ok)")
    assert result.markdown().startswith(f"baseline: {BASELINE} (quick run")
