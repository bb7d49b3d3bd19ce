"""Counting kernels shared by the metrics and the paired tests: rates from confusion
counts (any leading axes, so bootstrap draws vectorise), per-object log-loss, and the
interval of a proportion (Wilson score) every table and figure uses."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959964


def wilson(k: int, n: int, z: float = Z95) -> list[float] | None:
    """Wilson score interval of a proportion k/n (None when n is 0): never zero-width,
    [0.510, 1.000] for 4 of 4."""
    if n == 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


def clip_unit(low: float, high: float) -> list[float]:
    """An interval of a quantity that lives in [0, 1], clipped to it."""
    return [round(min(max(low, 0.0), 1.0), 6), round(min(max(high, 0.0), 1.0), 6)]


def object_log_loss(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each object's cross-entropy -log p(true class), probabilities clipped at 1e-15."""
    p = np.clip(proba[np.arange(len(y_true)), y_true], 1e-15, 1.0)
    return np.asarray(-np.log(p), dtype=np.float64)


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, per-class recall/precision/F1 from (..., K, K) counts (NaN when undefined)."""
    tp = np.diagonal(counts, axis1=-2, axis2=-1).astype(np.float64)
    true_k = counts.sum(axis=-1)
    pred_k = counts.sum(axis=-2)
    total = counts.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / true_k
        precision = tp / pred_k
        denom = true_k + pred_k
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
        accuracy = tp.sum(axis=-1) / total
    return {"accuracy": accuracy, "recall": recall, "precision": precision, "f1": f1}
