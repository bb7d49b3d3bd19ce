"""Figures drawn from each cell's per-object predictions (``predictions.csv``) and its
most confident mistakes (``mistakes.npz``): ROC and precision-recall curves per class,
completeness and purity against redshift, S/N and magnitude (binomial error bars, counts
below), and a gallery of mistakes (the spectrum and the input the model saw). PNG bytes;
matplotlib is imported inside each function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.results.plots import _label, _png

# bin edges for completeness and purity: quantiles would hide the survey's ranges
EDGES = {
    "redshift": (0.0, 0.1, 0.5, 1.0, 2.1, 3.5),
    "snr": (0.0, 2.0, 5.0, 10.0, 20.0, 1000.0),
    "magnitude": (14.0, 17.0, 18.0, 19.0, 20.0, 21.0, 23.0),
}
AXIS = {"redshift": "redshift", "snr": "median S/N per pixel", "magnitude": "magnitude"}

Cells = Sequence[tuple[dict[str, Any], dict[str, np.ndarray]]]  # (result, predictions)


def roc_pr(cells: Cells, classes: Sequence[str], title: str) -> bytes | None:
    """Top row: ROC per class (one-vs-rest), one line per model with its AUC; bottom row:
    precision against recall with the class's share as the chance level."""
    from matplotlib.figure import Figure
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    usable = [(r, p) for r, p in cells if all(f"p_{c}" in p for c in classes) and len(p["true"])]
    if not usable:
        return None
    fig = Figure(figsize=(3.0 * len(classes) + 0.4, 5.6), layout="constrained")
    axes = fig.subplots(2, len(classes), squeeze=False)
    for col, cls in enumerate(classes):
        roc_ax, pr_ax = axes[0][col], axes[1][col]
        for k, (r, p) in enumerate(usable):
            truth = p["true"] == cls
            if truth.all() or not truth.any():
                continue
            fpr, tpr, _ = roc_curve(truth, p[f"p_{cls}"])
            prec, rec, _ = precision_recall_curve(truth, p[f"p_{cls}"])
            name = _label(r["cell"]["model"])
            roc_ax.plot(fpr, tpr, color=f"C{k % 10}", label=f"{name} {auc(fpr, tpr):.3f}")
            pr_ax.plot(rec, prec, color=f"C{k % 10}", label=name)
            pr_ax.axhline(truth.mean(), color="0.7", lw=0.8, ls=":")
        roc_ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
        roc_ax.set(title=_label(f"{cls}: ROC"), xlabel="false positive rate")
        pr_ax.set(title=_label(f"{cls}: precision-recall"), xlabel="recall", ylim=(0, 1.02))
        if col == 0:
            roc_ax.set_ylabel("true positive rate")
            pr_ax.set_ylabel("precision")
        roc_ax.legend(fontsize=7, title="AUC", title_fontsize=7)
    fig.suptitle(_label(f"ROC and precision-recall: {title}"), fontsize=10)
    return _png(fig)


