"""The chi-square scan of ``template_fit``: every trial redshift's weighted least-squares
fit of a template set at once, written once for numpy and jax.numpy (``xp`` passed in).

It is redrock's ``_zchi2_batch`` in closed form: for every spectrum, redshift and template
set, ``M = T^T W T`` and ``y = T^T W f`` and one small solve ``a = M^-1 y``,
``chi2 = f^T W f - y^T a``, all at once. On a log10-wavelength grid a redshift is an
integer pixel shift, so every entry of ``M`` and ``y`` for all shifts is one
cross-correlation of a data-side array (``w``, ``w L_k``, ``w f``) with a template-side
array (``t_i``, ``t_i t_j``): computed by FFT for the long galaxy and quasar grids (every
pixel, ~3,000 and ~8,000 trial redshifts) and by shifted-window matrix products for the
short stellar grid. numpy runs in float64; jax.numpy jit-compiled (:func:`jax_chi2_scan`),
batched on a GPU, in float64 or float32 (option ``precision``).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import numpy as np

# above this many trial shifts the correlations go through the FFT
DIRECT_MAX_SHIFTS = 96


def correlate(xp: Any, a: Any, b: Any, first: int, count: int, method: str, nfft: int) -> Any:
    """``out[..., s] = sum_p a[n, c, p] * b[..., p - first - s]`` for s in 0..count-1.

    ``a`` (N, C, P), ``b`` (..., T) zero outside 0..T-1. Returns (N, C, *b.shape[:-1], count).
    """
    n, c, p = a.shape
    lead = b.shape[:-1]
    t = b.shape[-1]
    if method == "fft":
        fa = xp.fft.rfft(a, n=nfft, axis=-1)
        fb = xp.conj(xp.fft.rfft(b, n=nfft, axis=-1))
        fa = fa.reshape(n, c, *([1] * len(lead)), fa.shape[-1])
        full = xp.fft.irfft(fa * fb, n=nfft, axis=-1)
        idx = np.mod(first + np.arange(count), nfft)
        return xp.take(full, xp.asarray(idx), axis=-1)
    # direct: one matrix product against the shifted windows of b
    q = np.arange(p)[None, :] - (first + np.arange(count))[:, None]  # (S, P)
    valid = (q >= 0) & (q < t)
    windows = xp.take(b, xp.asarray(np.clip(q, 0, t - 1)), axis=-1)  # (..., S, P)
    windows = windows * xp.asarray(valid, dtype=windows.dtype)
    out = a.reshape(n * c, p) @ windows.reshape(-1, p).T
    return out.reshape(n, c, *lead, count)


def chi2_scan(
    xp: Any,
    flux: Any,
    weight: Any,
    poly: Any,
    templates: Any,
    first: int,
    count: int,
    method: str,
    nfft: int,
    constrain: bool,
) -> Any:
    """Best-fit chi-square (N, G, S) of ``templates`` (G, K, T) plus the observed-frame
    ``poly`` (m, P) to ``flux`` (N, P) with weights ``weight`` (N, P), at template shifts
    ``first .. first + count - 1`` (observed pixel p sees template pixel p - shift).

    With ``constrain`` a fit whose first template coefficient is negative (an upside-down
    spectrum) scores the polynomial-only chi-square instead.
    """
    g, k, _ = templates.shape
    m = poly.shape[0]
    wf = weight * flux
    data = xp.concatenate([weight[:, None, :] * poly[None, :, :], wf[:, None, :]], axis=1)
    tt = templates[:, :, None, :] * templates[:, None, :, :]  # (G, K, K, T)
    c_tt = correlate(xp, weight[:, None, :], tt, first, count, method, nfft)[:, 0]
    c_dt = correlate(xp, data, templates, first, count, method, nfft)  # (N, m+1, G, K, S)
    n = flux.shape[0]
    s = count
    m_tt = xp.moveaxis(c_tt, -1, 2)  # (N, G, S, K, K)
    m_tp = xp.moveaxis(xp.moveaxis(c_dt[:, :m], 1, -1), -2, 2)  # (N, G, S, K, m)
    y_t = xp.moveaxis(c_dt[:, m], -1, 2)  # (N, G, S, K)
    pp = xp.einsum("np,kp,lp->nkl", weight, poly, poly)  # (N, m, m)
    y_p = xp.einsum("np,kp->nk", wf, poly)  # (N, m)
    f2 = xp.sum(wf * flux, axis=-1)  # (N,)
    pp_b = xp.broadcast_to(pp[:, None, None], (n, g, s, m, m))
    top = xp.concatenate([m_tt, m_tp], axis=-1)
    bottom = xp.concatenate([xp.swapaxes(m_tp, -1, -2), pp_b], axis=-1)
    mat = xp.concatenate([top, bottom], axis=-2)  # (N, G, S, K+m, K+m)
    y = xp.concatenate([y_t, xp.broadcast_to(y_p[:, None, None], (n, g, s, m))], axis=-1)
    diag = xp.diagonal(mat, axis1=-2, axis2=-1)
    eps = 1e-9 if mat.dtype == np.float64 else 1e-5
    scale = xp.max(diag, axis=-1, keepdims=True)
    ridge = eps * diag + 1e-12 * scale + 1e-30
    mat = mat + ridge[..., None] * xp.eye(k + m, dtype=mat.dtype)
    coef = xp.linalg.solve(mat, y[..., None])[..., 0]
    chi2 = f2[:, None, None] - xp.sum(coef * y, axis=-1)
    if constrain:
        if m:
            pp_r = pp + (eps * xp.diagonal(pp, axis1=-2, axis2=-1) + 1e-30)[..., None] * xp.eye(
                m, dtype=pp.dtype
            )
            a_p = xp.linalg.solve(pp_r, y_p[..., None])[..., 0]
            chi2_p = f2 - xp.sum(a_p * y_p, axis=-1)
        else:
            chi2_p = f2
        chi2 = xp.where(coef[..., 0] < 0, chi2_p[:, None, None], chi2)
    return chi2


@lru_cache(maxsize=1)
def jax_chi2_scan() -> Any:
    import jax
    import jax.numpy as jnp

    return jax.jit(
        partial(chi2_scan, jnp),
        static_argnames=("first", "count", "method", "nfft", "constrain"),
    )


def fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (fast FFT sizes)."""
    best = 1 << (n - 1).bit_length()
    f5 = 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            f = f35
            while f < n:
                f *= 2
            best = min(best, f)
            f35 *= 3
        f5 *= 5
    return best
