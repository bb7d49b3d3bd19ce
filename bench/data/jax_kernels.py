"""JAX versions of the array kernels in :mod:`bench.data.kernels`, for plugins whose
preprocessing or rendering runs on the accelerator (inside a jit-compiled step). They
give the numpy results to float32 rounding. jax is imported inside the functions only.
"""

from __future__ import annotations

from typing import Any


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


def good_median(values: Any, good: Any) -> Any:
    """Per-row median of the good pixels (NaN for a row with none)."""
    import jax.numpy as jnp

    vals = jnp.sort(jnp.where(good, values, jnp.inf), axis=1)
    n_good = good.sum(axis=1)
    lo = jnp.take_along_axis(vals, jnp.maximum((n_good - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = jnp.take_along_axis(vals, jnp.maximum(n_good // 2, 0)[:, None], axis=1)[:, 0]
    return jnp.where(n_good > 0, 0.5 * (lo + hi), jnp.nan)
