"""The paper's denoising: a moving average over a window of pixels."""

from __future__ import annotations

import numpy as np

from bench.data.kernels import fill_bad, finish, good_pixels, window_sum
from bench.interfaces import DeviceFunction, Preprocessor
from bench.options import Option
from bench.spectra import SpectrumBatch


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
        from bench_plugins.preprocess.device import moving_average

        return moving_average(int(self.params["window"]), bool(self.params["weighted"]))

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        window = self.params["window"]
        good = good_pixels(batch.flux, batch.ivar)
        flux = fill_bad(batch.flux, good).astype(np.float64)
        ivar = np.where(good, batch.ivar, 0.0).astype(np.float64)
        weight = ivar if self.params["weighted"] else good.astype(np.float64)
        sum_w = window_sum(weight, window)
        sum_fw = window_sum(flux * weight, window)
        has = sum_w > 0
        smooth = np.where(has, sum_fw / np.where(has, sum_w, 1.0), flux)
        if self.params["weighted"]:
            new_ivar = sum_w
        else:
            variance = np.where(good, 1.0 / np.where(good, ivar, 1.0), 0.0)
            sum_var = window_sum(variance, window)
            ok = sum_var > 0
            new_ivar = np.where(ok, sum_w**2 / np.where(ok, sum_var, 1.0), 0.0)
        new_ivar = np.where(good, new_ivar, 0.0)
        with np.errstate(over="ignore"):
            return finish(batch, smooth.astype(np.float32), new_ivar.astype(np.float32))
