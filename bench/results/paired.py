"""Paired tests of two cells on the test objects they share (``predictions.csv`` rows
matched by id): the bootstrap distribution of a metric's difference.

Count metrics (accuracy, F1, recall...) resample the joint (true, predicted by A,
predicted by B) counts as one multinomial draw. ROC-AUC and log loss, which need the
probabilities, resample objects with multinomial weights shared by both cells; AUC is the
weighted Mann-Whitney statistic of every draw at once (sorted once, cumsums per draw).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.results.rates import object_log_loss, rates

N_DRAWS = 2000
MIN_SHARED = 0.5  # of the larger test set, for two cells to count as one test set


@dataclass
class Predictions:
    """One cell's per-object predictions: ids, true and predicted class, probabilities."""

    ids: np.ndarray
    true: np.ndarray
    pred: np.ndarray
    proba: np.ndarray

    def subset(self, ids: list[str]) -> Predictions:
        where = {i: k for k, i in enumerate(self.ids.tolist())}
        at = np.array([where[i] for i in ids], dtype=np.int64)
        return Predictions(self.ids[at], self.true[at], self.pred[at], self.proba[at])


def read_predictions(csv_path: Path, classes: tuple[str, ...] | list[str]) -> Predictions:
    """A cell's predictions.csv (BenchError naming the file when it cannot be read)."""
    index = {c: k for k, c in enumerate(classes)}
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        ids = np.array([r["id"] for r in rows], dtype=object)
        true = np.array([index[r["true"]] for r in rows], dtype=np.int64)
        pred = np.array([index[r["predicted"]] for r in rows], dtype=np.int64)
        proba = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows], dtype=np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise BenchError(f"{csv_path}: not a readable predictions.csv ({exc})") from None
    if len(set(ids.tolist())) != len(ids):
        raise BenchError(f"{csv_path}: an object id appears twice")
    return Predictions(ids, true, pred, proba.reshape(len(rows), len(classes)))


def shared(a: Predictions, b: Predictions) -> tuple[Predictions, Predictions] | None:
    """Both cells on the objects they share, when that is most of both test sets and the
    true classes agree; else None (not the same test set)."""
    ids = sorted(set(a.ids.tolist()) & set(b.ids.tolist()))
    if not ids or len(ids) < MIN_SHARED * max(len(a.ids), len(b.ids)):
        return None
    a, b = a.subset(ids), b.subset(ids)
    return (a, b) if np.array_equal(a.true, b.true) else None


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


def weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC under each row of ``weights`` (D, n): ties count one half."""
    order = np.argsort(scores, kind="stable")
    s, pos, w = scores[order], positive[order], weights[:, order]
    starts = np.searchsorted(s, s, side="left")
    ends = np.searchsorted(s, s, side="right")
    cum = np.concatenate([np.zeros((len(w), 1)), np.cumsum(w * ~pos, axis=1)], axis=1)
    below = cum[:, starts]
    equal = cum[:, ends] - below
    w_pos, w_neg = (w * pos).sum(axis=1), (w * ~pos).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((w * pos) * (below + 0.5 * equal)).sum(axis=1) / (w_pos * w_neg)


def auc_draws(p: Predictions, metric: str, classes: list[str], weights: np.ndarray) -> np.ndarray:
    """``roc_auc`` (macro over defined classes) or ``roc_auc:CLASS`` under each weighting."""
    ks = [classes.index(metric.split(":", 1)[1])] if ":" in metric else range(len(classes))
    per = [weighted_auc(p.proba[:, k], p.true == k, weights) for k in ks]
    if len(per) == 1:
        return per[0]
    stacked = np.stack(per)
    defined = np.isfinite(stacked)
    with np.errstate(invalid="ignore"):  # a draw with no defined class stays NaN
        return np.where(defined, stacked, 0).sum(axis=0) / defined.sum(axis=0)


def difference_draws(
    a: Predictions, b: Predictions, metric: str, classes: list[str], seed: int = 0
) -> np.ndarray:
    """Bootstrap draws of ``metric(b) - metric(a)`` on the same objects (finite draws only)."""
    n, k = len(a.true), len(classes)
    rng = np.random.default_rng(seed)
    if "roc_auc" in metric or metric == "log_loss":
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=N_DRAWS).astype(np.float64)
        if metric == "log_loss":
            per_object = object_log_loss(b.true, b.proba) - object_log_loss(a.true, a.proba)
            return np.asarray(weights @ per_object / n)
        diff = auc_draws(b, metric, classes, weights) - auc_draws(a, metric, classes, weights)
    else:
        cells = np.bincount((a.true * k + a.pred) * k + b.pred, minlength=k**3)
        joint = rng.multinomial(n, cells / n, size=N_DRAWS).reshape(-1, k, k, k)
        diff = metric_from_counts(joint.sum(axis=2), metric, classes) - metric_from_counts(
            joint.sum(axis=3), metric, classes
        )
    return diff[np.isfinite(diff)]


AGREE = 1e-6  # count metrics recomputed from predictions.csv match to rounding


def check_agreement(where: str, result: dict[str, Any], p: Predictions, classes: list[str]) -> None:
    """BenchError naming the cell when ``result``'s metrics are not what its predictions
    give: the test size, the confusion matrix, and accuracy, macro F1 and per-class recall
    and precision recomputed from the predicted classes (a report or a predictions.csv
    edited or mixed up after the run)."""
    cell, metrics = result["cell"]["id"], result["metrics"]
    stated = result.get("n_test")
    if isinstance(stated, int) and stated != len(p.ids):
        raise BenchError(
            f"{where}: cell {cell}: the report counts {stated} test spectra, its "
            f"predictions.csv has {len(p.ids)}; the run folder was changed after the run"
        )
    k = len(classes)
    counts = np.bincount(p.true * k + p.pred, minlength=k * k).reshape(k, k)
    matrix = metrics.get("confusion_matrix") or {}
    order = [classes.index(c) for c in matrix.get("labels", classes) if c in classes]
    stated_counts = np.asarray(matrix.get("counts"))
    if (
        len(order) == k
        and stated_counts.shape == (k, k)
        and not np.array_equal(counts[np.ix_(order, order)], stated_counts)
    ):
        raise BenchError(
            f"{where}: cell {cell}: the report's confusion matrix is not the one its "
            "predictions.csv gives; the run folder was changed after the run"
        )
    names = ["accuracy", "macro_f1"] + [
        f"{m}:{c}" for m in ("recall", "precision") for c in classes
    ]
    for name in names:
        kind, _, cls = name.partition(":")
        value = (
            (metrics.get("per_class") or {}).get(cls, {}).get(kind) if cls else metrics.get(name)
        )
        if value is None or not np.isfinite(value):
            continue  # missing or NaN: the gate's own verdict on it
        recomputed = float(metric_from_counts(counts, name, classes))
        if not abs(float(value) - recomputed) <= AGREE:
            raise BenchError(
                f"{where}: cell {cell}: the report's {name} {float(value):.4f} disagrees with "
                f"its predictions.csv ({recomputed:.4f}); the run folder was changed after the run"
            )
