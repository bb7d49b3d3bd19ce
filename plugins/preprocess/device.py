"""Device (JAX) versions of the built-in preprocessors, returned by their
``device_function`` (see :meth:`bench.feed.Pipeline.device_stage`): jit-able
``f(flux, ivar) -> (flux, ivar)`` giving the numpy results to float32 rounding (numpy
sums in float64, these in float32). jax is imported inside the functions only, so the
numpy modules that import this one stay light.
"""

from __future__ import annotations

from typing import Any

from bench.data.jax_kernels import fill_bad, finish, good_median, good_pixels, window_sum
from bench.interfaces import DeviceFunction


def moving_average(window: int, weighted: bool) -> DeviceFunction:
    """The ``moving_average`` preprocessor on (flux, ivar)."""
    import jax.numpy as jnp

    def step(flux: Any, ivar: Any) -> tuple[Any, Any]:
        good = good_pixels(flux, ivar)
        flux = fill_bad(flux, good)
        ivar = jnp.where(good, ivar, 0.0)
        weight = ivar if weighted else good.astype(jnp.float32)
        sum_w = window_sum(weight, window)
        sum_fw = window_sum(flux * weight, window)
        has = sum_w > 0
        smooth = jnp.where(has, sum_fw / jnp.where(has, sum_w, 1.0), flux)
        if weighted:
            new_ivar = sum_w
        else:
            variance = jnp.where(good, 1.0 / jnp.where(good, ivar, 1.0), 0.0)
            sum_var = window_sum(variance, window)
            ok = sum_var > 0
            new_ivar = jnp.where(ok, sum_w**2 / jnp.where(ok, sum_var, 1.0), 0.0)
        return finish(smooth, jnp.where(good, new_ivar, 0.0))

    return step


def normalize(method: str) -> DeviceFunction:
    """The ``normalize`` preprocessor (``median`` or ``ivar_mean_std``) on (flux, ivar)."""
    import jax.numpy as jnp

    def step(flux: Any, ivar: Any) -> tuple[Any, Any]:
        good = good_pixels(flux, ivar)
        flux = fill_bad(flux, good)
        ivar = jnp.where(good, ivar, 0.0)
        if method == "median":
            offset = jnp.zeros(flux.shape[0], jnp.float32)
            scale = good_median(flux, good)
            n_good = jnp.maximum(good.sum(axis=1), 1)
            mean_abs = jnp.where(good, jnp.abs(flux), 0.0).sum(axis=1) / n_good
            scale = jnp.where(jnp.isfinite(scale) & (scale > 0), scale, mean_abs)
        else:
            sum_w = ivar.sum(axis=1)
            safe_w = jnp.where(sum_w > 0, sum_w, 1.0)
            offset = (ivar * flux).sum(axis=1) / safe_w
            scale = jnp.sqrt((ivar * (flux - offset[:, None]) ** 2).sum(axis=1) / safe_w)
        scale = jnp.where(jnp.isfinite(scale) & (scale > 0), scale, 1.0)
        new_flux = (flux - offset[:, None]) / scale[:, None]
        return finish(new_flux, ivar * scale[:, None] ** 2)

    return step


def mask_by_ivar(fill: str) -> DeviceFunction:
    """The ``mask`` preprocessor without and_mask bits: ivar 0 at bad pixels, flux filled."""
    import jax.numpy as jnp

    def step(flux: Any, ivar: Any) -> tuple[Any, Any]:
        good = good_pixels(flux, ivar)
        ivar = jnp.where(good, ivar, 0.0).astype(jnp.float32)
        if fill == "zero":
            return jnp.where(good, flux, 0.0).astype(jnp.float32), ivar
        return fill_bad(flux, good), ivar

    return step
