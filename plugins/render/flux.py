"""The ``none`` renderer: flux vectors for 1-D models."""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Renderer
from bench.kernels import rebin
from bench.spectra import SpectrumBatch


def flux_vectors(flux: np.ndarray, length: int) -> np.ndarray:
    """(N, length) float32: ``flux`` averaged onto ``length`` equal bins over its pixels
    (fractional overlaps; unchanged when the length matches); non-finite values count as 0."""
    flux = np.nan_to_num(np.asarray(flux, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    p = flux.shape[1]
    if length == p:
        return flux
    old = np.arange(p + 1, dtype=np.float64)
    new = np.linspace(0.0, p, length + 1)
    mean, _, _ = rebin(flux, np.ones_like(flux, np.float64), old, new)
    return mean.astype(np.float32)


class FluxPassthrough(Renderer):
    """Flux as a (L, 1) vector per spectrum; averaged onto L bins when L differs from the
    batch's pixel count. Non-finite flux becomes 0 (use ``mask`` and ``normalize`` first)."""

    name = "none"
    description = "No picture: the flux vector (N, L, 1) for 1-D models."
    default_for = "flux"

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        if len(shape) != 2 or shape[1] != 1 or not shape[0] > 0:
            raise BenchError(
                f"renderer 'none': shape {tuple(shape)} is not valid; expected (pixels, 1)"
            )
        return flux_vectors(batch.flux, int(shape[0]))[:, :, None]
