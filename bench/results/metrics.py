"""Classification metrics from scikit-learn, as plain JSON-able data.

Point estimates come from ``sklearn.metrics``. Intervals, one method per quantity, the
single source for every table and figure: a proportion of objects (accuracy, recall,
precision, completeness, purity) gets its 95 % Wilson score interval (never zero-width:
4 of 4 reads [0.510, 1.000]); anything else (macro F1, ROC-AUC) a percentile bootstrap,
clipped to [0, 1]. The bootstrap resamples the test objects as one multinomial draw of
confusion matrices and turns all of them into rates at once (scikit-learn per draw would
take ~1000x longer); ``tests/test_metrics.py`` checks that :func:`rates` agrees with
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.results.bins import binned
from bench.results.coverage import accuracy_at_coverage
from bench.results.rates import clip_unit, object_log_loss, rates, wilson

N_BOOTSTRAP = 1000
METHOD = "Wilson score for proportions (accuracy, recall, precision); percentile bootstrap"
METHOD += " for macro F1 and ROC-AUC, clipped to [0, 1]"
PROPORTIONS = ("recall", "precision")  # per-class metrics that are a share of objects
CONFIDENCE = 0.95
AVERAGED = ("accuracy", "macro_f1", "macro_precision", "macro_recall", "weighted_f1", "roc_auc")
PER_CLASS = ("recall", "precision", "f1", "accuracy", "roc_auc")


def compute_metrics(
    y_true: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    redshift: np.ndarray | None = None,
    snr: np.ndarray | None = None,
    seed: int = 0,
    magnitude: np.ndarray | None = None,
) -> dict[str, Any]:
    """Overall and per-class metrics for integer labels and probabilities; per-class
    ``accuracy`` is one-vs-rest as in the paper; ``coverage``: accuracy on the objects
    the model is most sure of (:mod:`bench.results.coverage`); undefined values are
    ``None``."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.arange(len(classes))
    y_pred = np.argmax(proba, axis=1) if len(proba) else np.zeros(0, np.int64)
    cm = confusion(y_true, y_pred, len(classes))
    counts = cm["counts"]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    auc = roc_auc(y_true, proba, len(classes))
    per_class = {
        name: {
            "accuracy": one_vs_rest_accuracy(counts, k),
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "support": int(support[k]),
            "roc_auc": auc[k],
        }
        for k, name in enumerate(classes)
    }
    weights = support / support.sum() if support.sum() else np.zeros(len(classes))
    defined_auc = [a for a in auc if a is not None]
    n = len(y_true)
    metrics: dict[str, Any] = {
        "accuracy": float(accuracy_score(y_true, y_pred)) if n else 0.0,
        "macro_f1": float(np.mean(f1)),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "weighted_f1": float(np.sum(weights * f1)),
        "weighted_precision": float(np.sum(weights * precision)),
        "weighted_recall": float(np.sum(weights * recall)),
        "roc_auc": float(np.mean(defined_auc)) if defined_auc else None,
        "log_loss": float(np.mean(object_log_loss(y_true, proba))) if n else None,
        "per_class": per_class,
        "confusion_matrix": {"labels": list(classes), **cm},
        "intervals": bootstrap_intervals(y_true, y_pred, classes, seed=seed),
        "coverage": accuracy_at_coverage(y_true, proba),
    }
    if metrics["roc_auc"] is not None:
        metrics["intervals"]["roc_auc"] = auc_interval(y_true, proba, classes, seed)
    bins = all_bins(y_true, y_pred, classes, redshift=redshift, snr=snr, magnitude=magnitude)
    if bins:
        metrics["bins"] = bins
    return metrics


def all_bins(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], **values: np.ndarray | None
) -> dict[str, list[dict[str, Any]]]:
    """Completeness and purity bins for each per-object quantity that has known values."""
    out = {}
    for kind, known in values.items():
        rows = [] if known is None else binned(y_true, y_pred, classes, known, kind)
        if rows:
            out[kind] = rows
    return out


