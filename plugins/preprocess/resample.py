"""The ``resample`` preprocessor: flux-conserving rebinning onto a coarser common
log-wavelength grid."""

from __future__ import annotations

import numpy as np

from bench.interfaces import Preprocessor
from bench.kernels import edges_from_centers, finish_batch, good_pixels, rebin, require
from bench.options import Option
from bench.spectra import SpectrumBatch


class Resample(Preprocessor):
    """Rebin onto a uniform log10-wavelength grid, conserving the integral of flux over
    wavelength (each old pixel counts by its overlap with the new pixel, in Angstrom).

    The new pixels cover [``loglam_min``, ``loglam_max``] edge to edge (default: the
    batch's grid, pixel edges included) with ``n_pixels`` pixels, or with a step
    ``factor`` times the old one (the new edges then fall on old edges). Bad pixels are left
    out of the averages; a new pixel with no good pixel gets ivar 0. ivar is propagated
    assuming independent pixels; and_mask bits of contributing pixels are OR-ed.
    """

    name = "resample"
    description = "Flux-conserving rebin onto a coarser common log-wavelength grid."
    options = (
        Option("factor", int, 4, "new pixel = this many old pixels (ignored with n_pixels)", ge=1),
        Option("n_pixels", int, None, "number of pixels of the new grid", ge=2),
        Option("loglam_min", float, None, "left edge of the new grid, log10(Angstrom)"),
        Option("loglam_max", float, None, "right edge of the new grid, log10(Angstrom)"),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        p = self.params
        lo, hi = p["loglam_min"], p["loglam_max"]
        if lo is not None and hi is not None:
            require(lo < hi, "resample.loglam_max", f"a value above loglam_min {lo}", hi)

    def grid(self, loglam: np.ndarray) -> np.ndarray:
        """The new log10-wavelength pixel centres for a batch on ``loglam``."""
        p = self.params
        old_edges = edges_from_centers(loglam)
        lo = old_edges[0] if p["loglam_min"] is None else p["loglam_min"]
        hi = old_edges[-1] if p["loglam_max"] is None else p["loglam_max"]
        require(hi > lo, "resample.loglam_max", f"a value above loglam_min {lo:.4f}", hi)
        if p["n_pixels"] is not None:
            edges = np.linspace(lo, hi, p["n_pixels"] + 1)
        else:
            step = (old_edges[-1] - old_edges[0]) / len(loglam) * p["factor"]
            n = max(int(np.floor((hi - lo) / step + 1e-6)), 1)
            edges = lo + step * np.arange(n + 1)
        return 0.5 * (edges[1:] + edges[:-1])

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        new_loglam = self.grid(batch.loglam)
        old_edges = 10.0 ** edges_from_centers(batch.loglam)
        new_edges = 10.0 ** edges_from_centers(new_loglam)
        good = good_pixels(np, batch.flux, batch.ivar)
        with np.errstate(divide="ignore"):
            variance = np.where(good, 1.0 / np.where(good, batch.ivar, 1.0), 0.0)
        flux, _, var = rebin(batch.flux, good.astype(np.float64), old_edges, new_edges, variance)
        assert var is not None
        with np.errstate(divide="ignore", over="ignore"):
            ivar = np.where(var > 0, 1.0 / np.where(var > 0, var, 1.0), 0.0)
        # and_mask: OR of the old pixels whose centre falls in each new pixel.
        owner = np.searchsorted(new_edges, 10.0**batch.loglam, side="right") - 1
        inside = (owner >= 0) & (owner < len(new_loglam))
        mask = np.zeros((len(batch), len(new_loglam)), np.int32)
        if inside.any():
            starts, idx = np.unique(owner[inside], return_index=True)
            cols = np.flatnonzero(inside)
            mask[:, starts] = np.bitwise_or.reduceat(batch.mask[:, cols], idx, axis=1)
        return finish_batch(
            batch,
            flux.astype(np.float32),
            ivar.astype(np.float32),
            loglam=new_loglam,
            mask=mask,
        )
