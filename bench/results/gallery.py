"""`bench plot gallery`'s picture: the images a renderer draws, a row per class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.interfaces import Renderer
    from bench.spectra import SpectrumBatch


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
    fig.savefig(out_png, dpi=150)
    return out_png
