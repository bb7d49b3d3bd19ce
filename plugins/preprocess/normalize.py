"""The ``normalize`` preprocessor: per-spectrum flux scaling (numpy, and jit-compiled on
the device: one kernel for both)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.interfaces import DeviceFunction, Preprocessor
from bench.kernels import fill_bad, finish, good_median, good_pixels, wide_float
from bench.options import Option
from bench.spectra import SpectrumBatch


def normalized(
    xp: Any, flux: Any, ivar: Any, method: str, ends: str = "nearest"
) -> tuple[Any, Any]:
    """(flux, ivar) float32 scaled by ``method``, the pixels beyond the good ones filled
    as ``ends`` says (see :class:`Normalize`); ``xp`` is numpy or jax.numpy."""
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
    new_flux, new_ivar = finish(xp, new_flux.astype(xp.float32), new_ivar.astype(xp.float32))
    if ends == "level":
        level = 1.0 if method == "median" else 0.0
        new_flux = xp.where(beyond_coverage(xp, good), level, new_flux).astype(xp.float32)
    return new_flux, new_ivar


def beyond_coverage(xp: Any, good: Any) -> Any:
    """Boolean (N, P): the pixels before the first and after the last good pixel of each
    row (every pixel of a row with none)."""
    before = xp.cumsum(good, axis=1) == 0
    after = xp.cumsum(good[:, ::-1], axis=1)[:, ::-1] == 0
    return before | after


class Normalize(Preprocessor):
    """Scale each spectrum using its good pixels only.

    - ``median``: divide by the median flux (median 1). A spectrum whose median is not
      positive is divided by its mean absolute flux instead (left as is when that is 0).
    - ``ivar_mean_std`` (as QuasarNET): subtract the inverse-variance-weighted mean and
      divide by the weighted standard deviation (zero mean, unit std; std 0 -> 1).

    ivar is scaled to match; a spectrum with no good pixel is left unchanged. Bad pixels
    get their good neighbours' interpolated flux; beyond the first and last good pixel
    (a file that covers part of the grid) ``ends = "nearest"`` repeats the edge pixel,
    ``"level"`` puts the normalised level (1 for ``median``, 0 for ``ivar_mean_std``), so
    a model sees the same missing range whatever flux the edge pixel happened to have.
    """

    name = "normalize"
    description = "Normalise flux per spectrum: median, or ivar-weighted mean/std (QuasarNET)."
    options = (
        Option("method", str, "median", "normalisation", choices=("median", "ivar_mean_std")),
        Option(
            "ends",
            str,
            "nearest",
            "flux beyond the first/last good pixel: the edge pixel's, or the normalised level",
            choices=("nearest", "level"),
        ),
    )

    def device_function(self, loglam: np.ndarray) -> DeviceFunction | None:
        import jax.numpy as jnp

        method, ends = str(self.params["method"]), str(self.params["ends"])
        return lambda flux, ivar: normalized(jnp, flux, ivar, method, ends)

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        flux, ivar = normalized(
            np, batch.flux, batch.ivar, self.params["method"], self.params["ends"]
        )
        return batch.with_arrays(flux=flux, ivar=ivar)
