"""Figures drawn from each cell's per-object predictions (``predictions.csv``) and its
most confident mistakes (``mistakes.npz``): ROC and precision-recall curves per class,
completeness and purity against redshift, S/N and magnitude (the tables' own bins and
95 % Wilson intervals, from :mod:`bench.results.bins`; counts below), accuracy against
coverage (:mod:`bench.results.coverage`), and a gallery of mistakes (the spectrum in
SDSS flux units, padding left out, and the input the model saw). PNG bytes; matplotlib
is imported inside each function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.results import coverage
from bench.results.bins import binned
from bench.results.plots import AXIS_NAMES, KIND_NAMES, LEGEND, _label, _png, style, wilson_bars

FLUX_UNIT = "flux (1e-17 erg/s/cm²/Å)"

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
            name, look = _label(r["cell"]["model"]), style(k)
            mark = {"color": look["color"], "marker": look["marker"], "markevery": 0.2}
            roc_ax.plot(fpr, tpr, label=f"{name} {auc(fpr, tpr):.3f}", ms=4, **mark)
            pr_ax.plot(rec, prec, label=name, ms=4, **mark)
            pr_ax.axhline(truth.mean(), color="0.7", lw=0.8, ls=":")
        roc_ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
        roc_ax.set(title=_label(f"{cls}: ROC"), xlabel="false positive rate (fraction)")
        pr_ax.set(title=_label(f"{cls}: precision-recall"), xlabel="recall (fraction)")
        pr_ax.set_ylim(0, 1.02)
        if col == 0:
            roc_ax.set_ylabel("true positive rate (fraction)")
            pr_ax.set_ylabel("precision (fraction)")
        roc_ax.legend(fontsize=LEGEND, title="AUC", title_fontsize=LEGEND)
    fig.suptitle(_label(f"ROC and precision-recall: {title}"), fontsize=10)
    return _png(fig)


def class_indices(p: dict[str, np.ndarray], classes: Sequence[str]) -> np.ndarray:
    """Rows of ``p`` whose true and predicted classes are both in ``classes``."""
    known = set(classes)
    return np.array(
        [t in known and q in known for t, q in zip(p["true"], p["predicted"], strict=True)],
        dtype=bool,
    )


def bins_of(p: dict[str, np.ndarray], classes: Sequence[str], kind: str) -> list[dict[str, Any]]:
    """The tables' completeness and purity bins (:func:`bench.results.bins.binned`) for a
    cell's predictions: same merged edges, same Wilson intervals."""
    keep = class_indices(p, classes)
    index = {c: k for k, c in enumerate(classes)}
    y_true = np.array([index[t] for t in p["true"][keep]], dtype=np.int64)
    y_pred = np.array([index[q] for q in p["predicted"][keep]], dtype=np.int64)
    return binned(y_true, y_pred, classes, np.asarray(p[kind], dtype=float)[keep], kind)


def completeness_purity(
    cells: Cells, classes: Sequence[str], kind: str, title: str
) -> bytes | None:
    """Per model (columns): completeness (recall, by true class) and purity (precision, by
    predicted class) in the tables' bins of ``kind`` with their 95 % Wilson intervals
    (every point has its bar, one object or a thousand); true objects per class below."""
    from matplotlib.figure import Figure

    usable = [(r, bins_of(p, classes, kind)) for r, p in cells if kind in p]
    usable = [(r, rows) for r, rows in usable if rows]
    if not usable:
        return None
    width = max(8.0, 3.6 * len(usable) + 0.6)
    fig = Figure(figsize=(width, 7.0), layout="constrained")
    axes = fig.subplots(3, len(usable), squeeze=False, height_ratios=(3, 3, 2))
    for col, (r, rows) in enumerate(usable):
        x = np.arange(len(rows))
        for k, cls in enumerate(classes):
            look, shift = style(k), 0.08 * (k - (len(classes) - 1) / 2)
            for row, (value, interval) in enumerate(
                (("recall", "recall_interval"), ("purity", "purity_interval"))
            ):
                y, err = wilson_bars(
                    [b[value][cls] for b in rows], [b[interval][cls] for b in rows]
                )
                axes[row][col].errorbar(
                    x + shift, y, yerr=err, capsize=3, ms=4, label=_label(cls), **look
                )
            n = [b["support"][cls] for b in rows]
            at = x + 0.8 / len(classes) * (k - (len(classes) - 1) / 2)
            axes[2][col].bar(at, n, width=0.8 / len(classes), color=look["color"])
            for xi, ni in zip(at, n, strict=True):
                axes[2][col].text(xi, ni, str(ni), ha="center", va="bottom", fontsize=6)
        axes[0][col].set_title(_label(r["cell"]["model"]), fontsize=9)
        names = ("completeness (fraction)", "purity (fraction)", "true objects (count)")
        for row, name in enumerate(names):
            ax = axes[row][col]
            labels = [b["bin"] for b in rows] if row == 2 else [""] * len(x)
            ax.set_xticks(x, labels, fontsize=7, rotation=20)
            ax.set_ylabel(name if col == 0 else "", fontsize=8)
            ax.set_xlim(-0.5, len(rows) - 0.5)
            if row < 2:
                ax.set_ylim(-0.05, 1.05)
        axes[2][col].set_xlabel(AXIS_NAMES[kind], fontsize=8)
    axes[0][0].legend(fontsize=LEGEND)
    name = KIND_NAMES[kind]
    fig.suptitle(_label(f"completeness and purity versus {name}: {title}"), fontsize=10)
    return _png(fig)


