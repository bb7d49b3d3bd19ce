"""Rank cells from any number of runs by one metric, with its interval, and mark the
entries that are not significantly better than the next on the same test set.

Two cells are compared on the test objects they share (``predictions.csv`` rows matched
by id) with a paired bootstrap of the metric difference (``paired.py``): count metrics
resample the joint predictions, ROC-AUC resamples objects and recomputes both AUCs from
the probabilities. A pair is a tie when the 95 % interval of the difference contains
zero. Cells whose run folder has no ``predictions.csv`` (a committed baseline keeps only
its reports) are ranked by value and interval alone, with no significance test.

Cells are ranked within their test set (``testsets.py``: dataset, split, quick or full
run), never across; a cell found in several runs under one cache key (a rerun that reused
it, a copied folder) is shown once. A NaN or infinite metric ranks last in its test set,
marked, and is null in JSON.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.results.metrics import AVERAGED, metric_names, metric_value
from bench.results.paired import Predictions, difference_draws, read_predictions, shared
from bench.results.report import finite_json, load_report
from bench.results.report_md import md_escape
from bench.results.seeds import group_key, summarize
from bench.results.testsets import test_set
from bench.store.rundir import REPORT_JSON, predictions_of

ALPHA = 0.05
FORMATS = ("table", "md", "html", "json")


def find_reports(paths: list[Path]) -> list[Path]:
    """report.json files named directly or found under the given folders."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.rglob(REPORT_JSON))
        elif path.exists():
            found.append(path)
        else:
            raise BenchError(f"{path}: no such report or folder")
    found = list(dict.fromkeys(p.resolve() for p in found))  # a file named twice counts once
    if not found:
        raise BenchError(f"no {REPORT_JSON} under {', '.join(map(str, paths)) or '(nothing)'}")
    return found


def paired_test(
    a: Predictions, b: Predictions, metric: str, classes: list[str], seed: int = 0
) -> dict[str, Any] | None:
    """p-value and tie flag for cell A versus cell B on their shared test objects (None
    when they were not tested on the same objects)."""
    pair = shared(a, b)
    if pair is None:
        return None
    diff = difference_draws(pair[0], pair[1], metric, classes, seed)
    if not len(diff):
        return None
    low, high = np.percentile(diff, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    p = min(1.0, 2.0 * min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0))))
    return {
        "test": "paired bootstrap" + (" of AUC" if "roc_auc" in metric else ""),
        "n_shared": len(pair[0].ids),
        "p": float(p),
        "tied": bool(low <= 0 <= high),
    }


def _cells(paths: list[Path], metric: str) -> list[dict[str, Any]]:
    entries = []
    for path in find_reports(paths):
        report = load_report(path)
        classes = list(report["config"]["benchmark"]["classes"])
        valid = metric_names(classes)
        if metric not in valid:
            raise BenchError(f"--metric: unknown metric {metric!r}; valid: {', '.join(valid)}")
        for r in report["results"]:
            if r["status"] != "ok":
                continue
            value, interval = metric_value(r["metrics"], metric)
            if value is None:
                continue
            tested_on = test_set(report, r)
            entries.append(
                {
                    "report": str(path),
                    **{
                        k: r["cell"][k]
                        for k in ("id", "dataset", "model", "train_fraction", "epochs", "seed")
                    },
                    "test_dataset": r["cell"].get("test_dataset") or "",
                    "test_set": tested_on.label,
                    "cache_key": r.get("cache_key"),
                    "runs": [str(path)],
                    "_test_key": tested_on.key,
                    "_finished": str(report["provenance"].get("finished") or ""),
                    "_group": group_key(r["cell"]),
                    "value": value,
                    "low": interval[0] if interval else None,
                    "high": interval[1] if interval else None,
                    "n_test": r.get("n_test"),
                    "_predictions": predictions_of(path, r),
                    "has_predictions": predictions_of(path, r).is_file(),
                    "_classes": tuple(classes),
                }
            )
    return entries


