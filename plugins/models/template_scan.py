"""The chi-square scan of ``template_fit``: the BOSS templates per class and every trial
redshift's weighted least-squares fit at once (numpy or jax; see ``template_fit``).

The chi-square scan is redrock's ``_zchi2_batch`` in closed form: for every spectrum,
redshift and template set, ``M = T^T W T`` and ``y = T^T W f`` and one small solve
``a = M^-1 y``, ``chi2 = f^T W f - y^T a``, all at once. On a log10-wavelength grid a
redshift is an integer pixel shift, so every entry of ``M`` and ``y`` for all shifts is one
cross-correlation of a data-side array (``w``, ``w L_k``, ``w f``) with a template-side
array (``t_i``, ``t_i t_j``): computed by FFT for the long galaxy and quasar grids (every
pixel, ~3,000 and ~8,000 trial redshifts) and by shifted-window matrix products for the
short stellar grid. The same function runs with numpy (float64) or jax.numpy
(jit-compiled, batched on a GPU; float64 by default, ``precision = "float32"`` for speed
on GPUs with slow float64 at ~1e-4 relative chi-square error): option ``backend``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.spectra import COMBINEREJ, FULLREJECT, NODATA

C_KMS = 299792.458
FIT_CLASSES = ("STAR", "GALAXY", "QSO")
TEMPLATE_FILES = {
    "STAR": "spEigenStar-*.fits",
    "GALAXY": "spEigenGal-*.fits",
    "QSO": "spEigenQSO-*.fits",
}
# shipped with the package (package data of bench_plugins, shared with `synthetic`)
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
# SDSS and_mask bits that exclude a pixel: FULLREJECT, NODATA, COMBINEREJ
FATAL_BITS = FULLREJECT | NODATA | COMBINEREJ
# above this many trial shifts the correlations go through the FFT
DIRECT_MAX_SHIFTS = 96


@dataclass(frozen=True)
class ClassTemplates:
    """One class's templates on a rest-frame log10 grid: ``flux`` (G, K, T) holds G sets
    of K templates fitted together (stars: G templates of K = 1), unit RMS each."""

    label: str
    loglam0: float
    dloglam: float
    flux: np.ndarray
    names: tuple[str, ...]

    def on_step(self, step: float) -> ClassTemplates:
        """The templates resampled to a grid step ``step`` (unchanged when it matches)."""
        if abs(step - self.dloglam) <= 1e-6 * self.dloglam:
            return self
        t = self.flux.shape[-1]
        old = self.loglam0 + self.dloglam * np.arange(t)
        ratio = step / self.dloglam
        flux = self.flux
        if ratio > 1.5:  # box-average before sampling a coarser grid
            width = int(round(ratio))
            kernel = np.ones(width) / width
            flux = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), -1, flux)
        new = np.arange(self.loglam0, old[-1] + 1e-12, step)
        out = np.stack([np.interp(new, old, r) for r in flux.reshape(-1, t)])
        return ClassTemplates(
            self.label, self.loglam0, step, out.reshape(*flux.shape[:-1], len(new)), self.names
        )


@lru_cache(maxsize=8)
def load_templates(folder: str | None = None) -> dict[str, ClassTemplates]:
    """The spEigenStar/Gal/QSO templates in ``folder`` (default: the ones shipped in the
    package). BenchError naming the folder when a file is missing or unreadable."""
    from astropy.io import fits

    root = Path(folder) if folder is not None else DEFAULT_TEMPLATE_DIR
    out: dict[str, ClassTemplates] = {}
    for label, pattern in TEMPLATE_FILES.items():
        found = sorted(root.glob(pattern))
        if not found:
            raise BenchError(f"template_fit.template_dir: no {pattern} in {root}")
        try:
            with fits.open(found[-1]) as hdul:
                header = hdul[0].header
                flux = np.asarray(hdul[0].data, dtype=np.float64)
                c0, c1 = float(header["COEFF0"]), float(header["COEFF1"])
                names = [str(header.get(f"NAME{i}", f"{label}{i}")) for i in range(len(flux))]
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise BenchError(f"{found[-1]}: not a readable SDSS template file ({exc})") from None
        if flux.ndim != 2 or not np.isfinite(flux).all():
            raise BenchError(f"{found[-1]}: expected a finite (templates, pixels) image")
        flux = flux / np.sqrt(np.mean(flux**2, axis=1, keepdims=True) + 1e-300)
        if label == "STAR":
            flux, names = flux[:, None, :], names
        else:
            flux, names = flux[None, :, :], [found[-1].stem]
        out[label] = ClassTemplates(label, c0, c1, flux, tuple(names))
    return out


def with_host(qso: ClassTemplates, galaxy: ClassTemplates) -> ClassTemplates:
    """The quasar eigen-spectra and the galaxy ones on the quasar's rest grid (zero where
    the galaxy templates end), fitted together at one redshift: a quasar and its host.
    Both must share a grid step (``on_step``)."""
    off = int(round((galaxy.loglam0 - qso.loglam0) / qso.dloglam))
    host = np.zeros((1, galaxy.flux.shape[1], qso.flux.shape[-1]))
    lo, hi = max(off, 0), min(qso.flux.shape[-1], off + galaxy.flux.shape[-1])
    if hi > lo:
        host[..., lo:hi] = galaxy.flux[0, :, lo - off : hi - off]
    flux = np.concatenate([qso.flux, host], axis=1)
    return ClassTemplates("QSO", qso.loglam0, qso.dloglam, flux, (*qso.names, *galaxy.names))


# --------------------------------------------------------------------------------------
# the chi-square scan, shared by numpy and jax.numpy (``xp``)


def _correlate(xp: Any, a: Any, b: Any, first: int, count: int, method: str, nfft: int) -> Any:
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
    c_tt = _correlate(xp, weight[:, None, :], tt, first, count, method, nfft)[:, 0]
    c_dt = _correlate(xp, data, templates, first, count, method, nfft)  # (N, m+1, G, K, S)
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
def _jax_scan() -> Any:
    import jax
    import jax.numpy as jnp

    return jax.jit(
        partial(chi2_scan, jnp),
        static_argnames=("first", "count", "method", "nfft", "constrain"),
    )


def _fast_len(n: int) -> int:
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


# --------------------------------------------------------------------------------------
# fitting spectra
