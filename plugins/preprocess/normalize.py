"""The ``normalize`` preprocessor: per-spectrum flux scaling (numpy, and jit-compiled on
the device: one kernel for both)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.interfaces import DeviceFunction, Preprocessor
from bench.kernels import fill_bad, finish, good_median, good_pixels, wide_float
from bench.options import Option
from bench.spectra import SpectrumBatch


def normalized(xp: Any, flux: Any, ivar: Any, method: str) -> tuple[Any, Any]:
    """(flux, ivar) float32 scaled by ``method`` (see :class:`Normalize`); ``xp`` is numpy
    or jax.numpy."""
    good = good_pixels(xp, flux, ivar)
    wide = wide_float(xp)
    flux = fill_bad(xp, flux, good).astype(wide)
    ivar = xp.where(good, ivar, 0.0).astype(wide)
    if method == "median":
        offset = xp.zeros(flux.shape[0], wide)
        scale = good_median(xp, flux, good)
        n_good = xp.maximum(good.sum(axis=1), 1)
        mean_abs = xp.where(good, xp.abs(flux), 0.0).sum(axis=1) / n_good
        scale = xp.where(xp.isfinite(scale) & (scale > 0), scale, mean_abs)
    else:
        sum_w = ivar.sum(axis=1)
        safe_w = xp.where(sum_w > 0, sum_w, 1.0)
        offset = (ivar * flux).sum(axis=1) / safe_w
        scale = xp.sqrt((ivar * (flux - offset[:, None]) ** 2).sum(axis=1) / safe_w)
    scale = xp.where(xp.isfinite(scale) & (scale > 0), scale, 1.0)
    new_flux = (flux - offset[:, None]) / scale[:, None]
    new_ivar = ivar * scale[:, None] ** 2
    return finish(xp, new_flux.astype(xp.float32), new_ivar.astype(xp.float32))


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
        import jax.numpy as jnp

        method = str(self.params["method"])
        return lambda flux, ivar: normalized(jnp, flux, ivar, method)

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        flux, ivar = normalized(np, batch.flux, batch.ivar, self.params["method"])
        return batch.with_arrays(flux=flux, ivar=ivar)
