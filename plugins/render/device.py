"""Device (JAX) versions of the built-in preprocessors, for pipelines that render on the
accelerator (see :meth:`bench.feed.Pipeline.device_stage`).

``moving_average``, ``normalize`` and ``mask`` (when it masks by ivar only: ``bits = []``
and not ``any_bit``; and_mask bits are not shipped to the device) have jit-able
``f(flux, ivar) -> (flux, ivar)`` versions here that give the numpy results to float32
rounding (numpy sums in float64, these in float32). They live here rather than on the
preprocessor classes so the numpy modules stay free of JAX; :func:`step_function` looks
a step's own ``device_function`` up first, so third-party preprocessors can provide one.
jax is imported inside the functions only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.interfaces import DeviceFunction, Preprocessor


def good_pixels(flux: Any, ivar: Any) -> Any:
    """Finite flux with finite, positive ivar (as the numpy ``good_pixels``)."""
    import jax.numpy as jnp

    return (ivar > 0) & (ivar < jnp.inf) & jnp.isfinite(flux)


def fill_bad(flux: Any, good: Any) -> Any:
    """Bad pixels linearly interpolated between the nearest good ones in their row (the
    nearest good value at the ends, 0 in a row without one), as the numpy ``fill_bad``."""
    import jax
    import jax.numpy as jnp

    p = flux.shape[1]
    flux = jnp.where(jnp.isfinite(flux), flux, 0.0).astype(jnp.float32)
    idx = jnp.arange(p)
    left = jax.lax.cummax(jnp.where(good, idx, -1), axis=1)
    right = jax.lax.cummin(jnp.where(good, idx, p), axis=1, reverse=True)
    f_left = jnp.take_along_axis(flux, jnp.clip(left, 0, p - 1), axis=1)
    f_right = jnp.take_along_axis(flux, jnp.clip(right, 0, p - 1), axis=1)
    has_l, has_r = left >= 0, right < p
    frac = (idx - left) / jnp.maximum(right - left, 1)
    both = f_left + frac * (f_right - f_left)
    value = jnp.where(has_l & has_r, both, jnp.where(has_l, f_left, f_right))
    return jnp.where(good, flux, jnp.where(has_l | has_r, value, 0.0)).astype(jnp.float32)


def finish(flux: Any, ivar: Any) -> tuple[Any, Any]:
    """``flux``/``ivar`` made safe: ivar 0 and interpolated flux at bad pixels."""
    import jax.numpy as jnp

    good = good_pixels(flux, ivar)
    return fill_bad(flux, good), jnp.where(good, ivar, 0.0).astype(jnp.float32)


def window_sum(values: Any, window: int) -> Any:
    """Sum over a centred window along axis 1, truncated at the edges (direct sums, so
    float32 keeps the precision that numpy's float64 cumulative sums have)."""
    import jax

    before = window // 2
    after = window - 1 - before
    return jax.lax.reduce_window(
        values, 0.0, jax.lax.add, (1, window), (1, 1), ((0, 0), (before, after))
    )


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


def good_median(values: Any, good: Any) -> Any:
    """Per-row median of the good pixels (NaN for a row with none)."""
    import jax.numpy as jnp

    vals = jnp.sort(jnp.where(good, values, jnp.inf), axis=1)
    n_good = good.sum(axis=1)
    lo = jnp.take_along_axis(vals, jnp.maximum((n_good - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = jnp.take_along_axis(vals, jnp.maximum(n_good // 2, 0)[:, None], axis=1)[:, 0]
    return jnp.where(n_good > 0, 0.5 * (lo + hi), jnp.nan)


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


def step_function(step: Preprocessor, loglam: np.ndarray) -> DeviceFunction | None:
    """The device version of ``step`` for spectra on ``loglam``: its own
    ``device_function``, else the one above for a built-in step, else None."""
    own = step.device_function(loglam)
    if own is not None:
        return own
    from bench_plugins.preprocess import Mask, MovingAverage, Normalize

    params = step.params
    if type(step) is MovingAverage:
        return moving_average(int(params["window"]), bool(params["weighted"]))
    if type(step) is Normalize:
        return normalize(str(params["method"]))
    if type(step) is Mask and getattr(step, "_bitmask", 1) == 0:
        return mask_by_ivar(str(params["fill"]))
    return None
