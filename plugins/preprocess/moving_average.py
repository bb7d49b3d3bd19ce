"""The ``moving_average`` preprocessor: the paper's denoising, a moving average over a
window of pixels (numpy, and jit-compiled on the device: one kernel for both)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.interfaces import DeviceFunction, Preprocessor
from bench.kernels import fill_bad, finish, good_pixels, wide_float, window_sum
from bench.options import Option
from bench.spectra import SpectrumBatch


def smooth(xp: Any, flux: Any, ivar: Any, window: int, weighted: bool) -> tuple[Any, Any]:
    """(flux, ivar) float32 averaged over ``window`` pixels, bad pixels left out (see
    :class:`MovingAverage`); ``xp`` is numpy or jax.numpy."""
    good = good_pixels(xp, flux, ivar)
    wide = wide_float(xp)
    flux = fill_bad(xp, flux, good).astype(wide)
    ivar = xp.where(good, ivar, 0.0).astype(wide)
    weight = ivar if weighted else good.astype(wide)
    sum_w = window_sum(xp, weight, window)
    sum_fw = window_sum(xp, flux * weight, window)
    has = sum_w > 0
    smoothed = xp.where(has, sum_fw / xp.where(has, sum_w, 1.0), flux)
    if weighted:
        new_ivar = sum_w
    else:
        variance = xp.where(good, 1.0 / xp.where(good, ivar, 1.0), 0.0)
        sum_var = window_sum(xp, variance, window)
        ok = sum_var > 0
        new_ivar = xp.where(ok, sum_w**2 / xp.where(ok, sum_var, 1.0), 0.0)
    new_ivar = xp.where(good, new_ivar, 0.0)
    with np.errstate(over="ignore"):
        return finish(xp, smoothed.astype(xp.float32), new_ivar.astype(xp.float32))


class MovingAverage(Preprocessor):
    """Centred moving average of ``window`` pixels, truncated at the ends of the spectrum.

    Bad pixels (ivar 0, non-finite) are left out of every average, not smeared in; with
    ``weighted`` each good pixel counts by its ivar. The output ivar is that of the
    average (sum of ivar when weighted; n^2 / sum of variances otherwise). Pixels that were
    bad stay bad (ivar 0) but get the average of their good neighbours as flux.
    """

    name = "moving_average"
    description = "Moving-average denoising (the paper's preprocessing); masked pixels excluded."
    options = (
        Option("window", int, 5, "window width in pixels", ge=1),
        Option("weighted", bool, False, "weight pixels by inverse variance"),
    )

    def device_function(self, loglam: np.ndarray) -> DeviceFunction | None:
        import jax.numpy as jnp

        window, weighted = int(self.params["window"]), bool(self.params["weighted"])
        return lambda flux, ivar: smooth(jnp, flux, ivar, window, weighted)

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        flux, ivar = smooth(
            np, batch.flux, batch.ivar, self.params["window"], self.params["weighted"]
        )
        return batch.with_arrays(flux=flux, ivar=ivar)
