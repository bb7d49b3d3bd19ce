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
a regression; duplicate cell ids, or a NaN in the baseline, are bad input.

Before judging it explains what differs (``testsets.py``: quick against full runs, other
dataset options or test sizes, cells on one side only), and it refuses to judge on
nothing: no cell ok on both sides is bad input, as is a report whose metrics are not what
its ``predictions.csv`` gives (``paired.check_agreement``). Either argument may be a run
folder. Exit codes: 0 no regression, 1 regressions, 2 bad input (BenchError).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.results.paired import (
    Predictions,
    check_agreement,
    difference_draws,
    read_predictions,
    shared,
)
from bench.results.report import finite_json, load_report
from bench.results.report_md import md_escape
from bench.results.testsets import config_differences, run_kind
from bench.store.rundir import REPORT_JSON, predictions_of

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
    """Every compared metric (``rows``), the cells that are regressions as a whole, and
    what differs between the two runs (``notes``, said before the verdict)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    newly_failed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the baseline only
    added: list[str] = field(default_factory=list)  # in the current run only
    notes: list[str] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)  # "baseline"/"current": a line each

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["regression"]]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions or self.newly_failed or self.missing else 0

    def shown_rows(self, only_changed: bool = False) -> list[dict[str, Any]]:
        """Every row, or only those whose value changed or that are not ``ok``."""
        if not only_changed:
            return self.rows
        return [r for r in self.rows if not r["verdict"].startswith("ok") or r["delta"] != 0.0]

    def to_json(self, only_changed: bool = False) -> str:
        """The result as strict JSON (a NaN or infinite value is null)."""
        rows = self.shown_rows(only_changed)
        data = {
            "exit_code": self.exit_code,
            "verdict": self.verdict(),
            "runs": self.runs,
            "notes": self.notes,
            "rows": rows,
            "unchanged_rows_hidden": len(self.rows) - len(rows),
            "newly_failed": self.newly_failed,
            "missing": self.missing,
            "added": self.added,
        }
        return json.dumps(finite_json(data)[0], indent=2, allow_nan=False)

    def markdown(self, only_changed: bool = False) -> str:
        """What differs, the table, the cell-level problems, and the verdict with the
        gate's power."""
        lines = [f"{k}: {md_escape(v)}" for k, v in self.runs.items()]
        lines += [f"- note: {md_escape(n)}" for n in self.notes]
        if self.missing:
            lines.append("- Baseline cells missing now: " + ", ".join(map(md_escape, self.missing)))
        if self.added:
            lines.append(
                "- Cells only in the current run (not gated): "
                + ", ".join(map(md_escape, self.added))
            )
        head = "| cell | metric | baseline | current | change | test | fails beyond | detectable | verdict |"
        lines += ["", head, "|---|---|---|---|---|---|---|---|---|"]
        rows = self.shown_rows(only_changed)
        for r in rows:
            lines.append(
                f"| {md_escape(r['cell'])} | {md_escape(r['metric'])} | {_num(r['baseline'])} | "
                f"{_num(r['current'])} | "
                f"{_num(r['delta'], '+.4f')} | {r['test']} | {_num(r['allowed'])} | "
                f"{_num(r['detectable'])} | {r['verdict']} |"
            )
        if len(rows) < len(self.rows):
            lines.append(f"\n{len(self.rows) - len(rows)} unchanged rows not shown")
        if self.newly_failed:
            lines.append(
                "\nCells ok in the baseline that failed now: "
                + ", ".join(map(md_escape, self.newly_failed))
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


@dataclass
class _Run:
    """One side of the comparison: its report, results by cell id, predictions read once."""

    path: Path
    report: dict[str, Any]
    by_id: dict[str, dict[str, Any]]
    classes: list[str]
    _predictions: dict[str, Predictions | None] = field(default_factory=dict)

    def predictions(self, cell: str) -> Predictions | None:
        """The cell's predictions.csv (None when the run kept none), checked against the
        report's metrics the first time it is read."""
        if cell not in self._predictions:
            result = self.by_id[cell]
            csv_path = predictions_of(self.path, result)
            p = read_predictions(csv_path, self.classes) if csv_path.is_file() else None
            if p is not None:
                check_agreement(str(self.path), result, p, self.classes)
            self._predictions[cell] = p
        return self._predictions[cell]

    def describe(self) -> str:
        s = self.report["summary"]
        return f"{self.path} ({run_kind(self.report)} run, {s['n_cells']} cells, {s['ok']} ok)"


def report_path(path: Path) -> Path:
    """``path`` itself, or the report.json of the run folder ``path``."""
    path = Path(path)
    if path.is_dir():
        if not (path / REPORT_JSON).is_file():
            raise BenchError(f"{path}: a folder with no {REPORT_JSON}; expected a run folder")
        return path / REPORT_JSON
    return path


def _load(path: Path) -> _Run:
    path = report_path(path)
    report = load_report(path)
    by_id: dict[str, dict[str, Any]] = {}
    for r in report["results"]:
        if r["cell"]["id"] in by_id:
            raise BenchError(f"{path}: cell id {r['cell']['id']!r} appears twice")
        by_id[r["cell"]["id"]] = r
    return _Run(path, report, by_id, list(report["config"]["benchmark"]["classes"]))


def compare(baseline: Path, current: Path, tolerance: float = DEFAULT_TOLERANCE) -> CompareResult:
    """Compare ``current`` against ``baseline`` (BenchError on unreadable input, or when
    no cell is ok on both sides)."""
    if not 0.0 <= tolerance < 1.0:
        raise BenchError(f"--tolerance: {tolerance} is not between 0 and 1")
    base, now = _load(baseline), _load(current)
    result = CompareResult(added=[c for c in now.by_id if c not in base.by_id])
    result.runs = {"baseline": base.describe(), "current": now.describe()}
    result.notes = config_differences(base.report, now.report)
    judged = _comparable(base, now)
    if not judged:
        raise BenchError(nothing_to_judge(base, now, result.notes))
    for cell, old in base.by_id.items():
        new = now.by_id.get(cell)
        if old["status"] != "ok":
            continue
        if new is None:
            result.missing.append(cell)
        elif new["status"] != "ok":
            result.newly_failed.append(cell)
    result.notes += _test_size_notes(base, now, judged)
    for cell in judged:
        old, new = base.by_id[cell], now.by_id[cell]
        pair = _paired(base, now, cell, result.notes)
        for metric in gated_metrics(old["metrics"]):
            result.rows.append(
                _row(cell, metric, old, new, pair, base.classes, tolerance, base.path)
            )
    return result


def _comparable(base: _Run, now: _Run) -> list[str]:
    """Cells ok on both sides, in the baseline's order."""
    return [
        c
        for c, r in base.by_id.items()
        if r["status"] == "ok" and now.by_id.get(c, {}).get("status") == "ok"
    ]


def nothing_to_judge(base: _Run, now: _Run, notes: list[str]) -> str:
    """Why no cell can be compared: one sentence for the error line."""
    reason = "no cell is ok in both runs"
    for name, run in (("baseline", base), ("current report", now)):
        if not run.by_id:
            reason = f"the {name} {run.path} has no cells"
            break
        if all(r["status"] != "ok" for r in run.by_id.values()):
            reason = f"every cell of the {name} {run.path} failed ({len(run.by_id)} cells)"
            break
    else:
        if not set(base.by_id) & set(now.by_id):
            reason = (
                f"no cell in common: the baseline has {_few(base.by_id)}, the current run "
                f"{_few(now.by_id)}"
            )
    why = f" ({'; '.join(notes)})" if notes else ""
    return f"nothing to compare: {reason}{why}; the gate does not pass on no evidence"


def _few(names: dict[str, Any], limit: int = 3) -> str:
    shown = ", ".join(list(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _test_size_notes(base: _Run, now: _Run, cells: list[str]) -> list[str]:
    """One note per distinct change of test size among the compared cells."""
    changes: dict[tuple[Any, Any], list[str]] = {}
    for cell in cells:
        sizes = base.by_id[cell].get("n_test"), now.by_id[cell].get("n_test")
        if sizes[0] != sizes[1]:
            changes.setdefault(sizes, []).append(cell)
    return [
        f"{len(c)} cell(s) were tested on {old} spectra in the baseline and {new} now "
        f"({_few(dict.fromkeys(c))}): not the same test set"
        for (old, new), c in changes.items()
    ]


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
    base: _Run, now: _Run, cell: str, notes: list[str]
) -> tuple[Predictions, Predictions] | None:
    """Both sides on their shared test objects, when both kept predictions for (mostly)
    the same objects; a note when they did not."""
    old, new = base.predictions(cell), now.predictions(cell)
    if old is None or new is None:
        return None
    pair = shared(old, new)
    if pair is None:
        common = len(set(old.ids.tolist()) & set(new.ids.tolist()))
        notes.append(
            f"{cell}: the two runs tested different objects ({common} shared of "
            f"{len(old.ids)} and {len(new.ids)}); judged from the intervals"
        )
    return pair


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
