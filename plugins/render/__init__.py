"""Built-in renderers: ``line`` (the paper's picture), ``area``, ``fold`` and ``gaf``
(2-D encodings that keep more of the spectrum), and ``none`` (flux for 1-D models).

Images are float32 (N, height, width, channels) in [0, 1]; grey images are repeated over
3 channels. See :mod:`bench_plugins.render.geometry` for the x and y scaling and
:mod:`bench_plugins.render.raster` for how a line is drawn (numpy, or jax on the device).
"""

from __future__ import annotations

from collections.abc import Callable

from bench import hookimpl
from bench.interfaces import Renderer
from bench_plugins.render.encodings import Area, Fold, Gaf
from bench_plugins.render.flux import FluxPassthrough
from bench_plugins.render.line import Line

__all__ = ["Area", "Fold", "FluxPassthrough", "Gaf", "Line"]


@hookimpl
def register_renderers(register: Callable[[type[Renderer]], None]) -> None:
    for cls in (Line, Area, Fold, Gaf, FluxPassthrough):
        register(cls)
