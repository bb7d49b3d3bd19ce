"""Does a spectrum look like the training data? A simple, documented statistic.

For each spectrum: its median S/N (median of ``flux * sqrt(ivar)`` over good pixels) and
its flux scale (median ``|flux|`` over good pixels). Training stores the 1st-99th
percentile of both over a seeded sample of its training spectra in ``cell.json``
(``input_range``). A spectrum is *outside* when a statistic is below half the 1st
percentile or above twice the 99th (for positive values; the margin is ``|value|`` in
general), so that noise in the percentiles of a small sample does not raise alarms;
`bench predict` warns when more than a few inputs are outside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.spectra import SpectrumBatch, SpectrumSource

STATS = ("median_snr", "flux_scale")
SAMPLE = 256  # training spectra read to estimate the range
PERCENTILES = (1.0, 99.0)


def input_stats(batch: SpectrumBatch) -> dict[str, np.ndarray]:
    """Per-spectrum median S/N and flux scale (NaN for a spectrum with no good pixel)."""
    flux = np.asarray(batch.flux, dtype=np.float64)
    ivar = np.asarray(batch.ivar, dtype=np.float64)
    good = (ivar > 0) & np.isfinite(flux)
    if batch.mask is not None:
        good &= np.asarray(batch.mask) == 0
    snr = np.where(good, flux * np.sqrt(np.where(good, ivar, 0.0)), np.nan)
    scale = np.where(good, np.abs(flux), np.nan)
    with np.errstate(all="ignore"):
        rows_ok = good.any(axis=1)
        med_snr = np.full(len(flux), np.nan)
        med_scale = np.full(len(flux), np.nan)
        med_snr[rows_ok] = np.nanmedian(snr[rows_ok], axis=1)
        med_scale[rows_ok] = np.nanmedian(scale[rows_ok], axis=1)
    return {"median_snr": med_snr, "flux_scale": med_scale}


def training_range(source: SpectrumSource, index: np.ndarray, seed: int) -> dict[str, Any]:
    """The 1st-99th percentile of each statistic over up to :data:`SAMPLE` of ``index``."""
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(index, size=min(SAMPLE, len(index)), replace=False))
    stats = input_stats(source.read(take))
    out: dict[str, Any] = {"percentiles": list(PERCENTILES), "n": len(take)}
    for name in STATS:
        values = stats[name][np.isfinite(stats[name])]
        out[name] = [float(v) for v in np.percentile(values, PERCENTILES)] if len(values) else None
    return out


def outside(batch: SpectrumBatch, rng: dict[str, Any]) -> np.ndarray:
    """True for each spectrum whose statistics fall outside the training range."""
    stats = input_stats(batch)
    out = np.zeros(len(batch), dtype=bool)
    for name in STATS:
        bounds = rng.get(name)
        if bounds:
            low, high = bounds[0] - abs(bounds[0]) / 2, bounds[1] + abs(bounds[1])
            values = stats[name]
            out |= ~np.isfinite(values) | (values < low) | (values > high)
    return out
