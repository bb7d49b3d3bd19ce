"""The CI regression gate: two report.json files compared cell by cell.

Every metric (accuracy, macro F1, ROC-AUC, log loss, per-class recall and precision) is
compared in its own direction (names with ``loss`` or ``error`` are better lower); all
but log loss, whose scale is not a rate's, are gated. A fall is a regression when it
exceeds the tolerance AND is significant at 5 % (one-sided):

- paired, when both runs kept ``predictions.csv`` for the same test objects: the
  bootstrap distribution of the difference on those objects (``paired.py``);
- otherwise from the two runs' 95 % intervals (standard errors added in quadrature).

Each row states the smallest fall the gate could detect at this test size (80 % power).
A baseline cell that is missing now, failed now, or whose metric is missing or NaN now is
a regression; duplicate cell ids, or a NaN in the baseline, are bad input. Exit codes:
0 no regression, 1 regressions, 2 bad input (BenchError).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.results.paired import Predictions, difference_draws, read_predictions, shared
from bench.results.report import load_report
from bench.results.report_md import md_escape
from bench.store.rundir import predictions_of

DEFAULT_TOLERANCE = 0.02
HEADLINE = ("accuracy", "macro_f1", "roc_auc", "log_loss")
NOT_GATED = ("log_loss",)  # shown and tested, but the tolerance is in units of a rate
PER_CLASS = ("recall", "precision")
Z_ALPHA, Z_POWER = 1.645, 0.842  # one-sided 5 %, 80 % power


def lower_is_better(metric: str) -> bool:
    """Losses and error rates fall when a model improves."""
    return any(word in metric for word in ("loss", "error"))


@dataclass
class CompareResult:
    """Every compared metric (``rows``) and the cells that are regressions as a whole."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    newly_failed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the baseline only
    added: list[str] = field(default_factory=list)  # in the current run only

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["regression"]]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions or self.newly_failed or self.missing else 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "exit_code": self.exit_code,
                "rows": self.rows,
                "newly_failed": self.newly_failed,
                "missing": self.missing,
                "added": self.added,
            },
            indent=2,
        )

    def markdown(self) -> str:
        """The full table, the cell-level problems, and the verdict with the gate's power."""
        head = "| cell | metric | baseline | current | change | test | fails beyond | detectable | verdict |"
        lines = [head, "|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(
                f"| {md_escape(r['cell'])} | {md_escape(r['metric'])} | {_num(r['baseline'])} | "
                f"{_num(r['current'])} | "
                f"{_num(r['delta'], '+.4f')} | {r['test']} | {_num(r['allowed'])} | "
                f"{_num(r['detectable'])} | {r['verdict']} |"
            )
        if self.missing:
            lines.append("\nBaseline cells missing now: " + ", ".join(map(md_escape, self.missing)))
        if self.newly_failed:
            lines.append(
                "\nCells ok in the baseline that failed now: "
                + ", ".join(map(md_escape, self.newly_failed))
            )
        if self.added:
            lines.append(
                "\nCells only in the current run (not gated): "
                + ", ".join(map(md_escape, self.added))
            )
        lines.append("\n" + self.verdict())
        return "\n".join(lines) + "\n"

    def verdict(self) -> str:
        acc = [r for r in self.rows if r["metric"] == "accuracy" and r["detectable"] is not None]
        power = ""
        if acc:
            worst = max(acc, key=lambda r: r["detectable"])
            power = (
                f"; the smallest accuracy fall this gate detects (80 % power) is "
                f"{worst['detectable']:.3f} at {worst['n_test']} test spectra ({worst['test']})"
            )
        cells = len({r["cell"] for r in self.rows})
        if self.exit_code:
            n = len(self.regressions) + len(self.newly_failed) + len(self.missing)
            return f"REGRESSION: {n} problem(s) in {cells} compared cells{power}"
        return f"no regression in {cells} compared cells{power}"


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "–" if value is None else format(value, fmt)