def _once(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per cache key (the newest run's), listing every run that holds it."""
    kept: dict[Any, tuple[int, dict[str, Any]]] = {}
    order = sorted(enumerate(entries), key=lambda ie: ie[1]["_finished"], reverse=True)
    for i, e in order:
        key = (e["cache_key"], e["_test_key"]) if e["cache_key"] else i
        if key in kept:
            kept[key][1]["runs"].append(e["report"])
        else:
            kept[key] = (i, e)
    return [e for _, e in sorted(kept.values(), key=lambda ie: ie[0])]


def leaderboard(paths: list[Path], metric: str = "macro_f1") -> list[dict[str, Any]]:
    """Ok cells of every report under ``paths`` ranked by ``metric`` (highest first)
    within each test set (``test_set`` column; the sets in order of their labels).

    Each row carries ``rank`` (within its test set), ``value`` with ``low``/``high`` (95 %
    bootstrap interval when the report has one), and ``vs_above``/``vs_leader``: the
    paired test against the row above and the leader (None when they were not tested on
    the same objects). A NaN or infinite value ranks last, with ``non_finite`` saying
    what it was and ``value`` None; ``runs`` lists the reports holding the same cell.
    """
    if metric not in AVERAGED and ":" not in metric:
        raise BenchError(
            f"--metric: unknown metric {metric!r}; valid: {', '.join(AVERAGED)} or e.g. recall:QSO"
        )
    entries = _once(_cells(paths, metric))
    _distinct_labels(entries)
    by_set: dict[str, list[dict[str, Any]]] = {}
    for e in sorted(entries, key=lambda e: e["test_set"]):
        by_set.setdefault(e["test_set"], []).append(e)
    rows: list[dict[str, Any]] = []
    cache: dict[Path, Predictions] = {}
    for members in by_set.values():
        ranked = sorted(members, key=lambda e: (not math.isfinite(e["value"]), -e["value"]))
        for i, row in enumerate(ranked):
            row["rank"] = i + 1
            comparable = i and math.isfinite(row["value"])
            row["vs_above"] = _versus(ranked[i - 1], row, metric, cache) if comparable else None
            row["vs_leader"] = _versus(ranked[0], row, metric, cache) if comparable else None
        rows += ranked
    _add_seed_summaries(rows, metric)
    for row in rows:
        row.pop("_predictions"), row.pop("_classes"), row.pop("_group")
        row.pop("_test_key"), row.pop("_finished")
        _mark_non_finite(row)
    return rows


def _distinct_labels(entries: list[dict[str, Any]]) -> None:
    """Two test sets that read alike get their key after the label."""
    keys: dict[str, set[str]] = {}
    for e in entries:
        keys.setdefault(e["test_set"], set()).add(e["_test_key"])
    for e in entries:
        if len(keys[e["test_set"]]) > 1:
            e["test_set"] += f" #{e['_test_key'][:6]}"


def _mark_non_finite(row: dict[str, Any]) -> None:
    value = row["value"]
    if not math.isfinite(value):
        row["non_finite"] = (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
        row["value"] = None
    for end in ("low", "high"):
        if row[end] is not None and not math.isfinite(row[end]):
            row[end] = None


def _add_seed_summaries(rows: list[dict[str, Any]], metric: str) -> None:
    """``across_seeds`` on each row whose cell was also run with other seeds in its report:
    mean, sd and 95 % interval of the mean over those seeds."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["report"], *row["_group"]), []).append(row)
    for members in groups.values():
        summary = summarize([m["value"] for m in members]) if len(members) > 1 else None
        for m in members:
            m["across_seeds"] = summary


def _versus(
    better: dict[str, Any], worse: dict[str, Any], metric: str, cache: dict[Path, Predictions]
) -> dict[str, Any] | None:
    if better["_classes"] != worse["_classes"]:
        return None
    classes = better["_classes"]
    for row in (better, worse):
        if not row["has_predictions"]:
            return None
        if row["_predictions"] not in cache:
            cache[row["_predictions"]] = read_predictions(row["_predictions"], classes)
    return paired_test(
        cache[better["_predictions"]], cache[worse["_predictions"]], metric, list(classes)
    )


def significance_note(rows: list[dict[str, Any]]) -> str | None:
    """A line saying which rows could not be tested for significance, if any."""
    missing = [r for r in rows if not r["has_predictions"]]
    if not missing or len(rows) < 2:
        return None
    if len(missing) == len(rows):
        return "no predictions.csv in these runs: no significance test was possible; ranks by value only"
    return (
        f"{len(missing)} of {len(rows)} cells have no predictions.csv: no significance test "
        "was possible for them"
    )


def _seeds_text(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "–"
    n, bad = summary["n_seeds"], summary.get("n_non_finite", 0)
    if n < 2:
        return f"NaN or infinite in {bad} of {n + bad} seeds: no spread"
    left_out = f", {bad} NaN or infinite left out" if bad else ""
    return (
        f"{summary['mean']:.3f} ± {summary['std']:.3f} [{summary['low']:.3f}, "
        f"{summary['high']:.3f}] ({n} seeds{left_out})"
    )


def _test_text(test: dict[str, Any] | None) -> str:
    if test is None:
        return "–"
    p = "p<0.001" if test["p"] < 0.001 else f"p={test['p']:.3f}"
    return f"{p} tie" if test["tied"] else p


def display_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows as strings: '=' marks a tie with the row above (not significantly different)."""
    out = []
    for row in rows:
        ci = f" [{row['low']:.3f}, {row['high']:.3f}]" if row["low"] is not None else ""
        above, leader = row["vs_above"], row["vs_leader"]
        value = f"{row['value']:.3f}" if row["value"] is not None else None
        runs = f" ({len(row['runs'])} runs)" if len(row["runs"]) > 1 else ""
        out.append(
            {
                "test set": str(row["test_set"]),
                "rank": f"{row['rank']}{'=' if above and above['tied'] else ''}",
                "model": str(row["model"]),
                "cell": str(row["id"]) + runs,
                "value": f"{value}{ci}" if value else f"{row['non_finite']} (ranked last)",
                "across seeds": _seeds_text(row.get("across_seeds")),
                "vs above": _test_text(above),
                "vs leader": _test_text(leader),
                "report": str(row["report"]),
            }
        )
    return out


def format_leaderboard(
    rows: list[dict[str, Any]], fmt: str = "table"
) -> str | list[dict[str, str]]:
    """``table``: display rows (dicts of strings) for the console; md/html/json: text."""
    if fmt not in FORMATS:
        raise BenchError(f"--format: unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(finite_json(rows)[0], indent=2, allow_nan=False)
    shown = display_rows(rows)
    if fmt == "table":
        return shown
    keys = list(shown[0]) if shown else ["test set", "rank", "model", "cell", "value"]
    if fmt == "md":
        lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(md_escape(r[k]) for k in keys) + " |" for r in shown]
        return "\n".join(lines) + "\n"
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(r[k])}</td>" for k in keys) + "</tr>" for r in shown
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"
