"""What every image renderer shares: where each flux sample lands in the image.

x: the batch's wavelength grid spans the full image width, pixel edge to pixel edge
(``x_axis`` "wavelength" is linear in Angstrom like the paper's plots; "loglam" is linear
in log10 wavelength). y: flux is scaled per spectrum between robust limits, the
``percentiles`` of its good pixels widened by ``margin`` times their distance on both
sides, so a spike or a dead pixel does not squash the rest; flux beyond the limits goes
off the image. Bad pixels (ivar 0 or non-finite) are bridged: the line runs straight
between the good pixels on either side; columns before a spectrum's first good pixel or
after its last stay blank (a trimmed spectrum is not extended with flat lines).

The functions after ``columns`` take the array module first (``xp``: numpy or jax.numpy),
so the numpy renderers and the jit-compiled ``line`` share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.kernels import fill_bad, good_pixels, robust_range


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
    xp: Any, flux: Any, good: Any, percentiles: tuple[float, float], margin: float
) -> tuple[Any, Any]:
    """Per-spectrum (bottom, top) flux limits of the image, float32; a flat spectrum
    gets +-1."""
    lo, hi = robust_range(xp, flux, good, percentiles[0], percentiles[1])
    pad = margin * (hi - lo)
    flat = ~(hi - lo > 1e-6 * xp.maximum(xp.abs(hi), xp.abs(lo)))
    bottom = xp.where(flat, lo - 1.0, lo - pad)
    top = xp.where(flat, hi + 1.0, hi + pad)
    return bottom.astype(xp.float32), top.astype(xp.float32)


def clean_flux(xp: Any, flux: Any, ivar: Any) -> tuple[Any, Any]:
    """Finite flux with bad pixels bridged, and the good-pixel mask. When ivar marks no
    pixel of a spectrum good, its finite pixels count as good (data without ivar)."""
    good = good_pixels(xp, flux, ivar)
    good = xp.where(good.any(axis=1)[:, None], good, xp.isfinite(flux))
    return fill_bad(xp, flux, good), good


def to_rows(xp: Any, flux: Any, bottom: Any, top: Any, height: int) -> Any:
    """Flux (float32) to y in pixel units: 0 at the top edge (flux = top), ``height`` at
    the bottom, clipped to [-2, 3] x ``height``."""
    y = top[:, None] - flux
    y *= (height / (top - bottom))[:, None]  # in place with numpy; a new array with jax
    return xp.clip(y, -2.0 * height, 3.0 * height)


def blank_outside(xp: Any, top: Any, bottom: Any, good: Any, cols: Columns) -> tuple[Any, Any]:
    """(top, bottom) with the spans emptied in columns outside each spectrum's good pixels."""
    p = good.shape[1]
    column = xp.asarray(cols.column)
    has = good.any(axis=1)
    first = xp.where(has, column[xp.argmax(good, axis=1)], cols.width)
    last = column[p - 1 - xp.argmax(good[:, ::-1], axis=1)]
    col = xp.arange(cols.width)
    outside = (col < first[:, None]) | (col > last[:, None])
    return xp.where(outside, 0.0, top), xp.where(outside, 0.0, bottom)
