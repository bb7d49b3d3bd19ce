"""The CI regression gate: two report.json files compared cell by cell.

A metric regresses when it fell by more than the tolerance AND by more than the baseline's
own 95 % interval allows (the current value lies below the interval's lower bound), so
test-set noise alone does not fail CI. A cell that was ok in the baseline and failed now
is a regression too. Exit codes: 0 no regression, 1 regressions, 2 bad input (BenchError).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.results.metrics import metric_value
from bench.results.report import load_report, md_escape

DEFAULT_TOLERANCE = 0.02
HEADLINE = ("accuracy", "macro_f1")


@dataclass
class CompareResult:
    """Every compared metric (``rows``), cells that failed now, cells on one side only."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    newly_failed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the baseline only
    added: list[str] = field(default_factory=list)  # in the current run only

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["regression"]]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions or self.newly_failed else 0

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
        """The regressions (or a one-line all-clear) as Markdown."""
        lines = []
        if self.newly_failed:
            lines.append(
                "Cells ok in the baseline that failed now: "
                + ", ".join(map(md_escape, self.newly_failed))
            )
        if self.regressions:
            lines += [
                "| cell | metric | baseline | current | change | allowed |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {md_escape(r['cell'])} | {md_escape(r['metric'])} | {r['baseline']:.4f} | "
                f"{r['current']:.4f} | "
                f"{r['delta']:+.4f} | -{r['allowed']:.4f} |"
                for r in self.regressions
            ]
        if not lines:
            lines.append(f"no regression in {len({r['cell'] for r in self.rows})} common cells")
        return "\n".join(lines) + "\n"


def _metrics_for(metrics: dict[str, Any]) -> list[str]:
    return [*HEADLINE, *(f"recall:{c}" for c in metrics["per_class"])]


def compare(baseline: Path, current: Path, tolerance: float = DEFAULT_TOLERANCE) -> CompareResult:
    """Compare ``current`` against ``baseline``; BenchError on unreadable input or no common cells."""
    if not 0.0 <= tolerance < 1.0:
        raise BenchError(f"--tolerance: {tolerance} is not between 0 and 1")
    base = {r["cell"]["id"]: r for r in load_report(Path(baseline))["results"]}
    now = {r["cell"]["id"]: r for r in load_report(Path(current))["results"]}
    common = [cell for cell in base if cell in now]
    if not common:
        raise BenchError(
            f"{current}: no cell in common with {baseline} (cell ids differ: compare runs of the "
            "same config)"
        )
    result = CompareResult(
        missing=[c for c in base if c not in now], added=[c for c in now if c not in base]
    )
    for cell in common:
        old, new = base[cell], now[cell]
        if old["status"] != "ok":
            continue
        if new["status"] != "ok":
            result.newly_failed.append(cell)
            continue
        for name in _metrics_for(old["metrics"]):
            if name.split(":")[-1] not in new["metrics"]["per_class"] and ":" in name:
                continue
            before, interval = metric_value(old["metrics"], name)
            after, _ = metric_value(new["metrics"], name)
            if before is None or after is None:
                continue
            noise = before - interval[0] if interval else 0.0
            allowed = max(tolerance, noise)
            result.rows.append(
                {
                    "cell": cell,
                    "metric": name,
                    "baseline": before,
                    "current": after,
                    "delta": after - before,
                    "allowed": allowed,
                    "regression": before - after > allowed + 1e-12,
                }
            )
    return result
