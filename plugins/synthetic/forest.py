"""Intergalactic absorption blueward of Ly-alpha in quasar spectra: a log-normal Ly-alpha
and Ly-beta forest whose mean transmission follows tau_eff(z) = 0.0018 (1+z)^3.92
(Faucher-Giguere et al. 2008), Lyman-limit absorption, and damped Ly-alpha systems."""

from __future__ import annotations

from functools import cache

import numpy as np

LYA, LYB, LYLIMIT = 1215.67, 1025.72, 911.75
SPREAD = 1.6  # log-normal width of the optical-depth field


def tau_eff(z_abs: np.ndarray) -> np.ndarray:
    return 0.0018 * np.power(1.0 + np.clip(z_abs, 0.0, None), 3.92)


@cache
def _calibration() -> tuple[np.ndarray, np.ndarray]:
    """Amplitude A such that <exp(-A exp(s g - s^2/2))> = exp(-tau_eff), on a table."""
    g = np.random.default_rng(1215).standard_normal(4000)
    field = np.exp(SPREAD * g - SPREAD**2 / 2)
    amps = np.geomspace(1e-3, 50.0, 120)
    mean_f = np.exp(-amps[:, None] * field[None, :]).mean(axis=1)
    return -np.log(mean_f), amps


def amplitude(teff: np.ndarray) -> np.ndarray:
    taus, amps = _calibration()
    return np.interp(teff, taus, amps)


def smooth_field(noise: np.ndarray) -> np.ndarray:
    """Unit-variance Gaussian field correlated over ~2 pixels (absorbers are ~30 km/s)."""
    kernel = np.exp(-0.5 * (np.arange(-4, 5) / 1.5) ** 2)
    kernel /= np.sqrt((kernel**2).sum())
    out = np.zeros_like(noise)
    for shift, w in zip(range(-4, 5), kernel, strict=True):
        out += w * np.roll(noise, shift, axis=1)
    return out


def transmission(lam: np.ndarray, z: np.ndarray, noise: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Transmitted fraction (B, P) at observed ``lam`` (P,) for quasars at ``z`` (B,).

    ``noise`` (B, P) are standard normals; ``u`` (B, 4) uniforms for Lyman-limit and DLAs.
    """
    rest = lam[None, :] / (1.0 + z[:, None])
    trans = np.ones(rest.shape, np.float32)
    live = rest[:, 0] < LYA  # only quasars whose Ly-alpha forest reaches the grid
    if live.any():
        trans[live] = _forest(lam, rest[live], noise[live])
    trans *= np.where(rest < LYLIMIT, 0.6 * u[:, :1], 1.0).astype(np.float32)
    return _damped(lam, z, trans, u)


def _forest(lam: np.ndarray, rest: np.ndarray, noise: np.ndarray) -> np.ndarray:
    g = smooth_field(noise.astype(np.float32))
    z_a = lam[None, :] / LYA - 1.0
    tau = np.where(rest < LYA, amplitude(tau_eff(z_a)) * np.exp(SPREAD * g - SPREAD**2 / 2), 0.0)
    z_b = lam[None, :] / LYB - 1.0
    g_b = np.roll(g, 97, axis=1)
    tau += np.where(
        rest < LYB, 0.16 * amplitude(tau_eff(z_b)) * np.exp(SPREAD * g_b - SPREAD**2 / 2), 0.0
    )
    return np.exp(-tau).astype(np.float32)


def _damped(lam: np.ndarray, z: np.ndarray, trans: np.ndarray, u: np.ndarray) -> np.ndarray:
    # damped Ly-alpha systems: Lorentzian wings, rest EW = 7.3 A sqrt(N / 1e20)
    has_dla = (u[:, 1] < 0.12) & (z > 2.1)
    if has_dla.any():
        z_dla = 1.9 + u[:, 2] * (z - 0.05 - 1.9)
        n_hi = np.power(10.0, 20.3 + 1.2 * u[:, 3])
        a = (7.3 * np.sqrt(n_hi / 1e20) / 2.0) ** 2 / np.pi
        d = lam[None, :] / (1.0 + z_dla[:, None]) - LYA
        trans = np.where(has_dla[:, None], trans * np.exp(-a[:, None] / (d * d + 1e-3)), trans)
    return trans
