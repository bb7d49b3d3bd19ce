"""Array kernels on (N, P) flux/ivar batches, for plugin authors (public API: import
from ``bench.kernels``). The built-in preprocessors and renderers are made of them.

A pixel is *good* when its flux is finite and its ivar is finite and positive. Kernels
never return NaN or inf: bad pixels get a finite flux (interpolated) and ivar 0.

Kernels with a device twin take the array module first, ``xp``: ``numpy`` or
``jax.numpy`` (as ``template_fit``'s ``scan.chi2_scan``), so one function serves a plugin's numpy
path and the jit-compiled ``device_function``; with jax they give the numpy results to
float32 rounding. They accumulate in :func:`wide_float` (float64 with numpy).

- pixels: ``good_pixels``, ``fill_bad``, ``finish`` (and ``finish_batch`` for a
  :class:`~bench.spectra.SpectrumBatch`);
- statistics per spectrum: ``window_sum``, ``good_median``, ``robust_range``;
- numpy only: ``running_median``, ``edges_from_centers``, ``rebin``; ``require`` checks
  an option value.

This module imports numpy only; jax comes in as ``xp`` from the caller (or is imported
inside a function), so importing it stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.spectra import SpectrumBatch

# Pixels (an even stride) from which robust flux limits are taken: enough for 0.5% tails.
ROBUST_SAMPLES = 512

__all__ = [
    "ROBUST_SAMPLES",
    "edges_from_centers",
    "fill_bad",
    "finish",
    "finish_batch",
    "good_median",
    "good_pixels",
    "rebin",
    "require",
    "robust_range",
    "running_median",
    "wide_float",
    "window_sum",
]


def wide_float(xp: Any) -> Any:
    """The float dtype kernels accumulate in: float64 with numpy, jax's default float
    (float32 unless x64 is enabled) with jax.numpy."""
    return xp.result_type(float)


def good_pixels(xp: Any, flux: Any, ivar: Any) -> Any:
    """Boolean (N, P): finite flux with finite, positive ivar (NaN compares False)."""
    good = ivar > 0
    good &= ivar < xp.inf  # in place with numpy; a new array with jax
    good &= xp.isfinite(flux)
    return good


def fill_bad(xp: Any, flux: Any, good: Any) -> Any:
    """Flux with bad pixels replaced by linear interpolation between the nearest good
    neighbours in the same row (the nearest good value at the ends; 0 for a row with no
    good pixel). Float32, always finite."""
    # Two algorithms: numpy visits only the runs of bad pixels (cost follows the bad
    # pixels), which needs data-dependent shapes that jit cannot compile; jax scans
    # every pixel for its nearest good neighbours (cummax/cummin, static shapes).
    if xp is np:
        return _fill_bad_runs(flux, good)
    return _fill_bad_scan(flux, good)


def _fill_bad_runs(flux: np.ndarray, good: np.ndarray) -> np.ndarray:
    """numpy ``fill_bad``: work beyond two passes is per run of bad pixels."""
    out = np.array(flux, np.float32, copy=True)
    n, p = out.shape
    padded = np.zeros((n, p + 2), bool)  # a good sentinel each side: runs end in their row
    np.logical_not(good, out=padded[:, 1:-1])
    flat = padded.ravel()
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    if len(edges) == 0:
        return out
    starts, ends = edges[0::2], edges[1::2]
    row = starts // (p + 2)
    left = starts % (p + 2) - 2  # last good pixel before the run (-1: none)
    right = ends % (p + 2) - 1  # first good pixel after the run (p: none)
    has_left, has_right = left >= 0, right < p
    f_left = out[row, np.maximum(left, 0)]
    f_right = out[row, np.minimum(right, p - 1)]
    lengths = ends - starts
    run = np.repeat(np.arange(len(starts)), lengths)
    col = left[run] + 1 + (np.arange(len(run)) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    t = (col - left[run]) / (right[run] - left[run])
    both = f_left[run] + t * (f_right[run] - f_left[run])
    value = np.where(
        has_left[run] & has_right[run],
        both,
        np.where(has_left[run], f_left[run], np.where(has_right[run], f_right[run], 0.0)),
    )
    out[row[run], col] = value
    return out


def _fill_bad_scan(flux: Any, good: Any) -> Any:
    """jax ``fill_bad``: nearest good neighbours of every pixel by cumulative max/min."""
    import jax
    import jax.numpy as jnp

    p = flux.shape[1]
    flux = jnp.where(jnp.isfinite(flux), flux, 0.0).astype(jnp.float32)
    idx = jnp.arange(p)
    left = jax.lax.cummax(jnp.where(good, idx, -1), axis=1)
    right = jax.lax.cummin(jnp.where(good, idx, p), axis=1, reverse=True)
    f_left = jnp.take_along_axis(flux, jnp.clip(left, 0, p - 1), axis=1)
    f_right = jnp.take_along_axis(flux, jnp.clip(right, 0, p - 1), axis=1)
    has_l, has_r = left >= 0, right < p
    frac = (idx - left) / jnp.maximum(right - left, 1)
    both = f_left + frac * (f_right - f_left)
    value = jnp.where(has_l & has_r, both, jnp.where(has_l, f_left, f_right))
    return jnp.where(good, flux, jnp.where(has_l | has_r, value, 0.0)).astype(jnp.float32)


def finish(xp: Any, flux: Any, ivar: Any) -> tuple[Any, Any]:
    """``flux``/``ivar`` made safe (float32): ivar 0 and interpolated flux at bad pixels."""
    good = good_pixels(xp, flux, ivar)
    return fill_bad(xp, flux, good), xp.where(good, ivar, 0.0).astype(xp.float32)


def finish_batch(
    batch: SpectrumBatch, flux: np.ndarray, ivar: np.ndarray, **arrays: np.ndarray
) -> SpectrumBatch:
    """``batch`` with ``flux``/``ivar`` made safe by :func:`finish` (and other arrays
    such as ``loglam`` or ``mask`` replaced)."""
    safe_flux, safe_ivar = finish(np, flux, ivar)
    return batch.with_arrays(flux=safe_flux, ivar=safe_ivar, **arrays)


def window_sum(xp: Any, values: Any, window: int) -> Any:
    """Sum over a centred window of ``window`` pixels along axis 1, truncated at the edges."""
    before = window // 2
    after = window - 1 - before
    # Two algorithms: numpy differences float64 cumulative sums (one pass, any window);
    # in float32 on the device those differences would lose the precision, so jax sums
    # each window directly.
    if xp is not np:
        import jax

        return jax.lax.reduce_window(
            values, 0.0, jax.lax.add, (1, window), (1, 1), ((0, 0), (before, after))
        )
    n, p = values.shape
    csum = np.zeros((n, p + 1), np.float64)
    np.cumsum(values, axis=1, dtype=np.float64, out=csum[:, 1:])
    hi = np.minimum(np.arange(p) + after + 1, p)
    lo = np.maximum(np.arange(p) - before, 0)
    return csum[:, hi] - csum[:, lo]


def good_median(xp: Any, values: Any, good: Any) -> Any:
    """Per-row median of the good pixels, in :func:`wide_float` (NaN for a row with none)."""
    vals = xp.sort(xp.where(good, values, xp.inf).astype(wide_float(xp)), axis=1)
    n_good = good.sum(axis=1)
    lo = xp.take_along_axis(vals, xp.maximum((n_good - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = xp.take_along_axis(vals, xp.maximum(n_good // 2, 0)[:, None], axis=1)[:, 0]
    with np.errstate(invalid="ignore"):
        return xp.where(n_good > 0, 0.5 * (lo + hi), xp.nan)


def robust_range(
    xp: Any,
    flux: Any,
    good: Any,
    low: float,
    high: float,
    max_samples: int = ROBUST_SAMPLES,
) -> tuple[Any, Any]:
    """Per-row ``low`` and ``high`` percentiles (nearest rank) of the good pixels, taken
    on an evenly strided subsample of at most about ``max_samples`` pixels, float32.
    Rows with no good pixel give (0, 0)."""
    step = max(1, flux.shape[1] // max_samples)
    picked = good[:, ::step]
    sub = xp.sort(xp.where(picked, flux[:, ::step], xp.inf), axis=1)
    n_good = picked.sum(axis=1, dtype=xp.int32)
    last = xp.maximum(n_good - 1, 0)
    k_lo = xp.round(last * (low / 100.0)).astype(xp.int32)
    k_hi = xp.round(last * (high / 100.0)).astype(xp.int32)
    lo = xp.take_along_axis(sub, k_lo[:, None], axis=1)[:, 0]
    hi = xp.take_along_axis(sub, k_hi[:, None], axis=1)[:, 0]
    empty = n_good == 0
    return (
        xp.where(empty, 0.0, lo).astype(xp.float32),
        xp.where(empty, 0.0, hi).astype(xp.float32),
    )


def running_median(flux: np.ndarray, window: int) -> np.ndarray:
    """Median over a centred odd ``window`` along axis 1 (edges padded by reflection)."""
    half = window // 2
    padded = np.pad(flux, ((0, 0), (half, half)), mode="reflect")
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)
    return np.median(view, axis=-1).astype(np.float32)


def edges_from_centers(x: np.ndarray) -> np.ndarray:
    """Pixel edges (P+1) halfway between centres, extrapolated at both ends."""
    x = np.asarray(x, np.float64)
    if len(x) == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[2 * x[0] - mid[0]], mid, [2 * x[-1] - mid[-1]]])


def _cumulative_at(values: np.ndarray, old_edges: np.ndarray, new_edges: np.ndarray) -> np.ndarray:
    """Integral of piecewise-constant ``values`` (per old bin, already times bin width)
    from the first old edge to each new edge; linear inside an old bin."""
    n, p = values.shape
    csum = np.zeros((n, p + 1), np.float64)
    np.cumsum(values, axis=1, dtype=np.float64, out=csum[:, 1:])
    pos = np.clip(np.searchsorted(old_edges, new_edges, side="right") - 1, 0, p - 1)
    width = old_edges[pos + 1] - old_edges[pos]
    t = np.clip((new_edges - old_edges[pos]) / width, 0.0, 1.0)
    return csum[:, pos] + t * (csum[:, pos + 1] - csum[:, pos])


def rebin(
    flux: np.ndarray,
    weight: np.ndarray,
    old_edges: np.ndarray,
    new_edges: np.ndarray,
    variance: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Overlap-weighted mean of ``flux`` in each new bin, counting each old pixel by its
    overlap length times ``weight`` (0 excludes it). Conserves the integral of flux over
    the bins where every weight is 1.

    Returns (mean flux, summed weight x length per new bin, variance of the mean or None);
    the mean is 0 where the summed weight is 0. Variance treats old pixels as independent
    and a partly overlapping pixel by its overlap fraction.
    """
    width = np.diff(old_edges)
    w = weight * width
    sum_w = np.diff(_cumulative_at(w, old_edges, new_edges), axis=1)
    sum_fw = np.diff(_cumulative_at(np.where(w > 0, flux, 0.0) * w, old_edges, new_edges), axis=1)
    ok = sum_w > 0
    mean = np.where(ok, sum_fw / np.where(ok, sum_w, 1.0), 0.0)
    var = None
    if variance is not None:
        sum_vw = np.diff(
            _cumulative_at(np.where(w > 0, variance, 0.0) * w * w, old_edges, new_edges),
            axis=1,
        )
        var = np.where(ok, sum_vw / np.where(ok, sum_w, 1.0) ** 2, 0.0)
    return mean, sum_w, var


def require(ok: bool, where: str, expected: str, value: object) -> None:
    """Raise a one-line BenchError naming the option ``where`` unless ``ok``."""
    if not ok:
        raise BenchError(f"{where}: expected {expected}, got {value!r}")
