"""Report figures as PNG bytes: the paper's grid of normalised confusion matrices (with
counts), loss and accuracy curves (train dashed, validation solid, as the paper's Figure
7), recall versus redshift, and the spread of a metric across seeds. Figures drawn from
per-object predictions (ROC, purity, mistakes) are in :mod:`bench.results.figures`; the
gallery of rendered model inputs (`bench plot gallery`) in :mod:`bench.results.gallery`.

matplotlib is imported inside each function (``Figure`` objects, no pyplot state), so
importing this module costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.results.metrics import mean_interval

# rows of the paper's Figures 8-10 and the normalisation of the confusion matrix for each:
# recall divides by the true-class total, precision by the predicted-class total
GRID_ROWS = (
    ("accuracy", "normalized_all", "accuracy (÷ all objects)"),
    ("precision", "normalized_pred", "precision (÷ predicted)"),
    ("recall", "normalized", "recall (÷ true)"),
)


# Okabe & Ito's colour-blind-safe palette (black last), each colour with its own marker,
# so no two models or classes are told apart by red against green alone
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DPI = 150
LEGEND = 8  # legend font size (points)


def style(k: int) -> dict[str, Any]:
    """Colour and marker of the k-th series."""
    return {"color": PALETTE[k % len(PALETTE)], "marker": MARKERS[k % len(MARKERS)]}


def _label(text: object) -> str:
    """A run's string as plain text in matplotlib (a '$' would start mathtext)."""
    return str(text).replace("$", r"\$")


