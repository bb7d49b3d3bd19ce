"""The ``clip`` preprocessor: sigma clipping of isolated one-pixel outliers."""

from __future__ import annotations

import numpy as np

from bench.interfaces import Preprocessor
from bench.kernels import (
    fill_bad,
    finish_batch,
    good_median,
    good_pixels,
    require,
    running_median,
)
from bench.options import Option
from bench.spectra import SpectrumBatch


class Clip(Preprocessor):
    """Sigma clipping of isolated outliers (cosmic rays, hot or dead pixels).

    The excess of each pixel over a running median of ``window`` pixels is compared with
    its noise, the larger of 1/sqrt(ivar) and the row's robust scatter (1.4826 x MAD of
    the excesses). A pixel is clipped when its excess is beyond ``sigma`` x noise and
    both neighbours stand less than ``isolation`` x that excess above the median (in the
    same direction): a one-pixel spike, not an emission or absorption line, which the
    instrument's resolution spreads over several pixels. Clipped pixels get ivar 0 and
    the mean of their neighbours as flux.
    """

    name = "clip"
    description = "Sigma-clip isolated one-pixel outliers (ivar 0 at clipped pixels)."
    options = (
        Option("sigma", float, 5.0, "clip threshold in units of the pixel noise", gt=0.0),
        Option("window", int, 15, "running-median window in pixels (odd, >= 3)", ge=3),
        Option(
            "isolation",
            float,
            0.3,
            "neighbours' excess must stay below this fraction",
            gt=0.0,
            le=1.0,
        ),  # fmt: skip
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        w = self.params["window"]
        require(w % 2 == 1, "clip.window", "an odd integer >= 3", w)

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        good = good_pixels(np, batch.flux, batch.ivar)
        flux = fill_bad(np, batch.flux, good)
        excess = flux - running_median(flux, self.params["window"])
        scatter = np.nan_to_num(1.4826 * good_median(np, np.abs(excess), good), nan=0.0)
        with np.errstate(divide="ignore"):
            sigma_pix = 1.0 / np.sqrt(np.where(good, batch.ivar, 1.0))
        noise = np.maximum(sigma_pix, scatter[:, None])
        padded = np.pad(excess, ((0, 0), (1, 1)), mode="edge")
        sign = np.sign(excess)
        neighbour = np.maximum(padded[:, :-2] * sign, padded[:, 2:] * sign)
        isolated = neighbour < self.params["isolation"] * np.abs(excess)
        outlier = good & isolated & (np.abs(excess) > self.params["sigma"] * noise)
        between = 0.5 * (
            np.pad(flux, ((0, 0), (1, 1)), mode="edge")[:, :-2]
            + np.pad(flux, ((0, 0), (1, 1)), mode="edge")[:, 2:]
        )
        ivar = np.where(good & ~outlier, batch.ivar, 0.0).astype(np.float32)
        return finish_batch(batch, np.where(outlier, between, flux), ivar)
