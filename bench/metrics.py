"""Classification metrics from scikit-learn, as plain JSON-able data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def compute_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Overall and per-class metrics for integer labels ``y_true`` and probabilities ``proba``.

    Per-class ``accuracy`` is one-vs-rest, as in the paper: the fraction of test objects
    correctly called "this class" or "not this class".
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = np.arange(len(classes))
    y_pred = np.argmax(proba, axis=1)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    total = counts.sum()
    per_class = {}
    for k, name in enumerate(classes):
        tp = counts[k, k]
        tn = total - counts[k, :].sum() - counts[:, k].sum() + tp
        per_class[name] = {
            "accuracy": float((tp + tn) / total) if total else 0.0,
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "support": int(support[k]),
        }
    row_sums = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, row_sums, out=np.zeros(counts.shape), where=row_sums > 0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(np.mean(f1)),
        "per_class": per_class,
        "confusion_matrix": {
            "labels": list(classes),
            "counts": counts.tolist(),
            "normalized": normalized.round(6).tolist(),
        },
    }
