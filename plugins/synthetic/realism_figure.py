"""The realism figure of `bench data realism --figure`: per class (rows), the features
that give the synthetic spectra away most (the discriminator's top ones), real against
synthetic as empirical cumulative distributions on one axis (no binning: a class with a
dozen real spectra shows each one as a step), the class's ROC-AUC with its 95 % interval
and counts in the row's title.

Drawn as the core's report figures are (a ``matplotlib.figure.Figure``, Agg, no pyplot
state; Okabe & Ito's colour-blind-safe palette; 150 dpi), and written atomically: a
temporary file beside the target, then a rename.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench_plugins.synthetic.realism_features import feature_names, feature_unit

DPI = 150
REAL, SYNTHETIC = "#0072B2", "#E69F00"  # Okabe-Ito blue and orange
TOP = 4


def check_figure_path(path: Path) -> None:
    """``--figure PATH``: a ``.png`` in an existing, writable folder (BenchError, one line,
    before the discriminator runs)."""
    path = Path(path)
    where = f"--figure {path}"
    if path.suffix.lower() != ".png":
        raise BenchError(f"{where}: expected a .png file name")
    if path.is_dir():
        raise BenchError(f"{where}: is a folder; expected a .png file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BenchError(f"{where}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BenchError(f"{where}: folder {folder} is not writable")


def draw_realism(
    report: dict[str, Any], rows: dict[str, tuple[np.ndarray, np.ndarray]], top: int = TOP
) -> bytes:
    """The figure as PNG bytes: one row per class of ``rows`` (``realism_report``'s
    ``keep``: features and real = 1 per class), ``top`` features each."""
    from matplotlib.figure import Figure

    classes = [c for c in report["classes"] if c in rows]
    if not classes:
        raise BenchError("no class had enough real spectra for the realism figure")
    names = feature_names()
    fig = Figure(figsize=(3.0 * top, 2.6 * len(classes) + 0.4), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(classes), 1))
    for sub, label in zip(subfigs, classes, strict=True):
        entry = report["classes"][label]
        x, y = rows[label]
        sub.suptitle(_row_title(label, entry), fontsize=9, x=0.01, ha="left")
        axes = np.atleast_1d(sub.subplots(1, top))
        for ax, feature in zip(axes, entry["top_features"][:top], strict=False):
            column = x[:, names.index(feature["name"])]
            _ecdf_panel(ax, column[y == 1], column[y == 0], feature)
        for ax in axes[len(entry["top_features"][:top]) :]:
            ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _row_title(label: str, entry: dict[str, Any]) -> str:
    lo, hi = entry.get("auc_interval") or (float("nan"), float("nan"))
    return (
        f"{label}: ROC-AUC {entry['auc']:.3f} [{lo:.3f}, {hi:.3f}] 95 % "
        f"(0.5: alike), real {entry['n_real']}, synthetic {entry['n_synthetic']}"
    )


def _ecdf_panel(ax: Any, real: np.ndarray, synthetic: np.ndarray, feature: dict[str, Any]) -> None:
    """Both empirical CDFs of one feature on one axis; values not measurable (NaN) are
    left out and counted in the legend."""
    for values, name, colour, style in (
        (real, "real", REAL, "-"),
        (synthetic, "synthetic", SYNTHETIC, "--"),
    ):
        finite = np.sort(values[np.isfinite(values)])
        missing = len(values) - len(finite)
        text = f"{name} ({len(finite)}" + (f", {missing} n/a)" if missing else ")")
        if len(finite):
            fraction = np.arange(1, len(finite) + 1) / len(finite)
            ax.step(finite, fraction, where="post", color=colour, ls=style, lw=1.2, label=text)
        else:
            ax.plot([], [], color=colour, ls=style, label=text)
    ax.set_title(f"{feature['name']} (importance {feature['importance']:.2f})", fontsize=8)
    ax.set_xlabel(feature_unit(feature["name"]), fontsize=7)
    ax.set_ylabel("fraction of spectra ≤ x", fontsize=7)
    both = np.concatenate([real, synthetic])
    both = both[np.isfinite(both)]
    if len(both):  # the middle 99 %: one far outlier does not squash the rest
        lo, hi = np.percentile(both, [0.5, 99.5])
        pad = 0.05 * (hi - lo) or 0.5
        ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(0, 1.02)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="best")


def write_png(png: bytes, path: Path) -> Path:
    """``png`` into ``path`` atomically (a temporary file in the same folder, renamed);
    an OSError is one line naming the path."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise BenchError(f"--figure {path}: cannot write ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(png)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BenchError(f"--figure {path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
