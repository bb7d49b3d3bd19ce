"""Counting kernels shared by the metrics and the paired tests: rates from confusion
counts (any leading axes, so bootstrap draws vectorise) and per-object log-loss."""

from __future__ import annotations

import numpy as np


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