def _results(path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    report = load_report(Path(path))
    by_id: dict[str, dict[str, Any]] = {}
    for r in report["results"]:
        if r["cell"]["id"] in by_id:
            raise BenchError(f"{path}: cell id {r['cell']['id']!r} appears twice")
        by_id[r["cell"]["id"]] = r
    return by_id, list(report["config"]["benchmark"]["classes"])


def compare(baseline: Path, current: Path, tolerance: float = DEFAULT_TOLERANCE) -> CompareResult:
    """Compare ``current`` against ``baseline`` (BenchError on unreadable input)."""
    if not 0.0 <= tolerance < 1.0:
        raise BenchError(f"--tolerance: {tolerance} is not between 0 and 1")
    base, classes = _results(baseline)
    now, _ = _results(current)
    result = CompareResult(added=[c for c in now if c not in base])
    for cell, old in base.items():
        if old["status"] != "ok":
            continue
        new = now.get(cell)
        if new is None:
            result.missing.append(cell)
        elif new["status"] != "ok":
            result.newly_failed.append(cell)
        else:
            pair = _paired(Path(baseline), old, Path(current), new, classes)
            for metric in gated_metrics(old["metrics"]):
                result.rows.append(_row(cell, metric, old, new, pair, classes, tolerance, baseline))
    return result


def gated_metrics(metrics: dict[str, Any]) -> list[str]:
    """The metrics a baseline cell is gated on (those it has a value for)."""
    names = [m for m in HEADLINE if metrics.get(m) is not None]
    for cls, values in metrics["per_class"].items():
        names += [f"{m}:{cls}" for m in PER_CLASS if values.get(m) is not None]
    return names


def value_of(metrics: dict[str, Any], name: str) -> tuple[float | None, list[float] | None]:
    """A metric's value (None when missing) and its 95 % interval when the report has one."""
    intervals = metrics.get("intervals") or {}
    if ":" in name:
        kind, cls = name.split(":", 1)
        value = (metrics.get("per_class") or {}).get(cls, {}).get(kind)
        interval = (intervals.get(kind) or {}).get(cls)
    else:
        value, interval = metrics.get(name), intervals.get(name)
    return (None if value is None else float(value)), interval


def _paired(
    base_path: Path, old: dict[str, Any], now_path: Path, new: dict[str, Any], classes: list[str]
) -> tuple[Predictions, Predictions] | None:
    files = predictions_of(base_path, old), predictions_of(now_path, new)
    if not all(f.is_file() for f in files):
        return None
    return shared(read_predictions(files[0], classes), read_predictions(files[1], classes))


def _row(
    cell: str,
    metric: str,
    old: dict[str, Any],
    new: dict[str, Any],
    pair: tuple[Predictions, Predictions] | None,
    classes: list[str],
    tolerance: float,
    baseline: Path,
) -> dict[str, Any]:
    before, before_ci = value_of(old["metrics"], metric)
    after, after_ci = value_of(new["metrics"], metric)
    if before is None or math.isnan(before):
        raise BenchError(f"{baseline}: {cell} {metric} is NaN")
    row = {"cell": cell, "metric": metric, "baseline": before, "current": after, "delta": None}
    row |= {"n_test": new.get("n_test"), "test": "–", "allowed": None, "detectable": None}
    if after is None or math.isnan(after):
        return row | {
            "regression": True,
            "verdict": "REGRESSION: missing" if after is None else "REGRESSION: NaN",
        }
    sign = -1.0 if lower_is_better(metric) else 1.0
    fall = sign * (before - after)
    if pair is not None:
        diff = sign * difference_draws(pair[0], pair[1], metric, classes)  # current - baseline
        counted = "roc_auc" not in metric and metric != "log_loss"
        se = max(float(np.std(diff)), 1.5 / len(pair[0].ids) if counted else 0.0)
        significant = bool(len(diff)) and float(np.percentile(diff, 95)) < 0
        test = f"paired ({len(pair[0].ids)} objects)"
    else:
        se = math.hypot(_se(before_ci, before, old), _se(after_ci, after, new))
        significant = fall > Z_ALPHA * se
        test = "intervals" if se else "tolerance only"
    worse = fall > tolerance + 1e-12 and significant
    regression = worse and metric not in NOT_GATED
    verdict = "REGRESSION" if regression else "ok"
    if metric in NOT_GATED:
        verdict = "worse (not gated)" if worse else "ok (not gated)"
    return row | {
        "delta": after - before,
        "test": test,
        "allowed": max(tolerance, Z_ALPHA * se),
        "detectable": max(tolerance, (Z_ALPHA + Z_POWER) * se),
        "regression": regression,
        "verdict": verdict,
    }


def _se(interval: list[float] | None, value: float, result: dict[str, Any]) -> float:
    """Standard error from a 95 % interval, else binomial on the test size (0 for a loss)."""
    if interval:
        return (interval[1] - interval[0]) / (2 * 1.96)
    n = result.get("n_test") or 0
    return math.sqrt(value * (1 - value) / n) if n and 0 <= value <= 1 else 0.0
