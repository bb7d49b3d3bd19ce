"""How far a synthetic leaderboard is from a real one: when cells train on one dataset
(say ``synthetic``) and are tested on another (a ``[test_dataset]``, say real ``sdss``
files), each model's accuracy on its validation split (objects of the training dataset)
beside its accuracy on the test set, the gap, and the rank agreement of the two
orderings of models (Kendall's tau-b).

The tau interval is a seeded percentile bootstrap that resamples the validation objects
and the test objects apart, each draw shared by every model (they all predicted the
same objects: paired); with fewer than :data:`MIN_MODELS` models tau is undefined.
Per-object validation predictions travel in each cell's ``mistakes.npz``
(:func:`validation_arrays`), test predictions in its ``predictions.csv``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.results.metrics import CONFIDENCE, compute_metrics
from bench.results.paired import Predictions, read_predictions
from bench.store.rundir import RunDir, mistakes_of, predictions_of

MIN_MODELS = 3
N_DRAWS = 2000
CHUNK = 250  # draws per block: (CHUNK, objects) weights at a time
METHOD = (
    "Kendall tau-b of the models' validation and test accuracies; 95 % percentile bootstrap "
    "resampling validation and test objects apart, each draw shared by all models (paired)"
)
ARRAY_KEYS = ("validation_ids", "validation_true", "validation_predicted")


def validation_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str], seed: int
) -> dict[str, Any]:
    """A cell's figures on its validation split (:func:`compute_metrics`, trimmed):
    ``n``, ``accuracy``, ``macro_recall``, ``per_class`` recall and support, and the
    Wilson intervals of accuracy and recall."""
    m = compute_metrics(y_true, proba, classes, seed=seed)
    ci = m.get("intervals") or {}
    return {
        "n": len(y_true),
        "accuracy": m["accuracy"],
        "macro_recall": m["macro_recall"],
        "per_class": {
            c: {"recall": m["per_class"][c]["recall"], "support": m["per_class"][c]["support"]}
            for c in classes
        },
        "intervals": {"accuracy": ci.get("accuracy"), "recall": ci.get("recall") or {}},
    }


def validation_arrays(ids: np.ndarray, y_true: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """The per-object validation predictions a cell keeps for the tau bootstrap."""
    predicted = np.argmax(proba, axis=1) if len(proba) else np.zeros(0, np.int64)
    return {
        "validation_ids": np.asarray(ids).astype(str),
        "validation_true": np.asarray(y_true, dtype=np.int16),
        "validation_predicted": predicted.astype(np.int16),
    }


def kendall_tau_b(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of the last axis of ``a`` against ``b`` (shape (..., M)), for many
    draws at once; NaN where either ordering is all ties (as scipy's ``kendalltau``)."""
    i, j = np.triu_indices(a.shape[-1], k=1)
    da, db = np.sign(a[..., i] - a[..., j]), np.sign(b[..., i] - b[..., j])
    untied = np.sum(da != 0, axis=-1) * np.sum(db != 0, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(untied > 0, np.sum(da * db, axis=-1) / np.sqrt(untied), np.nan)


def transfer_section(
    results: Sequence[dict[str, Any]], classes: Sequence[str], root: Path | None, seed: int = 0
) -> dict[str, Any] | None:
    """The report's ``transfer`` section, or None when no cell was tested on another
    dataset with its validation figures recorded. One group per (training dataset, test
    dataset, train fraction, epochs, seed): the cells that saw the same objects. The
    per-object files are read under the run folder ``root`` (None: no interval)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    left_out: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for r in results:
        c = r["cell"]
        if r.get("status") != "ok" or not c.get("test_dataset"):
            continue
        key = (c["dataset"], c["test_dataset"], c["train_fraction"], c["epochs"], c["seed"])
        if r.get("validation_metrics"):
            groups[key].append(r)
        else:  # reused from before validation figures were kept, or no validation split
            left_out[key].append(c["id"])
    if not groups:
        return None
    out = [_group(key, cells, classes, root, seed) for key, cells in groups.items()]
    for key, group in zip(groups, out, strict=True):
        if left_out.get(key):
            group["left_out"] = left_out[key]
    return {
        "method": METHOD,
        "confidence": CONFIDENCE,
        "n_draws": N_DRAWS,
        "seed": seed,
        "min_models": MIN_MODELS,
        "groups": out,
    }


def _group(
    key: tuple[Any, ...],
    cells: list[dict[str, Any]],
    classes: Sequence[str],
    root: Path | None,
    seed: int,
) -> dict[str, Any]:
    dataset, test_dataset, fraction, epochs, cell_seed = key
    models = [_model_row(r) for r in cells]
    group: dict[str, Any] = {
        "dataset": dataset,
        "test_dataset": test_dataset,
        "train_fraction": fraction,
        "epochs": epochs,
        "seed": cell_seed,
        "models": models,
        "kendall_tau": None,
        "tau_interval": None,
    }
    if len(models) < MIN_MODELS:
        group["note"] = (
            f"Kendall tau undefined: {len(models)} model{'s' if len(models) != 1 else ''}; "
            f"a rank agreement needs at least {MIN_MODELS}"
        )
        return group
    from scipy.stats import kendalltau

    val = np.array([m["validation_accuracy"] for m in models])
    test = np.array([m["test_accuracy"] for m in models])
    tau = float(kendalltau(val, test).statistic)
    if not np.isfinite(tau):
        group["note"] = "Kendall tau undefined: every model has the same accuracy on one side"
        return group
    group["kendall_tau"] = tau
    correct = _correct(cells, classes, root)
    if correct is None:
        group["note"] = "no interval: the cells' per-object predictions are not all there"
        return group
    draws = _tau_draws(*correct, seed=seed)
    group["n_validation_shared"], group["n_test_shared"] = len(correct[0]), len(correct[1])
    finite = draws[np.isfinite(draws)]
    if len(finite):
        tail = 50 * (1 - CONFIDENCE)
        lo, hi = np.percentile(finite, [tail, 100 - tail])
        group["tau_interval"] = [float(lo), float(hi)]
    return group


def _model_row(r: dict[str, Any]) -> dict[str, Any]:
    val, test = r["validation_metrics"], r["metrics"]
    return {
        "model": r["cell"]["model"],
        "cell_id": r["cell"]["id"],
        "validation_accuracy": val["accuracy"],
        "validation_interval": (val.get("intervals") or {}).get("accuracy"),
        "n_validation": val["n"],
        "test_accuracy": test["accuracy"],
        "test_interval": (test.get("intervals") or {}).get("accuracy"),
        "n_test": r.get("n_test", sum(c["support"] for c in test["per_class"].values())),
        "gap": val["accuracy"] - test["accuracy"],
        "validation_macro_recall": val.get("macro_recall"),
        "test_macro_recall": test.get("macro_recall"),
    }


def _correct(
    cells: list[dict[str, Any]], classes: Sequence[str], root: Path | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Whether each model got each shared validation and test object right: (N_val, M)
    and (N_test, M) booleans; None when a cell's files are missing or disagree on the
    objects' true classes."""
    if root is None:
        return None
    report_path = RunDir(root).report_json
    val, test = [], []
    for r in cells:
        npz, csv = mistakes_of(report_path, r), predictions_of(report_path, r)
        if not npz.exists() or not csv.exists():
            return None
        with np.load(npz) as arrays:
            if not all(k in arrays for k in ARRAY_KEYS):
                return None
            ids, true, predicted = (arrays[k] for k in ARRAY_KEYS)
        val.append(Predictions(ids, true, predicted, np.zeros((len(ids), 0))))
        p = read_predictions(csv, list(classes))
        test.append(Predictions(p.ids.astype(str), p.true, p.pred, p.proba))
    v, t = _paired(val), _paired(test)
    return None if v is None or t is None else (v, t)


def _paired(per_model: list[Predictions]) -> np.ndarray | None:
    """(N, M) right-or-wrong on the objects every model predicted, in one order; None when
    none are shared or their true classes differ between models."""
    ids = sorted(set.intersection(*(set(p.ids.tolist()) for p in per_model)))
    if not ids:
        return None
    on = [p.subset(ids) for p in per_model]
    if any(not np.array_equal(on[0].true, p.true) for p in on[1:]):
        return None
    return np.stack([p.pred == p.true for p in on], axis=1)


def _tau_draws(val: np.ndarray, test: np.ndarray, seed: int, n_draws: int = N_DRAWS) -> np.ndarray:
    """Kendall tau-b of every bootstrap draw: validation and test objects resampled apart
    (multinomial counts), each draw's weights shared by all models."""
    rng = np.random.default_rng([seed, 0x7A0])
    out = []
    for start in range(0, n_draws, CHUNK):
        size = min(CHUNK, n_draws - start)
        wv = rng.multinomial(len(val), np.full(len(val), 1.0 / len(val)), size=size)
        wt = rng.multinomial(len(test), np.full(len(test), 1.0 / len(test)), size=size)
        out.append(kendall_tau_b(wv @ val / len(val), wt @ test / len(test)))
    return np.concatenate(out)


def tau_text(group: dict[str, Any]) -> str:
    """The group's rank agreement in words, e.g. ``Kendall tau 0.333 [-0.333, 1.000]
    (95 %, paired bootstrap over 480 validation and 133 test objects)``."""
    tau, interval = group.get("kendall_tau"), group.get("tau_interval")
    if tau is None:
        text = str(group.get("note") or "Kendall tau undefined")
    elif interval is None:
        text = f"Kendall tau {tau:.3f} over {len(group['models'])} models"
        text += f" ({group.get('note') or 'no interval'})"
    else:
        text = (
            f"Kendall tau {tau:.3f} over {len(group['models'])} models, 95 % interval "
            f"[{interval[0]:.3f}, {interval[1]:.3f}] (paired bootstrap over "
            f"{group.get('n_validation_shared')} validation and "
            f"{group.get('n_test_shared')} test objects)"
        )
    left_out = group.get("left_out") or []
    if left_out:
        text += (
            f". Left out, without validation figures (trained before they were kept, or no "
            f"validation split; rerun with --fresh): {', '.join(left_out)}"
        )
    return text
