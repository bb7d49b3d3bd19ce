"""The observed spectra made ready for the ``template_fit`` scan: on a uniform log10 grid
(interpolated when the wavelengths are not), weights from the inverse variances with bad
pixels at zero, each spectrum scaled to unit typical flux."""

from __future__ import annotations

import numpy as np

from bench.spectra import BOSS_DLOGLAM, NO_MEASUREMENT, SpectrumBatch


def uniform_grid(loglam: np.ndarray) -> tuple[float, float, np.ndarray | None]:
    """(start, step, index) of a log10 grid: index None when ``loglam`` is uniform, else
    positions (fractional) of a uniform grid of the median step to interpolate onto."""
    steps = np.diff(loglam)
    step = float(np.median(steps)) if len(steps) else BOSS_DLOGLAM
    if len(steps) and np.allclose(steps, step, rtol=1e-3, atol=0):
        return float(loglam[0]), step, None
    new = np.arange(loglam[0], loglam[-1] + 0.5 * step, step)
    return float(loglam[0]), step, np.interp(new, loglam, np.arange(len(loglam)))


def prepare(batch: SpectrumBatch) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(loglam0, step, flux, weight) float64 on a uniform log grid; weight 0 where the
    pixel has no inverse variance, a non-finite value or a fatal mask bit (NODATA,
    FULLREJECT, COMBINEREJ: like the SDSS pipeline, other and_mask bits are kept); each spectrum scaled
    to unit typical flux (chi-square unchanged)."""
    flux = np.asarray(batch.flux, np.float64)
    ivar = np.asarray(batch.ivar, np.float64)
    fatal = (np.asarray(batch.mask) & NO_MEASUREMENT) != 0
    good = np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0) & ~fatal
    weight = np.where(good, ivar, 0.0)
    flux = np.where(good, flux, 0.0)
    start, step, pos = uniform_grid(np.asarray(batch.loglam, np.float64))
    if pos is not None:
        lo = np.clip(np.floor(pos).astype(int), 0, flux.shape[1] - 1)
        hi = np.clip(lo + 1, 0, flux.shape[1] - 1)
        frac = pos - lo
        flux = flux[:, lo] * (1 - frac) + flux[:, hi] * frac
        weight = np.where(
            (weight[:, lo] > 0) & (weight[:, hi] > 0), np.minimum(weight[:, lo], weight[:, hi]), 0.0
        )
    scale = np.array(
        [
            np.median(np.abs(f[w > 0])) if (w > 0).sum() else 1.0
            for f, w in zip(flux, weight, strict=True)
        ]
    )
    scale = np.where(scale > 0, scale, 1.0)
    return start, step, flux / scale[:, None], weight * scale[:, None] ** 2
