"""report.md: validation beside test, figures across seeds, completeness and purity bins."""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest

from bench.cli import main
from bench.results.seeds import across_seeds, summarize

CONFIG = """
[benchmark]
name = "md"

[dataset]
name = "toy"
n = 150

[render]
name = "flat"

[[models]]
name = "centroid"

[protocol]
epochs = [1]
seeds = [0, 1, 2]
"""


def test_several_seeds_give_mean_spread_and_interval_beside_per_seed_values(toy_registry, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG))
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    accuracies = [r["metrics"]["accuracy"] for r in report["results"]]
    md = (out / "report.md").read_text()
    assert "## Across seeds" in md
    row = next(
        line
        for line in md.splitlines()
        if line.startswith("| toy | centroid") and "| accuracy |" in line
    )
    assert f"{np.mean(accuracies):.3f} ± {np.std(accuracies, ddof=1):.3f}" in row
    assert "s0: " in row and "s2: " in row
    # validation and test side by side, with the split sizes
    first = next(
        line for line in md.splitlines() if line.startswith("| toy__centroid__f0.8__e1__s0 |")
    )
    r = report["results"][0]
    assert f"| {r['n_train']}/{r['n_validation']}/{r['n_test']} |" in first
    assert f"{r['history']['val_accuracy'][-1]:.3f}" in first
    # completeness and purity bins with counts and intervals
    assert "against S/N" in md and re.search(
        r"\d\.\d{3} \\?\[\d\.\d{3}, \d\.\d{3}\\?\] \(n=\d+\)", md
    )


def test_seed_summary_is_a_t_interval_of_the_mean():
    s = summarize([0.80, 0.84, 0.82])
    assert s["mean"] == pytest.approx(0.82) and s["std"] == pytest.approx(0.02)
    half = 4.302653 * 0.02 / np.sqrt(3)  # t(0.975, 2 dof)
    assert s["low"] == pytest.approx(0.82 - half) and s["high"] == pytest.approx(0.82 + half)
    assert summarize([0.8])["low"] is None


def test_across_seeds_groups_cells_that_differ_only_in_seed():
    def result(model: str, seed: int, acc: float) -> dict:
        cell = {"dataset": "d", "model": model, "train_fraction": 0.8, "epochs": 1, "seed": seed}
        return {"status": "ok", "cell": cell, "metrics": {"accuracy": acc, "per_class": {}}}

    rows = across_seeds([result("a", 0, 0.7), result("a", 1, 0.9), result("b", 0, 0.5)], "accuracy")
    assert len(rows) == 1 and rows[0]["model"] == "a" and rows[0]["seeds"] == [0, 1]
