"""Encodings that keep more of the spectrum in 2-D than a thin line.

- ``area``: the line's picture with everything below the line filled (more ink, same
  scaling as ``line``);
- ``fold``: the robust-scaled flux averaged onto height x width bins and folded row by
  row (wavelength runs left to right, then top to bottom), so every pixel is data;
- ``gaf``: a Gramian angular summation field, cos(phi_i + phi_j) with cos(phi) the
  flux scaled to [-1, 1] (rows: the flux averaged onto height bins, columns onto width).

With 3 channels, ``fold`` and ``gaf`` add detail channels instead of repeating grey:
``fold`` [flux, flux minus its running mean, fraction of good pixels]; ``gaf`` [GASF,
GADF = sin(phi_i - phi_j), GASF of the running-mean-subtracted flux].
"""

from __future__ import annotations

import numpy as np

from bench.kernels import robust_range, window_sum
from bench.spectra import SpectrumBatch
from bench_plugins.render.base import SCALING_OPTIONS, ImageRenderer, check_percentiles, image_shape
from bench_plugins.render.flux import flux_vectors
from bench_plugins.render.geometry import blank_outside, clean_flux, flux_limits, to_rows
from bench_plugins.render.line import Line
from bench_plugins.render.raster import envelope, paint_spans, stroke


class Area(Line):
    """The ``line`` picture with the area under the line filled."""

    name = "area"
    description = "Flux vs wavelength as a filled area under the curve (more ink than line)."
    default_for = ""  # not inherited: ``line`` is the default image renderer
    options = tuple(o for o in Line.options if o.name != "backend")

    def device_function(self, loglam: np.ndarray, shape: tuple[int, ...]) -> None:
        """No device version yet (the ``line`` kernel paints a line, not an area)."""
        return None

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        height, width, channels = image_shape(shape, self.name)
        if len(batch) == 0:
            return np.zeros((0, height, width, channels), np.float32)
        cols = self.columns(batch.loglam, width, self.params["x_axis"])
        flux, good = clean_flux(np, batch.flux, batch.ivar)
        bottom, top = flux_limits(np, flux, good, self.percentiles, self.params["margin"])
        ymin, ymax = envelope(np, to_rows(np, flux, bottom, top, height), cols)
        span_top, _ = stroke(np, ymin, ymax, self.params["line_width"])
        span_top, floor = blank_outside(np, span_top, np.full_like(span_top, height), good, cols)
        return paint_spans(span_top, floor, height, channels, self.params["invert"])


def _scaled(flux: np.ndarray, good: np.ndarray, percentiles: tuple[float, float], margin: float):
    """Flux mapped to [0, 1] between the robust limits (clipped)."""
    bottom, top = flux_limits(np, flux, good, percentiles, margin)
    return np.clip((flux - bottom[:, None]) / (top - bottom)[:, None], 0.0, 1.0)


def _detail(flux: np.ndarray, good: np.ndarray, percentiles: tuple[float, float]) -> np.ndarray:
    """Flux minus its running mean over ~1% of the spectrum, mapped to [0, 1] around 0.5."""
    window = max(3, flux.shape[1] // 100)
    ones = np.ones_like(flux, np.float64)
    resid = flux - (window_sum(np, flux, window) / window_sum(np, ones, window)).astype(np.float32)
    lo, hi = robust_range(np, np.abs(resid), good, percentiles[0], percentiles[1])
    scale = np.where(hi > 0, hi, 1.0)
    return np.clip(0.5 + 0.5 * resid / scale[:, None], 0.0, 1.0)


class _Encoding(ImageRenderer):
    options = tuple(o for o in SCALING_OPTIONS if o.name in ("percentiles", "margin"))

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.percentiles = check_percentiles(self.params["percentiles"], f"{self.name}.percentiles")


class Fold(_Encoding):
    """The flux folded into rows: pixel (r, c) is the mean flux of bin r * width + c."""

    name = "fold"
    description = "Flux averaged onto height*width bins and folded into rows (all pixels data)."

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        height, width, channels = image_shape(shape, self.name)
        flux, good = clean_flux(np, batch.flux, batch.ivar)
        planes = [_scaled(flux, good, self.percentiles, self.params["margin"])]
        if channels == 3:
            planes += [_detail(flux, good, self.percentiles), good.astype(np.float32)]
        out = np.stack([flux_vectors(p, height * width) for p in planes], axis=-1)
        return np.clip(out, 0.0, 1.0).reshape(len(batch), height, width, channels)


def _gasf_gadf(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GASF and GADF in [0, 1] of series in [-1, 1] given on the rows and the columns."""
    s_rows, s_cols = np.sqrt(1 - rows**2), np.sqrt(1 - cols**2)
    gasf = rows[:, :, None] * cols[:, None, :] - s_rows[:, :, None] * s_cols[:, None, :]
    gadf = s_rows[:, :, None] * cols[:, None, :] - rows[:, :, None] * s_cols[:, None, :]
    return 0.5 * (gasf + 1), 0.5 * (gadf + 1)


class Gaf(_Encoding):
    """Gramian angular field of the robust-scaled flux (see the module docstring)."""

    name = "gaf"
    description = "Gramian angular field of the flux (GASF; with 3 channels also GADF, detail)."

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        height, width, channels = image_shape(shape, self.name)
        flux, good = clean_flux(np, batch.flux, batch.ivar)
        x = 2 * _scaled(flux, good, self.percentiles, self.params["margin"]) - 1
        gasf, gadf = _gasf_gadf(flux_vectors(x, height), flux_vectors(x, width))
        if channels == 1:
            return np.clip(gasf[..., None], 0.0, 1.0).astype(np.float32)
        d = 2 * _detail(flux, good, self.percentiles) - 1
        detail, _ = _gasf_gadf(flux_vectors(d, height), flux_vectors(d, width))
        return np.clip(np.stack([gasf, gadf, detail], axis=-1), 0.0, 1.0).astype(np.float32)
