"""Rank cells from any number of runs by one metric, with its interval, and mark the
entries that are not significantly better than the next on the same test set.

Two cells are compared on the test objects they share (``predictions.csv`` rows matched
by id) with a paired bootstrap of the metric difference: the joint (true, predicted by A,
predicted by B) counts are resampled as one multinomial draw, so 2000 draws cost
microseconds. A pair is a tie when the 95 % interval of the difference contains zero.
Metrics that need probabilities (ROC-AUC) use an exact McNemar test on correctness.
"""

from __future__ import annotations

import csv
import json
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.results.metrics import AVERAGED, metric_names, metric_value, rates
from bench.results.report import load_report, md_escape
from bench.run.rundir import REPORT_JSON, predictions_of

N_DRAWS = 2000
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


def predictions(csv_path: Path, classes: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """id -> (true, predicted) class index from a cell's predictions.csv."""
    index = {c: k for k, c in enumerate(classes)}
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            return {
                row["id"]: (index[row["true"]], index[row["predicted"]])
                for row in csv.DictReader(fh)
            }
    except (OSError, KeyError) as exc:
        raise BenchError(f"{csv_path}: not a readable predictions.csv ({exc})") from None


def metric_from_counts(counts: np.ndarray, metric: str, classes: list[str]) -> np.ndarray:
    """``metric`` for confusion counts of shape (..., K, K), as point estimates report it."""
    r = {k: np.nan_to_num(v) for k, v in rates(counts).items()}
    true_k = counts.sum(axis=-1)
    if metric == "accuracy":
        return r["accuracy"]
    if metric.startswith(("macro_", "weighted_")):
        kind, name = metric.split("_", 1)
        per = r[name]
        if kind == "macro":
            return per.mean(axis=-1)
        return (per * true_k).sum(axis=-1) / np.maximum(true_k.sum(axis=-1), 1)
    name, cls = metric.split(":", 1)
    k = classes.index(cls)
    if name == "accuracy":
        total = counts.sum(axis=(-2, -1))
        tp = counts[..., k, k]
        return (total - true_k[..., k] - counts[..., :, k].sum(axis=-1) + 2 * tp) / total
    return r[name][..., k]


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs as a fair binomial."""
    n = only_a + only_b
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_test(
    a: dict[str, tuple[int, int]],
    b: dict[str, tuple[int, int]],
    metric: str,
    classes: list[str],
    seed: int = 0,
) -> dict[str, Any] | None:
    """p-value and tie flag for cell A versus cell B on their shared test objects."""
    shared = sorted(a.keys() & b.keys())
    if len(shared) < 0.5 * max(len(a), len(b)) or not shared:
        return None  # not the same test set
    k = len(classes)
    true = np.array([a[i][0] for i in shared])
    pa, pb = np.array([a[i][1] for i in shared]), np.array([b[i][1] for i in shared])
    if "roc_auc" in metric:
        only_a = int(((pa == true) & (pb != true)).sum())
        only_b = int(((pa != true) & (pb == true)).sum())
        p = mcnemar_exact(only_a, only_b)
        return {"test": "McNemar exact", "n_shared": len(shared), "p": p, "tied": p >= ALPHA}
    cells = np.bincount((true * k + pa) * k + pb, minlength=k**3)
    rng = np.random.default_rng(seed)
    joint = rng.multinomial(len(shared), cells / len(shared), size=N_DRAWS).reshape(-1, k, k, k)
    diff = metric_from_counts(joint.sum(axis=3), metric, classes) - metric_from_counts(
        joint.sum(axis=2), metric, classes
    )
    diff = diff[np.isfinite(diff)]
    low, high = np.percentile(diff, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    p = min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0)))
    return {
        "test": "paired bootstrap",
        "n_shared": len(shared),
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
            entries.append(
                {
                    "report": str(path),
                    **{
                        k: r["cell"][k]
                        for k in ("id", "dataset", "model", "train_fraction", "epochs", "seed")
                    },
                    "value": value,
                    "low": interval[0] if interval else None,
                    "high": interval[1] if interval else None,
                    "n_test": r.get("n_test"),
                    "_predictions": predictions_of(path, r),
                    "_classes": tuple(classes),
                }
            )
    return entries


def leaderboard(paths: list[Path], metric: str = "macro_f1") -> list[dict[str, Any]]:
    """Ok cells of every report under ``paths`` ranked by ``metric`` (highest first).

    Each row carries ``rank``, ``value`` with ``low``/``high`` (95 % bootstrap interval when
    the report has one), and ``vs_above``/``vs_leader``: the paired test against the row
    above and the leader (None when they were not tested on the same objects).
    """
    if metric not in AVERAGED and ":" not in metric:
        raise BenchError(
            f"--metric: unknown metric {metric!r}; valid: {', '.join(AVERAGED)} or e.g. recall:QSO"
        )
    rows = sorted(_cells(paths, metric), key=lambda e: -e["value"])
    cache: dict[Path, dict[str, tuple[int, int]]] = {}
    for i, row in enumerate(rows):
        row["rank"] = i + 1
        row["vs_above"] = _versus(rows[i - 1], row, metric, cache) if i else None
        row["vs_leader"] = _versus(rows[0], row, metric, cache) if i else None
    for row in rows:
        row.pop("_predictions"), row.pop("_classes")
    return rows


def _versus(
    better: dict[str, Any], worse: dict[str, Any], metric: str, cache: dict[Path, Any]
) -> dict[str, Any] | None:
    if better["_classes"] != worse["_classes"]:
        return None
    classes = better["_classes"]
    for row in (better, worse):
        if row["_predictions"] not in cache:
            cache[row["_predictions"]] = predictions(row["_predictions"], classes)
    return paired_test(
        cache[better["_predictions"]], cache[worse["_predictions"]], metric, list(classes)
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
        out.append(
            {
                "rank": f"{row['rank']}{'=' if above and above['tied'] else ''}",
                "model": str(row["model"]),
                "cell": str(row["id"]),
                "value": f"{row['value']:.3f}{ci}",
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
        return json.dumps(rows, indent=2)
    shown = display_rows(rows)
    if fmt == "table":
        return shown
    keys = list(shown[0]) if shown else ["rank", "model", "cell", "value"]
    if fmt == "md":
        lines = ["| " + " | ".join(map(md_escape, keys)) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(md_escape(r[k]) for k in keys) + " |" for r in shown]
        return "\n".join(lines) + "\n"
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(r[k])}</td>" for k in keys) + "</tr>" for r in shown
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"
