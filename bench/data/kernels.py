"""Vectorised numpy kernels on (N, P) flux/ivar arrays: helpers for plugin authors, used by
the built-in preprocessors and renderers alike (public; import from ``bench.data.kernels``).

A pixel is *good* when its flux is finite and its ivar is finite and positive. Kernels
never return NaN or inf: bad pixels get a finite flux (interpolated) and ivar 0.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.spectra import SpectrumBatch

# Pixels (an even stride) from which robust flux limits are taken: enough for 0.5% tails.
ROBUST_SAMPLES = 512


def good_pixels(flux: np.ndarray, ivar: np.ndarray) -> np.ndarray:
    """Boolean (N, P): finite flux with finite, positive ivar (NaN compares False)."""
    good = np.greater(ivar, 0)
    good &= np.less(ivar, np.inf)
    good &= np.isfinite(flux)
    return good


def fill_bad(flux: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Flux with bad pixels replaced by linear interpolation between the nearest good
    neighbours in the same row (the nearest good value at the ends; 0 for a row with no
    good pixel). Float32, always finite; work beyond two passes is per run of bad pixels."""
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


def window_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over a centred window of ``window`` pixels along axis 1, truncated at the edges
    (float64, via cumulative sums)."""
    n, p = values.shape
    before = window // 2
    after = window - 1 - before
    csum = np.zeros((n, p + 1), np.float64)
    np.cumsum(values, axis=1, dtype=np.float64, out=csum[:, 1:])
    hi = np.minimum(np.arange(p) + after + 1, p)
    lo = np.maximum(np.arange(p) - before, 0)
    return csum[:, hi] - csum[:, lo]


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


def robust_range(
    flux: np.ndarray, good: np.ndarray, low: float, high: float, max_samples: int = ROBUST_SAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``low`` and ``high`` percentiles (nearest rank) of the good pixels, taken
    on an evenly strided subsample of at most about ``max_samples`` pixels. Rows with no
    good pixel give (0, 0)."""
    step = max(1, flux.shape[1] // max_samples)
    picked = good[:, ::step]
    sub = np.where(picked, flux[:, ::step], np.float32(np.inf))
    sub.sort(axis=1)
    n_good = np.add.reduce(picked.view(np.uint8), axis=1, dtype=np.int32)
    last = np.maximum(n_good - 1, 0)
    rows = np.arange(len(sub))
    lo = sub[rows, np.round(last * (low / 100.0)).astype(np.intp)]
    hi = sub[rows, np.round(last * (high / 100.0)).astype(np.intp)]
    empty = n_good == 0
    return (
        np.where(empty, np.float32(0), lo).astype(np.float32, copy=False),
        np.where(empty, np.float32(0), hi).astype(np.float32, copy=False),
    )


def good_median(values: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Per-row median of the good pixels (NaN for a row with none)."""
    vals = np.where(good, values, np.inf).astype(np.float64)
    vals.sort(axis=1)
    n_good = good.sum(axis=1)
    lo = np.take_along_axis(vals, np.maximum((n_good - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(vals, np.maximum(n_good // 2, 0)[:, None], axis=1)[:, 0]
    with np.errstate(invalid="ignore"):
        return np.where(n_good > 0, 0.5 * (lo + hi), np.nan)


def running_median(flux: np.ndarray, window: int) -> np.ndarray:
    """Median over a centred odd ``window`` along axis 1 (edges padded by reflection)."""
    half = window // 2
    padded = np.pad(flux, ((0, 0), (half, half)), mode="reflect")
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)
    return np.median(view, axis=-1).astype(np.float32)


def finish(
    batch: SpectrumBatch, flux: np.ndarray, ivar: np.ndarray, **arrays: np.ndarray
) -> SpectrumBatch:
    """A batch with ``flux``/``ivar`` made safe: ivar 0 and interpolated flux at bad pixels."""
    good = good_pixels(flux, ivar)
    return batch.with_arrays(
        flux=fill_bad(flux, good),
        ivar=np.where(good, ivar, 0.0).astype(np.float32),
        **arrays,
    )


def require(ok: bool, where: str, expected: str, value: object) -> None:
    """Raise a one-line BenchError naming the option ``where`` unless ``ok``."""
    if not ok:
        raise BenchError(f"{where}: expected {expected}, got {value!r}")
