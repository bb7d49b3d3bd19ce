"""The ``line`` renderer: the paper's picture of a spectrum, drawn in numpy or, jit-compiled,
on the accelerator. Both paths share every step up to the inked span of each column
(:func:`line_spans`); numpy then paints only the inked pixels, jax every pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.options import Option
from bench.spectra import SpectrumBatch
from bench_plugins.render.base import SCALING_OPTIONS, ImageRenderer, check_percentiles, image_shape
from bench_plugins.render.geometry import Columns, blank_outside, clean_flux, flux_limits, to_rows
from bench_plugins.render.raster import coverage, envelope, paint_spans, stroke

# Flux pixels per chunk of spectra rendered together (intermediates stay in cache).
CHUNK_PIXELS = 1 << 18


def line_spans(
    xp: Any,
    flux: Any,
    ivar: Any,
    cols: Columns,
    height: int,
    line_width: float,
    percentiles: tuple[float, float],
    margin: float,
) -> tuple[Any, Any]:
    """The inked span (top, bottom) of each column, (N, W) in pixel rows; (0, 0) in
    columns beyond a spectrum's good pixels. ``xp`` is numpy or jax.numpy."""
    flux, good = clean_flux(xp, flux, ivar)
    bottom, top = flux_limits(xp, flux, good, percentiles, margin)
    ymin, ymax = envelope(xp, to_rows(xp, flux, bottom, top, height), cols)
    span_top, span_bottom = stroke(xp, ymin, ymax, line_width)
    return blank_outside(xp, span_top, span_bottom, good, cols)


class Line(ImageRenderer):
    """Flux against wavelength as an antialiased line without axes (the paper's images).

    White ink (1) on black (0) by default, like MNIST digits; ``invert`` gives matplotlib's
    dark line on white. Grey, repeated over 3 channels. ``line_width`` is in pixels (a
    matplotlib linewidth of ``line_width * 72 / dpi`` points). y limits come from flux
    percentiles of the good pixels (robust to spikes). Bad pixels inside a spectrum are
    bridged by a straight line; columns beyond its first/last good pixel stay blank.
    The ``jax`` backend runs the same algorithm jit-compiled (on the accelerator where
    there is one); pixels agree with numpy to float32 rounding.
    """

    name = "line"
    description = "The paper's picture: flux vs wavelength as an antialiased line, no axes."
    default_for = "image"
    options = (
        Option("line_width", float, 1.0, "line width in pixels", gt=0.0, le=64.0),
        *SCALING_OPTIONS,
        Option("backend", str, "numpy", "where to render", choices=("numpy", "jax")),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._jax: dict[str, Any] = {}
        self.percentiles = check_percentiles(self.params["percentiles"], "line.percentiles")

    def limits(self, batch: SpectrumBatch) -> tuple[np.ndarray, np.ndarray]:
        """Per-spectrum (bottom, top) flux limits of the image."""
        flux, good = clean_flux(np, batch.flux, batch.ivar)
        return flux_limits(np, flux, good, self.percentiles, self.params["margin"])

    def device_function(self, loglam: np.ndarray, shape: tuple[int, ...]) -> Any:
        """The jitted JAX version of :meth:`render` (whatever ``backend`` says: that
        option picks where the host path renders)."""
        height, width, channels = image_shape(shape, self.name)
        cols = self.columns(np.asarray(loglam, np.float64), width, self.params["x_axis"])
        return self._line_function(cols, (height, width, channels))

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        height, width, channels = image_shape(shape, self.name)
        cols = self.columns(batch.loglam, width, self.params["x_axis"])
        if len(batch) == 0:
            return np.zeros((0, height, width, channels), np.float32)
        p = self.params
        if p["backend"] == "jax":
            key = (id(cols), (height, width, channels))
            if self._jax.get("key") != key or self._jax.get("cols") is not cols:
                self._jax.update(fn=self._line_function(cols, key[1]), key=key, cols=cols)
            return np.asarray(self._jax["fn"](batch.flux, batch.ivar), dtype=np.float32)
        out = np.empty((len(batch), height, width, channels), np.float32)
        step = max(1, CHUNK_PIXELS // batch.flux.shape[1])  # spectra per chunk, cache-sized
        for s in range(0, len(batch), step):
            top, bottom = line_spans(
                np,
                batch.flux[s : s + step],
                batch.ivar[s : s + step],
                cols,
                height,
                p["line_width"],
                self.percentiles,
                p["margin"],
            )
            paint_spans(top, bottom, height, channels, p["invert"], out[s : s + step])
        return out

    def _line_function(
        self, cols: Columns, shape: tuple[int, int, int]
    ) -> Callable[[Any, Any], Any]:
        """A jitted ``f(flux, ivar) -> images`` (jax arrays, (N, *shape) float32) for
        spectra on the grid that ``cols`` was made from: :func:`line_spans` painted densely."""
        import jax
        import jax.numpy as jnp

        height, _, channels = shape
        p = self.params
        line_width, margin, invert = p["line_width"], p["margin"], p["invert"]
        percentiles = self.percentiles

        def images(flux: Any, ivar: Any) -> Any:
            flux = jnp.asarray(flux, jnp.float32)
            ivar = jnp.asarray(ivar, jnp.float32)
            top, bottom = line_spans(jnp, flux, ivar, cols, height, line_width, percentiles, margin)
            cover = coverage(jnp, top, bottom, height)
            if invert:
                cover = 1.0 - cover
            return jnp.broadcast_to(cover[..., None], (*cover.shape, channels))

        return jax.jit(images)