def one_vs_rest_accuracy(counts: list[list[int]], k: int) -> float:
    """The fraction of objects correctly called class ``k`` or not class ``k``."""
    total = int(np.sum(counts))
    tp = counts[k][k]
    tn = total - sum(counts[k]) - sum(row[k] for row in counts) + tp
    return float((tp + tn) / total) if total else 0.0


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Counts plus the three normalisations the paper's figures use.

    ``normalized`` divides by the true-class total (rows: recall), ``normalized_pred`` by
    the predicted-class total (columns: precision), ``normalized_all`` by all objects.
    """
    from sklearn.metrics import confusion_matrix

    labels = np.arange(n_classes)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    out: dict[str, Any] = {"counts": counts.tolist()}
    for key, norm in (
        ("normalized", "true"),
        ("normalized_pred", "pred"),
        ("normalized_all", "all"),
    ):
        if len(y_true) == 0:
            out[key] = np.zeros(counts.shape).tolist()
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            m = confusion_matrix(y_true, y_pred, labels=labels, normalize=norm)
        out[key] = np.nan_to_num(m).round(6).tolist()
    return out


def roc_auc(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> list[float | None]:
    """One-vs-rest ROC-AUC per class; ``None`` where the class is absent or alone."""
    from sklearn.metrics import roc_auc_score

    out: list[float | None] = []
    for k in range(n_classes):
        positive = y_true == k
        if positive.all() or not positive.any():
            out.append(None)
        else:
            out.append(float(roc_auc_score(positive, proba[:, k])))
    return out


def bootstrap_counts(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, n_draws: int, seed: int
) -> np.ndarray:
    """Confusion-matrix counts for ``n_draws`` resamples of the test objects: (n_draws, K, K).

    Resampling n objects with replacement and counting (true, predicted) pairs is a
    multinomial draw over the K*K cells with the observed cell frequencies, so the draws
    are sampled directly: the same distribution as resampling indices, in O(n_draws K^2).
    """
    n = len(y_true)
    rng = np.random.default_rng(seed)
    cells = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    draws = rng.multinomial(n, cells / n, size=n_draws)
    return draws.reshape(n_draws, n_classes, n_classes)


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    n_draws: int = N_BOOTSTRAP,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """95 % intervals: Wilson for accuracy and per-class recall and precision, a seeded
    percentile bootstrap for macro F1 (see :data:`METHOD`)."""
    if len(y_true) == 0:
        return {}
    k = len(classes)
    counts = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp, true_k, pred_k = np.diagonal(counts), counts.sum(axis=1), counts.sum(axis=0)
    draws = rates(bootstrap_counts(y_true, y_pred, k, n_draws, seed))
    return {
        "method": METHOD,
        "n_draws": n_draws,
        "confidence": confidence,
        "seed": seed,
        "accuracy": wilson(int(tp.sum()), len(y_true)),
        "macro_f1": percentile_interval(draws["f1"].mean(axis=-1), confidence),
        "recall": {c: wilson(int(tp[i]), int(true_k[i])) for i, c in enumerate(classes)},
        "precision": {c: wilson(int(tp[i]), int(pred_k[i])) for i, c in enumerate(classes)},
    }


def percentile_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> list[float] | None:
    """The percentile interval of bootstrap draws (NaN draws left out), clipped to [0, 1]."""
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    low, high = np.percentile(values, [50 * (1 - confidence), 50 * (1 + confidence)])
    return clip_unit(float(low), float(high))


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> list[float] | None:
    """Student-t interval of the mean of per-seed values of a [0, 1] metric, clipped to
    [0, 1] (None with fewer than two values)."""
    from scipy.stats import t

    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2:
        return None
    half = float(t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return clip_unit(float(x.mean()) - half, float(x.mean()) + half)


def auc_interval(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str], seed: int, n_draws: int = 500
) -> list[float] | None:
    """Percentile-bootstrap 95 % interval of the macro one-vs-rest ROC-AUC (objects resampled)."""
    from bench.results.paired import Predictions, auc_draws

    n = len(y_true)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_draws)
    p = Predictions(np.arange(n), y_true, np.argmax(proba, axis=1), proba)
    draws = auc_draws(p, "roc_auc", list(classes), weights.astype(np.float64))
    return percentile_interval(draws)


def metric_names(classes: Sequence[str]) -> list[str]:
    """Every name :func:`metric_value` accepts: averaged ones and ``recall:QSO`` style."""
    return list(AVERAGED) + [f"{m}:{c}" for m in PER_CLASS for c in classes]


def metric_value(metrics: dict[str, Any], name: str) -> tuple[float | None, list[float] | None]:
    """The value of metric ``name`` in a result's ``metrics`` and its interval, if any."""
    classes = list(metrics["per_class"])
    if name not in metric_names(classes):
        raise BenchError(f"unknown metric {name!r}; valid: {', '.join(metric_names(classes))}")
    intervals = metrics.get("intervals") or {}
    if ":" in name:
        kind, cls = name.split(":", 1)
        value = metrics["per_class"][cls].get(kind)
        interval = (intervals.get(kind) or {}).get(cls) if kind in PROPORTIONS else None
    else:
        value = metrics.get(name)
        interval = intervals.get(name)
    return (None if value is None else float(value)), interval
