"""The ``line`` renderer: the paper's picture of a spectrum."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.options import Option
from bench.spectra import SpectrumBatch
from bench_plugins.render.base import ImageRenderer, check_percentiles, image_shape
from bench_plugins.render.geometry import blank_outside, clean_flux, flux_limits, to_rows
from bench_plugins.render.line import envelope, paint_spans, stroke

# Flux pixels per chunk of spectra rendered together (intermediates stay in cache).
CHUNK_PIXELS = 1 << 18

SCALING_OPTIONS = (
    Option(
        "percentiles",
        list,
        [0.5, 99.5],
        "flux percentiles setting the y limits",
        item_type=float,
        ge=0.0,
        le=100.0,
    ),  # fmt: skip
    Option("margin", float, 0.1, "y limits widened by this fraction of their distance"),
    Option("x_axis", str, "wavelength", "x linear in", choices=("wavelength", "loglam")),
    Option(
        "invert", bool, False, "dark ink on white (matplotlib's look) instead of white on black"
    ),
)


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
    options = (
        Option("line_width", float, 1.0, "line width in pixels", gt=0.0, le=64.0),
        *SCALING_OPTIONS,
        Option("backend", str, "numpy", "where to render", choices=("numpy", "jax")),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._jax: dict[str, object] = {}
        self.percentiles = check_percentiles(self.params["percentiles"], "line.percentiles")

    def limits(self, batch: SpectrumBatch) -> tuple[np.ndarray, np.ndarray]:
        """Per-spectrum (bottom, top) flux limits of the image."""
        flux, good = clean_flux(batch.flux, batch.ivar)
        return flux_limits(flux, good, self.percentiles, self.params["margin"])

    def device_function(self, loglam: np.ndarray, shape: tuple[int, ...]) -> Any:
        """The jitted JAX version of :meth:`render` (whatever ``backend`` says: that
        option picks where the host path renders)."""
        from bench_plugins.render.line_jax import line_function

        height, width, channels = image_shape(shape, self.name)
        cols = self.columns(np.asarray(loglam, np.float64), width, self.params["x_axis"])
        p = self.params
        return line_function(
            cols,
            (height, width, channels),
            p["line_width"],
            self.percentiles,
            p["margin"],
            p["invert"],
        )

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        height, width, channels = image_shape(shape, self.name)
        cols = self.columns(batch.loglam, width, self.params["x_axis"])
        if len(batch) == 0:
            return np.zeros((0, height, width, channels), np.float32)
        if self.params["backend"] == "jax":
            from bench_plugins.render.line_jax import render_line_jax

            return render_line_jax(
                batch, cols, (height, width, channels), self.params, self.percentiles, self._jax
            )
        out = np.empty((len(batch), height, width, channels), np.float32)
        step = max(1, CHUNK_PIXELS // batch.flux.shape[1])  # spectra per chunk, cache-sized
        for s in range(0, len(batch), step):
            flux, good = clean_flux(batch.flux[s : s + step], batch.ivar[s : s + step])
            bottom, top = flux_limits(flux, good, self.percentiles, self.params["margin"])
            ymin, ymax = envelope(to_rows(flux, bottom, top, height), cols)
            span_top, span_bottom = stroke(ymin, ymax, self.params["line_width"])
            blank_outside(span_top, span_bottom, good, cols)
            paint_spans(
                span_top, span_bottom, height, channels, self.params["invert"], out[s : s + step]
            )
        return out
