"""Report figures as PNG bytes: the paper's grid of normalised confusion matrices, loss
curves (train dashed, test solid, as the paper's Figure 7) and recall versus redshift;
and the gallery of rendered model inputs per class (``bench plot gallery``).

matplotlib is imported inside each function (``Figure`` objects, no pyplot state), so
importing this module costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.interfaces import Renderer
    from bench.spectra import SpectrumBatch

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
            ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
            for i, line in enumerate(matrix):
                for j, v in enumerate(line):
                    ax.text(
                        j,
                        i,
                        f"{v:.2f}",
                        ha="center",
                        va="center",
                        color="white" if v > 0.6 else "black",
                        fontsize=9,
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
    """Loss per epoch for each model: training dashed, test solid, one colour per model."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for k, r in enumerate(results):
        colour = f"C{k % 10}"
        history = r["history"]
        for key, style, phase in (("loss", "--", "train"), ("val_loss", "-", "test")):
            values = history.get(key, [])
            ax.plot(
                range(1, len(values) + 1),
                values,
                style,
                marker="." if len(values) < 15 else None,  # a single epoch is still visible
                color=colour,
                label=_label(f"{r['cell']['model']} {phase}"),
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(_label(title), fontsize=10)
    ax.legend(fontsize=8)
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


def write_gallery(
    batch: SpectrumBatch,
    renderer: Renderer,
    shape: tuple[int, int, int],
    out_png: Path | str,
    per_class: int = 4,
) -> Path:
    """Render the first ``per_class`` spectra of each class in ``batch`` and write them as
    one PNG: a row per class (sorted by name), titled with the class and object id.
    Returns the path written. Images are shown as rendered (grey for 1 channel)."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    out_png = Path(out_png)
    labels = np.asarray(batch.labels).astype(str)
    classes = sorted(set(labels)) or [""]
    picks = [np.flatnonzero(labels == c)[:per_class] for c in classes]
    images = renderer.render(batch.take(np.concatenate(picks).astype(np.int64)), shape)
    height, width = shape[0], shape[1]
    scale = max(1.0, 160 / max(height, width))
    cell = (width * scale / 80 + 0.2, height * scale / 80 + 0.4)
    fig = Figure(figsize=(cell[0] * per_class, cell[1] * len(classes)), dpi=80)
    axes = fig.subplots(len(classes), per_class, squeeze=False)
    k = 0
    for row, (cls, pick) in enumerate(zip(classes, picks, strict=True)):
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_axis_off()
            if col < len(pick):
                image = images[k]
                k += 1
                ax.imshow(
                    image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1
                )
                ax.set_title(f"{cls or '?'} {batch.ids[pick[col]]}", fontsize=8)
    fig.suptitle(f"renderer {renderer.name!r} {'x'.join(map(str, shape))}", fontsize=9)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    return out_png
