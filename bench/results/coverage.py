"""Accuracy against coverage (a risk-coverage curve): how often a model is right on the
share of test objects it is most sure of, so an astronomer can read "98 % correct on the
90 % it is surest of".

A model's confidence in an object is its top class probability (the ``p_*`` columns of
``predictions.csv``). Objects are ranked by it, highest first (ties keep the test order),
and at each coverage c the ``ceil(c * n)`` most confident objects are kept. A model whose
confidence means something gains accuracy as coverage falls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.results.rates import wilson

COVERAGES = (1.0, 0.95, 0.9, 0.8, 0.5)


def ranked_hits(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each object is called right, and its confidence, most confident first."""
    proba = np.asarray(proba, dtype=np.float64)
    confidence = proba.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    hits = np.argmax(proba, axis=1) == np.asarray(y_true)
    return hits[order], confidence[order]


def accuracy_at_coverage(
    y_true: np.ndarray, proba: np.ndarray, coverages: Sequence[float] = COVERAGES
) -> list[dict[str, Any]]:
    """Per coverage: objects kept, accuracy on them with its Wilson interval, and the
    lowest confidence kept (empty for no objects)."""
    hits, confidence = ranked_hits(y_true, proba)
    n = len(hits)
    rows = []
    for c in coverages if n else ():
        k = max(1, math.ceil(c * n - 1e-9))
        right = int(hits[:k].sum())
        rows.append(
            {
                "coverage": float(c),
                "n": k,
                "accuracy": round(right / k, 6),
                "interval": wilson(right, k),
                "min_confidence": round(float(confidence[k - 1]), 6),
            }
        )
    return rows


def curve(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (k / n) and accuracy on the k most confident objects, for every k."""
    hits, _ = ranked_hits(y_true, proba)
    k = np.arange(1, len(hits) + 1)
    return k / max(len(hits), 1), np.cumsum(hits) / k


def sentence(rows: Sequence[dict[str, Any]], coverage: float = 0.9) -> str | None:
    """E.g. "98.0 % correct on the 90 % it is surest of (confidence >= 0.87)"."""
    row = next((r for r in rows if math.isclose(r["coverage"], coverage)), None)
    if row is None:
        return None
    return (
        f"{100 * row['accuracy']:.1f} % correct on the {100 * coverage:.0f} % it is surest of "
        f"(confidence >= {row['min_confidence']:.2f})"
    )