def rate_in_bins(hit: np.ndarray, which: np.ndarray, n_bins: int) -> tuple[np.ndarray, ...]:
    """Fraction of ``hit`` per bin, its binomial standard error and the count (NaN, 0
    where a bin is empty)."""
    n = np.bincount(which, minlength=n_bins)[:n_bins].astype(float)
    k = np.bincount(which, weights=hit.astype(float), minlength=n_bins)[:n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = k / n
        err = np.sqrt(rate * (1 - rate) / n)
    return rate, err, n.astype(int)


def completeness_purity(
    cells: Cells, classes: Sequence[str], kind: str, title: str
) -> bytes | None:
    """Per model (columns): completeness (recall, by true class) and purity (precision, by
    predicted class) in bins of ``kind``, with binomial error bars; counts of true objects
    per class in each bin below."""
    from matplotlib.figure import Figure

    usable = [(r, p) for r, p in cells if kind in p and np.isfinite(p[kind]).any()]
    if not usable:
        return None
    edges = np.asarray(EDGES[kind])
    centres = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    x = np.arange(len(centres))
    fig = Figure(figsize=(max(6.5, 3.4 * len(usable) + 0.6), 6.4), layout="constrained")
    axes = fig.subplots(3, len(usable), squeeze=False, height_ratios=(3, 3, 2))
    for col, (r, p) in enumerate(usable):
        values = p[kind]
        which = np.where(np.isfinite(values), np.digitize(values, edges[1:-1]), len(centres))
        for k, cls in enumerate(classes):
            style = {"color": f"C{k % 10}", "capsize": 3, "marker": "o", "ms": 3}
            for row, (sel, hit) in enumerate(
                (
                    (p["true"] == cls, p["predicted"] == cls),
                    (p["predicted"] == cls, p["true"] == cls),
                )
            ):
                rate, err, _ = rate_in_bins(hit[sel], which[sel], len(centres))
                axes[row][col].errorbar(
                    x + 0.06 * (k - 1), rate, yerr=err, label=_label(cls), **style
                )
            is_cls = p["true"] == cls
            _, _, n = rate_in_bins(is_cls[is_cls], which[is_cls], len(centres))
            axes[2][col].bar(x + 0.25 * (k - 1), n, width=0.25, color=f"C{k % 10}")
            for xi, ni in zip(x, n, strict=True):
                axes[2][col].text(
                    xi + 0.25 * (k - 1), ni, str(ni), ha="center", va="bottom", fontsize=6
                )
        axes[0][col].set_title(_label(r["cell"]["model"]), fontsize=9)
        for row, name in enumerate(("completeness", "purity", "objects")):
            ax = axes[row][col]
            ax.set_xticks(x, centres if row == 2 else [""] * len(x), fontsize=7)
            ax.set_ylabel(name if col == 0 else "", fontsize=8)
            if row < 2:
                ax.set_ylim(-0.05, 1.05)
        axes[2][col].set_xlabel(AXIS[kind], fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(_label(f"completeness and purity versus {AXIS[kind]}: {title}"), fontsize=10)
    return _png(fig)


def mistakes_gallery(
    result: dict[str, Any], mistakes: dict[str, np.ndarray], classes: Sequence[str]
) -> bytes | None:
    """The most confident mistake of each (true, predicted) pair: its spectrum (left) and
    the input the model saw (right), titled with true, predicted, probability and z."""
    from matplotlib.figure import Figure

    if len(mistakes.get("ids", ())) == 0:
        return None
    pred = np.argmax(mistakes["proba"], axis=1)
    first: dict[tuple[int, int], int] = {}
    for i, pair in enumerate(zip(mistakes["true"].tolist(), pred.tolist(), strict=True)):
        first.setdefault(pair, i)  # the most confident of each pair comes first
    rows = list(first.values())
    fig = Figure(figsize=(7.2, 1.5 * len(rows) + 0.5), layout="constrained")
    axes = fig.subplots(len(rows), 2, squeeze=False, width_ratios=(3, 1))
    wave = 10 ** np.asarray(mistakes["loglam"], dtype=float)
    for row, i in enumerate(rows):
        t, p = classes[int(mistakes["true"][i])], classes[int(pred[i])]
        z = float(mistakes["redshift"][i])
        text = (
            f"{t} as {p} (p={mistakes['proba'][i][pred[i]]:.2f}), z={z:.3f}, {mistakes['ids'][i]}"
        )
        spec_ax, input_ax = axes[row]
        spec_ax.plot(wave, np.asarray(mistakes["flux"][i], np.float32), lw=0.5, color="k")
        spec_ax.set_title(_label(text), fontsize=7, loc="left")
        spec_ax.tick_params(labelsize=6)
        _show_input(input_ax, np.asarray(mistakes["inputs"][i], dtype=np.float32))
    axes[-1][0].set_xlabel("observed wavelength (Å)", fontsize=7)
    fig.suptitle(_label(f"most confident mistakes: {result['cell']['id']}"), fontsize=9)
    return _png(fig)


def _show_input(ax: Any, x: np.ndarray) -> None:
    """An image input as an image (uint8 stored x 255), a flux vector as a line."""
    ax.set_xticks([])
    ax.set_yticks([])
    if x.ndim == 3 and x.shape[0] > 1 and x.shape[1] > 1:
        img = x[..., 0] if x.shape[-1] == 1 else x[..., :3]
        ax.imshow(img / max(float(img.max()), 1.0), cmap="gray", aspect="auto")
    else:
        ax.plot(x.reshape(-1), lw=0.5)
    ax.set_title("model input", fontsize=7)
