"""AB magnitudes to flux density in SDSS units (1e-17 erg/s/cm^2/A), and the distances
(flat LCDM, H0 = 70 km/s/Mpc, Omega_m = 0.3) that turn them into luminosities and sizes."""

from __future__ import annotations

from functools import cache

import numpy as np

from bench_plugins.synthetic.lines import C_KMS

C_ANGSTROM_S = 2.99792458e18
H0, OMEGA_M = 70.0, 0.3  # flat LCDM
MPC_CM = 3.0857e24


def ab_flux(mag: np.ndarray, wave: float | np.ndarray) -> np.ndarray:
    """f_lambda in 1e-17 erg/s/cm^2/A of a flat-f_nu source of AB magnitude ``mag`` at ``wave``."""
    f_nu = 3631e-23 * np.power(10.0, -0.4 * np.asarray(mag))
    return f_nu * C_ANGSTROM_S / np.asarray(wave) ** 2 / 1e-17


def scale_to(
    flux: np.ndarray, loglam: np.ndarray, wave: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Scale each row so its median within +-150 A of observed ``wave`` (B,) equals ``target``."""
    lam = np.power(10.0, loglam)
    ref = np.zeros(len(flux))
    for w in np.unique(wave):
        rows = wave == w
        lo, hi = np.searchsorted(lam, [w - 150.0, w + 150.0])
        lo, hi = min(lo, len(lam) - 50), max(hi, lo + 50)
        ref[rows] = np.median(flux[rows, lo:hi], axis=1)
    scale = np.where(ref > 0, target / np.where(ref > 0, ref, 1.0), 0.0)
    return flux * scale[:, None].astype(flux.dtype)


@cache
def _comoving_table() -> tuple[np.ndarray, np.ndarray]:
    """Comoving distance in Hubble units on a fixed redshift grid (0-10): every spectrum's
    distance the same whatever batch it is drawn in."""
    grid = np.linspace(0.0, 10.0, 20001)
    inv_e = 1.0 / np.sqrt(OMEGA_M * (1.0 + grid) ** 3 + 1.0 - OMEGA_M)
    comoving = np.concatenate([[0.0], np.cumsum(0.5 * (inv_e[1:] + inv_e[:-1]) * np.diff(grid))])
    return grid, comoving


def luminosity_distance_cm(z: np.ndarray) -> np.ndarray:
    """Luminosity distance (cm) in flat LCDM (H0 = 70 km/s/Mpc, Omega_m = 0.3), z <= 10."""
    z = np.asarray(z, dtype=float)
    grid, comoving = _comoving_table()
    return (1.0 + z) * np.interp(z, grid, comoving) * C_KMS / H0 * MPC_CM


def distance_modulus(z: np.ndarray) -> np.ndarray:
    """m - M (no k-correction) at redshifts ``z`` > 0."""
    return 5.0 * np.log10(luminosity_distance_cm(z) / (1e-5 * MPC_CM))


def angular_kpc_per_arcsec(z: np.ndarray) -> np.ndarray:
    """Proper kpc per arcsec at redshifts ``z`` > 0 (angular-diameter distance)."""
    z = np.asarray(z, dtype=float)
    return luminosity_distance_cm(z) / (1.0 + z) ** 2 / (MPC_CM / 1e3) * np.pi / 648000.0
