"""The CI gate: exit 0 (no regression), 1 (regression, with which), 2 (bad input)."""

from __future__ import annotations

import json

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
        "accuracy",
        "macro_f1",
        "recall:STAR",
        "recall:GALAXY",
        "recall:QSO",
    }
    slightly = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(99))})
    assert compare(base, slightly, tolerance=0.02).exit_code == 0


def test_a_drop_beyond_tolerance_and_interval_is_a_regression(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": with_errors(Y, np.arange(90)), "ok": Y.copy()})
    worse = write_run(tmp_path / "now", Y, {"m": with_errors(Y, np.arange(270)), "ok": Y.copy()})
    result = compare(base, worse, tolerance=0.02)
    assert result.exit_code == 1
    regressed = {(r["cell"], r["metric"]) for r in result.regressions}
    assert ("toy__m__f0.8__e3__s0", "accuracy") in regressed
    assert not any("__ok__" in cell for cell, _ in regressed)
    assert "toy__m__f0.8__e3__s0 | accuracy" in result.markdown()
    assert json.loads(result.to_json())["exit_code"] == 1


def test_a_drop_within_the_interval_of_a_small_test_set_is_noise(tmp_path):
    # 30 objects: one more error is a 3.3 % drop, more than the tolerance but well inside
    # the baseline's bootstrap interval
    y = np.tile(np.arange(3), 10)
    base = write_run(tmp_path / "base", y, {"m": with_errors(y, np.arange(3))})
    now = write_run(tmp_path / "now", y, {"m": with_errors(y, np.arange(4))})
    result = compare(base, now, tolerance=0.02)
    row = next(r for r in result.rows if r["metric"] == "accuracy")
    assert row["delta"] < -0.02 and row["allowed"] > -row["delta"]
    assert result.exit_code == 0


def test_a_cell_that_fails_now_is_a_regression(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": Y.copy(), "n": Y.copy()})
    now = write_run(tmp_path / "now", Y, {"n": Y.copy()}, failed={"m": "out of memory"})
    result = compare(base, now)
    assert result.exit_code == 1 and result.newly_failed == ["toy__m__f0.8__e3__s0"]


def test_bad_input_is_a_user_error_exit_2(tmp_path):
    base = write_run(tmp_path / "base", Y, {"m": Y.copy()})
    other = write_run(tmp_path / "other", Y, {"m": Y.copy()}, fraction=0.6)
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
    with pytest.raises(BenchError, match="no cell in common"):
        compare(base, other)
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