def risk_coverage(cells: Cells, classes: Sequence[str], title: str) -> bytes | None:
    """Accuracy on the share of objects each model is most sure of (its top probability),
    one line per model, with the report's table points and their Wilson intervals."""
    from matplotlib.figure import Figure

    usable = [(r, p) for r, p in cells if all(f"p_{c}" in p for c in classes) and len(p["true"])]
    if not usable:
        return None
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    for k, (r, p) in enumerate(usable):
        keep = np.isin(p["true"], list(classes))
        proba = np.column_stack([p[f"p_{c}"] for c in classes])[keep]
        y_true = np.array([list(classes).index(t) for t in p["true"][keep]], dtype=np.int64)
        share, accuracy = coverage.curve(y_true, proba)
        look = style(k)
        ax.plot(100 * share, accuracy, color=look["color"], lw=1.2)
        rows = coverage.accuracy_at_coverage(y_true, proba)
        y, err = wilson_bars([t["accuracy"] for t in rows], [t["interval"] for t in rows])
        ax.errorbar([100 * t["coverage"] for t in rows], y, yerr=err, ls="none", capsize=3,
                    label=_label(r["cell"]["model"]), **look)  # fmt: skip
    ax.set_xlim(102, 0)  # from everything to only the surest objects
    ax.set_xlabel("coverage: share of test objects kept, most confident first (%)")
    ax.set_ylabel("accuracy on the objects kept (fraction)")
    ax.legend(fontsize=LEGEND, title="model (95 % Wilson)", title_fontsize=LEGEND)
    ax.set_title(_label(f"accuracy against coverage: {title}"), fontsize=10)
    return _png(fig)


def z_text(z: float) -> str:
    """A redshift for a title: three decimals, never ``-0.000``; ``z unknown`` for NaN."""
    if not np.isfinite(z):
        return "z unknown"
    text = f"{z:.3f}"
    return "z=0.000" if text == "-0.000" else f"z={text}"


def drawn_flux(flux: np.ndarray, ivar: np.ndarray | None = None) -> np.ndarray:
    """Flux to draw: padding (zero-ivar pixels when ``ivar`` is known, else the runs of
    exact zeros at either end of the grid) and non-finite pixels as NaN, not zeros."""
    out = np.asarray(flux, dtype=np.float32).copy()
    out[~np.isfinite(out)] = np.nan
    if ivar is not None:
        out[np.asarray(ivar) <= 0] = np.nan
        return out
    nonzero = np.flatnonzero(np.nan_to_num(out) != 0)
    if len(nonzero) == 0:
        return np.full_like(out, np.nan)
    out[: nonzero[0]] = np.nan
    out[nonzero[-1] + 1 :] = np.nan
    return out


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
        z = z_text(float(mistakes["redshift"][i]))
        text = f"{t} as {p} (p={mistakes['proba'][i][pred[i]]:.2f}), {z}, {mistakes['ids'][i]}"
        spec_ax, input_ax = axes[row]
        ivar = mistakes["ivar"][i] if "ivar" in mistakes else None
        spec_ax.plot(wave, drawn_flux(mistakes["flux"][i], ivar), lw=0.5, color="k")
        spec_ax.set_title(_label(text), fontsize=7, loc="left")
        spec_ax.set_ylabel(FLUX_UNIT, fontsize=6)
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
