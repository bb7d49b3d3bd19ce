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
    two = summarize([0.80, 0.95])  # two seeds: the raw t interval reaches 1.35
    assert two["high"] == 1.0 and 0.0 <= two["low"] < 0.80


def test_across_seeds_groups_cells_that_differ_only_in_seed():
    def result(model: str, seed: int, acc: float) -> dict:
        cell = {"dataset": "d", "model": model, "train_fraction": 0.8, "epochs": 1, "seed": seed}
        return {"status": "ok", "cell": cell, "metrics": {"accuracy": acc, "per_class": {}}}

    rows = across_seeds([result("a", 0, 0.7), result("a", 1, 0.9), result("b", 0, 0.5)], "accuracy")
    assert len(rows) == 1 and rows[0]["model"] == "a" and rows[0]["seeds"] == [0, 1]


def test_accuracy_rises_as_coverage_falls_for_a_model_whose_sure_objects_are_right():
    """Half the objects called right with confidence 0.9, the other half guessed at 0.4:
    the 50 % it is surest of are all right, the whole set is not; a model whose
    confidence is backwards shows the opposite."""
    from bench.results.coverage import accuracy_at_coverage, curve, sentence

    rng = np.random.default_rng(5)
    y_true = rng.integers(0, 3, 200)
    guess = rng.integers(0, 3, 200)
    sure = np.arange(200) < 100
    called = np.where(sure, y_true, guess)
    proba = np.full((200, 3), 0.3)
    proba[np.arange(200), called] = np.where(sure, 0.9, 0.4)
    rows = accuracy_at_coverage(y_true, proba)
    by = {r["coverage"]: r for r in rows}
    assert [r["coverage"] for r in rows] == [1.0, 0.95, 0.9, 0.8, 0.5]
    assert by[0.5]["accuracy"] == 1.0 and by[0.5]["n"] == 100
    assert by[1.0]["accuracy"] == pytest.approx(np.mean(called == y_true))
    accuracies = [r["accuracy"] for r in rows]
    assert accuracies == sorted(accuracies) and accuracies[0] < 0.9
    assert by[0.5]["interval"][0] < 1.0 == by[0.5]["interval"][1]
    assert sentence(rows, 0.5) == "100.0 % correct on the 50 % it is surest of (confidence >= 0.90)"
    share, acc = curve(y_true, proba)
    assert share[-1] == 1.0 and acc[99] == 1.0 and acc[-1] == by[1.0]["accuracy"]
    backwards = proba.copy()
    backwards[np.arange(200), called] = np.where(sure, 0.4, 0.9)
    flipped = [r["accuracy"] for r in accuracy_at_coverage(y_true, backwards)]
    assert flipped[-1] < flipped[0]


def test_report_md_has_the_coverage_table_and_reads_as_plain_text(toy_registry, tmp_path):
    """The coverage table per model; a dataset label that is HTML lands escaped in the data
    summary line (no tag once rendered) without HTML entities in the text itself."""
    from markdown_it import MarkdownIt

    from bench.results.report_md import md_escape

    config = tmp_path / "bench.toml"
    text = textwrap.dedent(CONFIG).replace(
        'name = "toy"\n', 'name = "toy"\nlabel = "<img src=x onerror=alert(1)> & co"\n', 1
    )
    config.write_text(text.replace("seeds = [0, 1, 2]", "seeds = [0]"))
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    report = json.loads((out / "report.json").read_text())
    data_line = next(line for line in md.splitlines() if line.startswith("- "))
    assert "\\<img src=x onerror=alert(1)> & co" in data_line
    assert "&lt;" not in md and "&amp;" not in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<img" not in html and "&lt;img" in html
    for name in ("[x](javascript:alert(1))", "[x]: http://e", "`code`", "<http://e>"):
        rendered = MarkdownIt("commonmark").render(f"- {md_escape(name)}\n")
        assert "<a " not in rendered and "<code>" not in rendered
    assert "## Accuracy on the objects each model is most sure of" in md
    (ok,) = [r for r in report["results"] if r["status"] == "ok"]
    cell = md_escape(ok["cell"]["id"])
    row = next(line for line in md.splitlines() if line.startswith(f"| {cell}") and "%" in line)
    at_90 = next(r for r in ok["metrics"]["coverage"] if r["coverage"] == 0.9)
    assert f"{at_90['accuracy']:.3f} [{at_90['interval'][0]:.3f}, " in row
    assert "correct on the 90 % it is surest of" in row
    assert "1.000 [" in md  # intervals read as plain text, no backslashes
    page = (out / "report.html").read_text()
    assert 'alt="accuracy against coverage' in page


def test_paper_table_says_where_each_column_was_measured():
    from bench.results.tables import paper_data_note, paper_row

    report = {"results": [{"cell": {"dataset": "synthetic", "test_dataset": ""}}]}
    assert "real SDSS spectra" in paper_data_note(report) and "(synthetic)" in paper_data_note(
        report
    )
    assert paper_row({"train_fraction": None})["train_fraction"] == "not stated"
    assert paper_row({"train_fraction": 0.8})["train_fraction"] == "0.8"
