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

# rows of the paper's Figures 8-10 and the normalisation of the confusion matrix for each:
# recall divides by the true-class total, precision by the predicted-class total
GRID_ROWS = (
    ("accuracy", "normalized_all", "accuracy (÷ all objects)"),
    ("precision", "normalized_pred", "precision (÷ predicted)"),
    ("recall", "normalized", "recall (÷ true)"),
)


def _label(text: object) -> str:
    """A run's string as plain text in matplotlib (a '$' would start mathtext)."""
    return str(text).replace("$", r"\$")


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


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
            ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
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
            for key, style, phase in ((metric, "--", "train"), (f"val_{metric}", "-", "val")):
                values = r["history"].get(key, [])
                ax.plot(
                    range(1, len(values) + 1),
                    values,
                    style,
                    marker="." if len(values) < 15 else None,  # a single epoch is still visible
                    color=f"C{k % 10}",
                    label=_label(f"{r['cell']['model']} {phase}"),
                )
        n_epochs = max((len(r["history"].get(metric, [])) for r in results), default=1)
        ax.set_xlim(0.5, max(n_epochs, 1) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    fig.suptitle(_label(f"loss and accuracy: {title}"), fontsize=10)
    return _png(fig)


def recall_vs_bins(results: Sequence[dict[str, Any]], kind: str, title: str) -> bytes | None:
    """Per-class recall (completeness) in each redshift or S/N bin, one panel per model."""
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
            y = [b["recall"][cls] if b["recall"][cls] is not None else float("nan") for b in bins]
            ax.plot(x, y, "o-", color=f"C{k % 10}", label=_label(cls))
        ax.set_xticks(list(x), [b["bin"] for b in bins], rotation=30, ha="right", fontsize=7)
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("recall (completeness)")
        ax.set_title(_label(r["cell"]["model"]), fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(_label(title), fontsize=11)
    return _png(fig)


def seed_spread(results: Sequence[dict[str, Any]], title: str) -> bytes | None:
    """Accuracy and macro F1 of each seed (dots) with their mean and standard deviation
    (bar), per (dataset, model, train fraction, epochs); None with a single seed."""
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
        for x, cells in enumerate(groups.values()):
            values = [float(r["metrics"].get(metric) or 0.0) for r in cells]
            at = x + (m - 0.5) * 0.3
            ax.plot([at] * len(values), values, ".", color=f"C{m}", alpha=0.6)
            ax.errorbar(at, np.mean(values), yerr=np.std(values), fmt="s", color=f"C{m}",
                        capsize=4, label=metric if x == 0 else None)  # fmt: skip
    labels = [f"{d} {mo}\nf{f:g} e{e}" for d, mo, f, e in groups]
    ax.set_xticks(range(len(groups)), [_label(t) for t in labels], fontsize=7)
    ax.set_ylabel("value per seed, mean ± std")
    ax.set_title(_label(f"across seeds: {title}"), fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)
