"""Masking and outlier clipping."""

from __future__ import annotations

import numpy as np
from bench_plugins.preprocess.arrays import (
    fill_bad,
    finish,
    good_median,
    good_pixels,
    require,
    running_median,
)

from bench.interfaces import Preprocessor
from bench.options import Option
from bench.spectra import SpectrumBatch


class Mask(Preprocessor):
    """Set ivar 0 where and_mask bits are set, ivar <= 0, or flux/ivar is not finite."""

    name = "mask"
    description = "Mask pixels flagged in and_mask, with ivar <= 0 or non-finite values."
    options = (
        Option(
            "bits",
            list,
            None,
            "and_mask bit numbers that mask a pixel (None: any bit)",
            item_type=int,
        ),
        Option(
            "fill", str, "interpolate", "flux at masked pixels", choices=("interpolate", "zero")
        ),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        bits = self.params["bits"]
        if bits is not None:
            for b in bits:
                require(0 <= b <= 31, "mask.bits", "bit numbers 0..31", b)
            self._bitmask = int(sum(1 << b for b in set(bits)))
        else:
            self._bitmask = -1

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        flagged = (batch.mask.astype(np.int64) & self._bitmask) != 0
        good = good_pixels(batch.flux, batch.ivar) & ~flagged
        ivar = np.where(good, batch.ivar, 0.0).astype(np.float32)
        if self.params["fill"] == "zero":
            flux = np.where(good, batch.flux, 0.0).astype(np.float32)
            return batch.with_arrays(flux=flux, ivar=ivar)
        return batch.with_arrays(flux=fill_bad(batch.flux, good), ivar=ivar)


class Clip(Preprocessor):
    """Sigma clipping of outliers (cosmic rays, sky residuals) about a running median.

    A pixel is clipped when |flux - running median| > ``sigma`` x its noise, the noise
    being the larger of 1/sqrt(ivar) and the row's robust scatter (1.4826 x MAD of the
    residuals). Clipped pixels get ivar 0 and the running median as flux. A small
    ``window`` keeps resolved emission lines; a narrow, strong line can still be clipped
    at a low ``sigma``.
    """

    name = "clip"
    description = "Sigma-clip outliers about a running median (ivar 0 at clipped pixels)."
    options = (
        Option("sigma", float, 5.0, "clip threshold in units of the pixel noise"),
        Option("window", int, 5, "running-median window in pixels (odd, >= 3)"),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        w = self.params["window"]
        require(w >= 3 and w % 2 == 1, "clip.window", "an odd integer >= 3", w)
        require(self.params["sigma"] > 0, "clip.sigma", "a positive number", self.params["sigma"])

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        good = good_pixels(batch.flux, batch.ivar)
        flux = fill_bad(batch.flux, good)
        median = running_median(flux, self.params["window"])
        resid = flux - median
        scatter = 1.4826 * good_median(np.abs(resid), good)
        with np.errstate(divide="ignore"):
            sigma_pix = np.where(good, 1.0 / np.sqrt(np.where(good, batch.ivar, 1.0)), np.inf)
        noise = np.maximum(sigma_pix, np.nan_to_num(scatter, nan=0.0)[:, None])
        outlier = good & (np.abs(resid) > self.params["sigma"] * noise)
        ivar = np.where(good & ~outlier, batch.ivar, 0.0).astype(np.float32)
        return finish(batch, np.where(outlier, median, flux), ivar)
