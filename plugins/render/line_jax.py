"""The ``line`` picture in JAX: the numpy algorithm of :mod:`bench_plugins.render.line`,
jit-compiled so that images can be made on the accelerator inside the input pipeline.

Same steps (bridge bad pixels, robust limits, column envelope, stroke), but the
painting is dense: every pixel's coverage min(bottom, r + 1) - max(top, r), clipped to
[0, 1]. Pixels agree with the numpy backend to float32 rounding. jax is imported
inside the functions only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.data.jax_kernels import fill_bad
from bench.data.kernels import ROBUST_SAMPLES
from bench.spectra import SpectrumBatch
from bench_plugins.render.geometry import Columns


def line_function(
    cols: Columns,
    shape: tuple[int, int, int],
    line_width: float,
    percentiles: tuple[float, float],
    margin: float,
    invert: bool,
) -> Callable[[Any, Any], Any]:
    """A jitted ``f(flux, ivar) -> images`` (jax arrays, (N, *shape) float32) for spectra
    on the grid that ``cols`` was made from."""
    import jax
    import jax.numpy as jnp

    height, width, channels = shape
    p = len(cols.x)
    step = max(1, p // ROBUST_SAMPLES)
    index = jnp.asarray(cols.boundary_index)
    following = jnp.minimum(index + 1, p - 1)
    t = jnp.asarray(cols.boundary_t)
    column = jnp.asarray(cols.column)
    radius = int(round((line_width - 1) / 2))

    def images(flux, ivar):
        flux = jnp.asarray(flux, jnp.float32)
        ivar = jnp.asarray(ivar, jnp.float32)
        finite = jnp.isfinite(flux)
        good = finite & jnp.isfinite(ivar) & (ivar > 0)
        good = jnp.where(good.any(axis=1)[:, None], good, finite)
        flux = fill_bad(flux, good)
        bottom, top = _limits(flux, good, step, percentiles, margin)
        y = (top[:, None] - flux) * (height / (top - bottom))[:, None]
        y = jnp.clip(y, -2.0 * height, 3.0 * height)
        at_bounds = y[:, index] * (1 - t) + y[:, following] * t
        inner_min = jax.ops.segment_min(y.T, column, num_segments=width).T
        inner_max = jax.ops.segment_max(y.T, column, num_segments=width).T
        ymin = jnp.minimum(jnp.minimum(at_bounds[:, :-1], at_bounds[:, 1:]), inner_min)
        ymax = jnp.maximum(jnp.maximum(at_bounds[:, :-1], at_bounds[:, 1:]), inner_max)
        a, b = ymin - line_width / 2, ymax + line_width / 2
        if radius > 0:
            pad_a = jnp.pad(a, ((0, 0), (radius, radius)), constant_values=jnp.inf)
            pad_b = jnp.pad(b, ((0, 0), (radius, radius)), constant_values=-jnp.inf)
            a = jnp.min(jnp.stack([pad_a[:, k : k + width] for k in range(2 * radius + 1)]), 0)
            b = jnp.max(jnp.stack([pad_b[:, k : k + width] for k in range(2 * radius + 1)]), 0)
        has = good.any(axis=1)
        first = jnp.where(has, column[jnp.argmax(good, axis=1)], width)
        last = column[p - 1 - jnp.argmax(good[:, ::-1], axis=1)]
        col = jnp.arange(width)
        outside = (col < first[:, None]) | (col > last[:, None])
        a = jnp.where(outside, 0.0, jnp.clip(a, 0, height))[:, None, :]
        b = jnp.where(outside, 0.0, jnp.clip(b, 0, height))[:, None, :]
        r = jnp.arange(height, dtype=jnp.float32)[None, :, None]
        cover = jnp.clip(jnp.minimum(b, r + 1) - jnp.maximum(a, r), 0.0, 1.0)
        if invert:
            cover = 1.0 - cover
        return jnp.broadcast_to(cover[..., None], (*cover.shape, channels))

    return jax.jit(images)


def _limits(
    flux: Any, good: Any, step: int, percentiles: tuple[float, float], margin: float
) -> tuple[Any, Any]:
    """(bottom, top) of each picture: robust percentiles of good pixels, padded by margin."""
    import jax.numpy as jnp

    sub = jnp.sort(jnp.where(good[:, ::step], flux[:, ::step], jnp.inf), axis=1)
    n_good = good[:, ::step].sum(axis=1)
    last = jnp.maximum(n_good - 1, 0)
    k_lo = jnp.round(last * (percentiles[0] / 100.0)).astype(jnp.int32)
    k_hi = jnp.round(last * (percentiles[1] / 100.0)).astype(jnp.int32)
    lo = jnp.take_along_axis(sub, k_lo[:, None], axis=1)[:, 0]
    hi = jnp.take_along_axis(sub, k_hi[:, None], axis=1)[:, 0]
    lo, hi = jnp.where(n_good == 0, 0.0, lo), jnp.where(n_good == 0, 0.0, hi)
    pad = margin * (hi - lo)
    flat = ~(hi - lo > 1e-6 * jnp.maximum(jnp.abs(hi), jnp.abs(lo)))
    return jnp.where(flat, lo - 1.0, lo - pad), jnp.where(flat, hi + 1.0, hi + pad)


def render_line_jax(
    batch: SpectrumBatch,
    cols: Columns,
    shape: tuple[int, int, int],
    params: dict[str, Any],
    percentiles: tuple[float, float],
    cache: dict[str, Any],
) -> np.ndarray:
    """Images as numpy (N, *shape) float32, compiling once per grid geometry and shape."""
    key = (id(cols), shape)
    if cache.get("key") != key or cache.get("cols") is not cols:
        cache["fn"] = line_function(
            cols, shape, params["line_width"], percentiles, params["margin"], params["invert"]
        )
        cache["key"], cache["cols"] = key, cols
    return np.asarray(cache["fn"](batch.flux, batch.ivar), dtype=np.float32)
