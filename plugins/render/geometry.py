"""What every image renderer shares: where each flux sample lands in the image.

x: the batch's wavelength grid spans the full image width, pixel edge to pixel edge
(``x_axis`` "wavelength" is linear in Angstrom like the paper's plots; "loglam" is linear
in log10 wavelength). y: flux is scaled per spectrum between robust limits, the
``percentiles`` of its good pixels widened by ``margin`` times their distance on both
sides, so a spike or a dead pixel does not squash the rest; flux beyond the limits goes
off the image. Bad pixels (ivar 0 or non-finite) are bridged: the line runs straight
between the good pixels on either side; columns before a spectrum's first good pixel or
after its last stay blank (a trimmed spectrum is not extended with flat lines).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.kernels import fill_bad, good_pixels, robust_range


@dataclass(frozen=True)
class Columns:
    """Geometry of P samples over W pixel columns, shared by a batch (one wavelength grid).

    ``x``: sample positions in pixel units, 0 at the left edge, W at the right edge;
    ``boundary_index``/``boundary_t``: the segment (i, i+1) and fraction at each column
    boundary x = 0..W; ``column``: the column each sample falls in; ``starts``: first
    sample of each non-empty column (for ``reduceat``); ``nonempty``: those columns.
    """

    width: int
    x: np.ndarray
    boundary_index: np.ndarray
    boundary_t: np.ndarray
    column: np.ndarray
    starts: np.ndarray
    nonempty: np.ndarray


def columns(loglam: np.ndarray, width: int, x_axis: str = "wavelength") -> Columns:
    """Where the samples of a grid ``loglam`` fall across ``width`` pixel columns."""
    coord = np.power(10.0, loglam) if x_axis == "wavelength" else np.asarray(loglam, np.float64)
    span = coord[-1] - coord[0] if len(coord) > 1 else 1.0
    x = (coord - coord[0]) / span * width
    p = len(x)
    bounds = np.arange(width + 1, dtype=np.float64)
    idx = np.clip(np.searchsorted(x, bounds, side="right") - 1, 0, max(p - 2, 0))
    nxt = np.minimum(idx + 1, p - 1)
    gap = np.where(x[nxt] > x[idx], x[nxt] - x[idx], 1.0)
    t = np.clip((bounds - x[idx]) / gap, 0.0, 1.0)
    column = np.clip(np.floor(x).astype(np.int64), 0, width - 1)
    nonempty, starts = np.unique(column, return_index=True)
    return Columns(width, x, idx, t.astype(np.float32), column, starts, nonempty)


def flux_limits(
    flux: np.ndarray, good: np.ndarray, percentiles: tuple[float, float], margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-spectrum (bottom, top) flux limits of the image; a flat spectrum gets +-1."""
    lo, hi = robust_range(flux, good, percentiles[0], percentiles[1])
    pad = margin * (hi - lo)
    flat = ~(hi - lo > 1e-6 * np.maximum(np.abs(hi), np.abs(lo)))
    bottom = np.where(flat, lo - 1.0, lo - pad)
    top = np.where(flat, hi + 1.0, hi + pad)
    return bottom.astype(np.float32), top.astype(np.float32)


def clean_flux(flux: np.ndarray, ivar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite flux with bad pixels bridged, and the good-pixel mask. When ivar marks no
    pixel of a spectrum good, its finite pixels count as good (data without ivar)."""
    good = good_pixels(flux, ivar)
    none = np.flatnonzero(~good.any(axis=1))
    if len(none):
        good[none] = np.isfinite(flux[none])
    return fill_bad(flux, good), good


def to_rows(flux: np.ndarray, bottom: np.ndarray, top: np.ndarray, height: int) -> np.ndarray:
    """Flux to y in pixel units: 0 at the top edge (flux = top), ``height`` at the bottom."""
    scale = (np.float32(height) / (top - bottom)).astype(np.float32, copy=False)
    y = np.subtract(top[:, None], flux, dtype=np.float32)
    y *= scale[:, None]
    return np.clip(y, np.float32(-2.0 * height), np.float32(3.0 * height), out=y)


def blank_outside(top: np.ndarray, bottom: np.ndarray, good: np.ndarray, cols: Columns) -> None:
    """Empty the spans (in place) of columns outside each spectrum's good pixels."""
    p = good.shape[1]
    has = good.any(axis=1)
    first = cols.column[np.argmax(good, axis=1)]
    last = cols.column[p - 1 - np.argmax(good[:, ::-1], axis=1)]
    first = np.where(has, first, cols.width)
    column = np.arange(cols.width)
    outside = (column < first[:, None]) | (column > last[:, None])
    top[outside] = 0.0
    bottom[outside] = 0.0
