"""Per-spectrum flux normalisation."""

from __future__ import annotations

import numpy as np

from bench.data.kernels import fill_bad, finish, good_median, good_pixels
from bench.interfaces import DeviceFunction, Preprocessor
from bench.options import Option
from bench.spectra import SpectrumBatch


class Normalize(Preprocessor):
    """Scale each spectrum using its good pixels only.

    - ``median``: divide by the median flux (median 1). A spectrum whose median is not
      positive is divided by its mean absolute flux instead (left as is when that is 0).
    - ``ivar_mean_std`` (as QuasarNET): subtract the inverse-variance-weighted mean and
      divide by the weighted standard deviation (zero mean, unit std; std 0 -> 1).

    ivar is scaled to match; a spectrum with no good pixel is left unchanged.
    """

    name = "normalize"
    description = "Normalise flux per spectrum: median, or ivar-weighted mean/std (QuasarNET)."
    options = (
        Option("method", str, "median", "normalisation", choices=("median", "ivar_mean_std")),
    )

    def device_function(self, loglam: np.ndarray) -> DeviceFunction | None:
        from bench_plugins.preprocess.device import normalize

        return normalize(str(self.params["method"]))

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        good = good_pixels(batch.flux, batch.ivar)
        flux = fill_bad(batch.flux, good).astype(np.float64)
        ivar = np.where(good, batch.ivar, 0.0).astype(np.float64)
        if self.params["method"] == "median":
            offset = np.zeros(len(flux))
            scale = good_median(flux, good)
            n_good = np.maximum(good.sum(axis=1), 1)
            mean_abs = np.where(good, np.abs(flux), 0.0).sum(axis=1) / n_good
            scale = np.where(np.isfinite(scale) & (scale > 0), scale, mean_abs)
        else:
            sum_w = ivar.sum(axis=1)
            safe_w = np.where(sum_w > 0, sum_w, 1.0)
            offset = (ivar * flux).sum(axis=1) / safe_w
            scale = np.sqrt((ivar * (flux - offset[:, None]) ** 2).sum(axis=1) / safe_w)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        new_flux = (flux - offset[:, None]) / scale[:, None]
        new_ivar = ivar * scale[:, None] ** 2
        return finish(batch, new_flux.astype(np.float32), new_ivar.astype(np.float32))