def _png(fig: Any) -> bytes:
    """The figure at :data:`DPI` as a PNG of at most 256 colours (a third of the bytes of
    full colour: a page of figures stays small)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(256, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, dpi=(DPI, DPI))
    return out.getvalue()


def final_cells(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ok cell with the most epochs for each (dataset, model, train fraction, seed)."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in results:
        if r["status"] != "ok":
            continue
        c = r["cell"]
        key = (c["dataset"], c["model"], c["train_fraction"], c["seed"])
        if key not in best or c["epochs"] > best[key]["cell"]["epochs"]:
            best[key] = r
    return list(best.values())


def confusion_grid(results: Sequence[dict[str, Any]], title: str) -> bytes:
    """Rows: accuracy, precision, recall normalisations; columns: one model each."""
    from matplotlib.figure import Figure

    n = len(results)
    fig = Figure(figsize=(3.2 * n + 0.6, 9.4), layout="constrained")
    axes = fig.subplots(3, n, squeeze=False)
    for col, r in enumerate(results):
        cm = r["metrics"]["confusion_matrix"]
        labels = cm["labels"]
        for row, (_, key, row_title) in enumerate(GRID_ROWS):
            ax = axes[row][col]
            matrix = cm.get(key) or cm["normalized"]
            counts = cm.get("counts") or [[None] * len(line) for line in matrix]
            ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")  # one hue: safe for every reader
            for i, line in enumerate(matrix):
                for j, v in enumerate(line):
                    n = counts[i][j]
                    ax.text(
                        j,
                        i,
                        f"{v:.2f}" if n is None else f"{v:.2f}\n({n})",
                        ha="center",
                        va="center",
                        color="white" if v > 0.6 else "black",
                        fontsize=8,
                    )
            ax.set_xticks(range(len(labels)), [_label(c) for c in labels], fontsize=8)
            ax.set_yticks(range(len(labels)), [_label(c) for c in labels], fontsize=8)
            if row == 0:
                ax.set_title(_label(r["cell"]["model"]), fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{row_title}\ntrue", fontsize=9)
            if row == 2:
                ax.set_xlabel("predicted", fontsize=9)
    fig.suptitle(_label(title), fontsize=11)
    return _png(fig)


def loss_curves(results: Sequence[dict[str, Any]], title: str) -> bytes:
    """Loss and accuracy per epoch for each model: training dashed, validation (the test
    feed) solid, one colour per model; whole-number epoch ticks."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for k, r in enumerate(results):
            for key, style_, phase in ((metric, "--", "train"), (f"val_{metric}", "-", "val")):
                values = r["history"].get(key, [])
                look = style(k)
                ax.plot(
                    range(1, len(values) + 1),
                    values,
                    style_,
                    marker=look["marker"] if len(values) < 15 else None,  # one epoch shows
                    color=look["color"],
                    label=_label(f"{r['cell']['model']} {phase}"),
                )
        n_epochs = max((len(r["history"].get(metric, [])) for r in results), default=1)
        ax.set_xlim(0.5, max(n_epochs, 1) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss (nats)" if metric == "loss" else "accuracy (fraction)")
        ax.legend(fontsize=LEGEND)
    fig.suptitle(_label(f"loss and accuracy: {title}"), fontsize=10)
    return _png(fig)


KIND_NAMES = {"redshift": "redshift", "snr": "median S/N per pixel", "magnitude": "magnitude"}
AXIS_NAMES = {
    "redshift": "redshift",
    "snr": "median S/N per pixel",
    "magnitude": "magnitude (mag)",
}


def wilson_bars(
    values: Sequence[float | None], intervals: Sequence[list[float] | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Points and asymmetric error bars (2, n) from values and their intervals; NaN where
    a value is undefined."""
    y = np.array([np.nan if v is None else float(v) for v in values])
    err = np.zeros((2, len(y)))
    for i, (v, ci) in enumerate(zip(y, intervals, strict=True)):
        if ci is not None and np.isfinite(v):
            err[:, i] = [max(v - ci[0], 0.0), max(ci[1] - v, 0.0)]
    return y, err


def recall_vs_bins(results: Sequence[dict[str, Any]], kind: str, title: str) -> bytes | None:
    """Per-class recall (completeness) in each redshift or S/N bin with the table's Wilson
    intervals, one panel per model."""
    from matplotlib.figure import Figure

    with_bins = [r for r in results if kind in (r["metrics"].get("bins") or {})]
    if not with_bins:
        return None
    fig = Figure(figsize=(4 * len(with_bins) + 0.5, 3.6), layout="constrained")
    axes = fig.subplots(1, len(with_bins), squeeze=False)[0]
    for ax, r in zip(axes, with_bins, strict=True):
        bins = r["metrics"]["bins"][kind]
        x = range(len(bins))
        for k, cls in enumerate(bins[0]["recall"]):
            y, err = wilson_bars(
                [b["recall"][cls] for b in bins], [b["recall_interval"][cls] for b in bins]
            )
            ax.errorbar(list(x), y, yerr=err, capsize=3, label=_label(cls), **style(k))
        ax.set_xticks(list(x), [b["bin"] for b in bins], rotation=30, ha="right", fontsize=7)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel(AXIS_NAMES.get(kind, kind))
        ax.set_ylabel("completeness (fraction, 95 % Wilson)")
        ax.set_title(_label(r["cell"]["model"]), fontsize=10)
        ax.legend(fontsize=LEGEND)
    fig.suptitle(_label(title), fontsize=11)
    return _png(fig)


def seed_spread(results: Sequence[dict[str, Any]], title: str) -> bytes | None:
    """Accuracy and macro F1 of each seed (dots) with their mean and its 95 % t interval
    clipped to [0, 1] (bar, as the across-seeds table), per (dataset, model, train fraction, epochs); None with a single seed."""
    from matplotlib.figure import Figure

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in results:
        if r["status"] == "ok":
            c = r["cell"]
            groups.setdefault((c["dataset"], c["model"], c["train_fraction"], c["epochs"]), [])
            groups[(c["dataset"], c["model"], c["train_fraction"], c["epochs"])].append(r)
    groups = {k: v for k, v in groups.items() if len({r["cell"]["seed"] for r in v}) > 1}
    if not groups:
        return None
    fig = Figure(figsize=(max(5.0, 0.9 * len(groups) + 2), 3.6), layout="constrained")
    ax = fig.subplots()
    for m, metric in enumerate(("accuracy", "macro_f1")):
        look = style(m)
        for x, cells in enumerate(groups.values()):
            values = [float(r["metrics"].get(metric) or 0.0) for r in cells]
            at = x + (m - 0.5) * 0.3
            ax.plot([at] * len(values), values, ".", color=look["color"], alpha=0.6)
            mean = float(np.mean(values))
            low, high = mean_interval(values) or [mean, mean]
            ax.errorbar(at, mean, yerr=[[mean - low], [high - mean]], fmt=look["marker"],
                        color=look["color"], capsize=4, label=metric if x == 0 else None)  # fmt: skip
    labels = [f"{d} {mo}\nf{f:g} e{e}" for d, mo, f, e in groups]
    ax.set_xticks(range(len(groups)), [_label(t) for t in labels], fontsize=7)
    ax.set_ylabel("value (fraction): per seed, mean, 95 % CI")
    ax.set_title(_label(f"across seeds: {title}"), fontsize=10)
    ax.legend(fontsize=LEGEND)
    return _png(fig)
