"""Completeness and purity per class against redshift, S/N and magnitude.

Bins start from fixed, physically meaningful edges (``EDGES``); neighbouring bins are
merged until every bin holds at least ``MIN_BIN_COUNT`` objects (or only one bin is left),
so no figure rests on two objects. Each bin gives its count and, per class, completeness
(recall: found / true members in the bin) and purity (precision: right / called this
class in the bin) with their counts and 95 % Wilson intervals (:func:`~bench.results.rates.wilson`,
the interval the tables and figures use for every proportion).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.results.rates import wilson

EDGES = {
    "redshift": (0.1, 0.5, 1.0, 2.1),
    "snr": (2.0, 5.0, 10.0, 20.0),
    "magnitude": (17.0, 18.0, 19.0, 20.0, 21.0),
}
NAMES = {"redshift": "z", "snr": "S/N", "magnitude": "mag"}
MIN_BIN_COUNT = 20


def merged_edges(values: np.ndarray, edges: Sequence[float], min_count: int) -> list[float]:
    """``edges`` with bins of fewer than ``min_count`` finite values merged into the
    smaller neighbour, until all bins are full enough or one is left."""
    edges = list(edges)
    while edges:
        counts = np.bincount(np.digitize(values, edges), minlength=len(edges) + 1)
        small = int(np.argmin(counts))
        if counts[small] >= min_count:
            break
        if small == 0:
            edges.pop(0)
        elif small == len(counts) - 1:
            edges.pop()
        else:  # drop the edge towards the smaller neighbour
            edges.pop(small - 1 if counts[small - 1] <= counts[small + 1] else small)
    return edges


def bin_labels(edges: Sequence[float], name: str) -> list[str]:
    """Readable labels for the half-open bins below, between and above ``edges``."""
    if not edges:
        return [f"all {name}"]
    out = [f"{name} < {edges[0]:g}"]
    out += [f"{lo:g} <= {name} < {hi:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return out + [f"{name} >= {edges[-1]:g}"]


def binned(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    values: np.ndarray,
    kind: str,
    min_count: int = MIN_BIN_COUNT,
) -> list[dict[str, Any]]:
    """Per-bin count, accuracy, and per-class completeness and purity with intervals;
    NaN values are left out (an empty list when no value is known)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != y_true.shape:
        raise BenchError(f"{kind} values: expected {len(y_true)} values, got {values.shape}")
    finite = np.isfinite(values)
    if not finite.any():
        return []
    edges = merged_edges(values[finite], EDGES[kind], min_count)
    which = np.digitize(values, edges)
    rows = []
    for b, label in enumerate(bin_labels(edges, NAMES[kind])):
        sel = finite & (which == b)
        counts = np.zeros((len(classes), len(classes)), np.int64)
        np.add.at(counts, (y_true[sel], y_pred[sel]), 1)
        rows.append(_bin_row(counts, classes, label, edges, b))
    return rows


def _bin_row(
    counts: np.ndarray, classes: Sequence[str], label: str, edges: list[float], b: int
) -> dict[str, Any]:
    tp, true_k, pred_k = np.diagonal(counts), counts.sum(axis=1), counts.sum(axis=0)
    n = int(counts.sum())

    def rate(k: int, of: np.ndarray) -> float | None:
        return round(float(tp[k] / of[k]), 6) if of[k] else None

    return {
        "bin": label,
        "low": float(edges[b - 1]) if b > 0 else None,
        "high": float(edges[b]) if b < len(edges) else None,
        "n": n,
        "accuracy": round(float(tp.sum() / n), 6) if n else None,
        "recall": {c: rate(k, true_k) for k, c in enumerate(classes)},
        "recall_interval": {c: wilson(int(tp[k]), int(true_k[k])) for k, c in enumerate(classes)},
        "support": {c: int(true_k[k]) for k, c in enumerate(classes)},
        "purity": {c: rate(k, pred_k) for k, c in enumerate(classes)},
        "purity_interval": {c: wilson(int(tp[k]), int(pred_k[k])) for k, c in enumerate(classes)},
        "n_predicted": {c: int(pred_k[k]) for k, c in enumerate(classes)},
    }
