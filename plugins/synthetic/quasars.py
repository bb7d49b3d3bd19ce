"""Quasars: a power-law continuum (f_nu ~ nu^alpha, alpha ~ -0.5), broad and narrow
emission lines with widths and equivalent widths from SDSS composites (Vanden Berk et
al. 2001; Shen et al. 2011), a redder slope beyond 5000 A, Fe II and Balmer pseudo-continua, a host galaxy at low z,
SMC-like reddening, broad absorption line (BAL) troughs, and the Ly-alpha forest."""

from __future__ import annotations

import numpy as np

from bench_plugins.synthetic import forest
from bench_plugins.synthetic.galaxies import eigen_population, population
from bench_plugins.synthetic.lines import C_KMS, broaden, ew_amplitude, fwhm_to_sigma, profiles
from bench_plugins.synthetic.photometry import ab_flux, scale_to

# rest wavelength (vacuum A), rest EW (A), FWHM (km/s), high-ionisation (blueshifted) flag.
# C IV (24 + 10 A) is set so the realism feature ew_CIV of noiseless synthetic quasars at
# z = 2.3 matches that of the Vanden Berk et al. (2001) median composite
# (VandenBerk2001.dat) at the same redshift: 25 vs 26 (it was 32 with 30 + 12 A); C III],
# Mg II, H-beta agree within 15 %. Ly-alpha does not (ew_LyA 76 vs 97) while its peak
# is higher than the composite's (3.0 vs 2.4 times the 1280-1350 A continuum): its
# profile, not its EW, differs; left as it was.
LINES = np.array([
    [1033.8, 12.0, 5500, 1], [1215.67, 60.0, 6000, 0], [1215.67, 15.0, 2500, 0],
    [1240.14, 10.0, 4500, 1], [1304.35, 2.0, 3500, 0], [1335.3, 1.0, 3000, 0],
    [1399.8, 8.0, 5500, 1], [1549.06, 24.0, 6500, 1], [1549.06, 10.0, 2500, 1],
    [1640.42, 2.0, 4000, 1], [1857.4, 1.5, 4000, 0], [1908.73, 20.0, 6000, 0],
    [2400.0, 25.0, 25000, 0], [2600.0, 20.0, 20000, 0], [2950.0, 12.0, 20000, 0],
    [2799.12, 30.0, 5000, 0], [3426.9, 1.0, 700, 0], [3728.5, 1.5, 600, 0],
    [3869.9, 1.2, 700, 0], [4102.89, 7.0, 4000, 0], [4341.68, 15.0, 4000, 0],
    [4570.0, 15.0, 15000, 0], [4862.68, 50.0, 4500, 0], [4960.30, 4.0, 600, 0],
    [5008.24, 12.0, 600, 0], [5300.0, 12.0, 15000, 0], [5877.3, 4.0, 4000, 0],
    [6564.61, 250.0, 3500, 0], [3426.9, 0.5, 500, 0], [4862.68, 3.0, 500, 0],
    [6302.05, 2.0, 500, 0], [6549.86, 3.0, 500, 0], [6564.61, 12.0, 500, 0],
    [6585.27, 9.0, 500, 0], [6718.29, 3.0, 500, 0], [6732.67, 2.5, 500, 0],
])  # fmt: skip
NARROW = LINES[:, 2] < 1000
EUV_BREAK, EUV_ALPHA = 1200.0, -1.76  # A, and f_nu slope blueward (Telfer et al. 2002)
# UV/optical slope f_nu ~ nu^alpha: alpha = -0.5 +- 0.65 at 95 % (sigma 0.33) from the colours
# of 2,625 SDSS quasars (Richards et al. 2001, AJ 121, 2308)
ALPHA_MEAN, ALPHA_SIGMA = -0.5, 0.33
# SMC-like dust at the quasar: E(B-V) from a one-sided Lorentzian of half-width EBV_GAMMA,
# the form Hopkins et al. (2004, AJ 128, 1112) fit to the colours of 9,566 SDSS quasars; the
# width gives their 2 % with E(B-V) > 0.1 (and 1 % > 0.2, theirs "less than 1 %"); beyond
# EBV_MAX the quasars drop out of a flux-limited sample
EBV_GAMMA, EBV_MAX = 0.1 / np.tan(0.5 * np.pi * 0.98), 0.5
# BAL troughs: C IV, Si IV, N V (high ionisation), Mg II, Al III (low ionisation BALs)
BAL_LINES = np.array([1549.06, 1396.76, 1240.14, 1215.67])
LOBAL_LINES = np.array([2799.12, 1857.4])


def quasars(
    loglam: np.ndarray,
    z: np.ndarray,
    u: np.ndarray,
    n: np.ndarray,
    field: np.ndarray,
    use_eigen: bool = True,
) -> tuple[np.ndarray, dict]:
    """Quasar spectra in 1e-17 erg/s/cm^2/A; ``field`` (B, P) normals drive the forest.
    ``use_eigen``: hosts from the BOSS mean galaxy (as the galaxies), else the physical model."""
    lam = np.power(10.0, loglam)
    rest_lam = (lam[None, :] / (1.0 + z[:, None])).astype(np.float32)
    alpha_nu = ALPHA_MEAN + ALPHA_SIGMA * n[:, 0]
    cont = np.power(rest_lam / np.float32(3000.0), -(2.0 + alpha_nu)[:, None].astype(np.float32))
    cont *= np.maximum(rest_lam / np.float32(5000.0), 1.0)  # redder beyond 5000 A (hot dust)
    # softer below 1200 A: f_nu ~ nu^-1.76 there (Telfer et al. 2002, ApJ 565, 773)
    below = np.minimum(rest_lam / np.float32(EUV_BREAK), 1.0)
    cont *= np.power(below, (alpha_nu - EUV_ALPHA)[:, None].astype(np.float32))
    # low-luminosity AGN (Seyfert 1s) at low z: brighter, host-dominated, strong narrow lines
    seyfert = np.clip((0.4 - z) / 0.3, 0.0, 1.0)[:, None]
    # emission lines: global EW scale (0.2 dex), per-line jitter, width scale, C IV blueshift
    jitter = np.concatenate([n[:, 8:40], n[:, 20:40]], axis=1)[:, : len(LINES)]
    ew = LINES[:, 1] * 10 ** (0.2 * n[:, 1:2] + 0.1 * jitter)
    # narrow lines: Seyfert 1s' narrow-line regions are strong against the AGN continuum
    # (the host dilutes them below; observed [O III] 5007 EWs of tens of A)
    ew = ew * np.where(NARROW, 1.0 + seyfert * (2.0 + 8.0 * u[:, 19:20]), 1.0)
    fwhm = LINES[:, 2] * np.where(LINES[:, 2] < 10000, 10 ** (0.12 * n[:, 2:3]), 1.0)
    fwhm = fwhm * np.where(NARROW, 1.0, 1.0 - 0.1 * seyfert)
    shift = 1.0 - LINES[:, 3] * np.abs(800.0 * n[:, 3:4]) / C_KMS
    sigma = broaden(fwhm_to_sigma(fwhm))
    rest_wave = LINES[:, 0] * shift
    emis = profiles(loglam, z, rest_wave, sigma, ew_amplitude(ew, rest_wave, sigma))
    bc_edge = 1.0 / (1.0 + np.exp(np.clip((rest_lam - 3646.0) / 30.0, -50, 50)))
    emis += (0.1 + 0.2 * u[:, 4:5]).astype(np.float32) * (rest_lam / 3646.0) ** 2 * bc_edge
    flux = cont * (1.0 + emis)
    flux = add_host(flux, loglam, z, rest_lam, seyfert[:, 0], alpha_nu, u, n, use_eigen)
    ebv = reddening(u[:, 7])
    red = ebv > 0
    if red.any():
        flux[red] *= np.power(10.0, -0.4 * 1.39 * ebv[red, None] * (1e4 / rest_lam[red]) ** 1.2)
    bal = (u[:, 9] < 0.12) & (z > 1.5)
    if bal.any():
        flux[bal] *= np.exp(-bal_tau(loglam, z[bal], u[bal]))
    flux *= forest.transmission(lam, z, field, u[:, 12:16])
    mag = 19.5 + 2.7 * u[:, 11] - 3.0 * seyfert[:, 0]
    band = np.full(len(z), 6200.0)
    lobal = bal & (u[:, 10] < 0.15)
    kind = np.where(lobal, "LoBAL", np.where(bal, "BAL", np.where(ebv > 0.1, "RED", "")))
    return scale_to(flux, loglam, band, ab_flux(mag, band)), {
        "subclass": kind.astype(object),
        "bal": bal,
    }


def reddening(u: np.ndarray) -> np.ndarray:
    """E(B-V) of SMC-like dust for uniform draws ``u``: the one-sided Lorentzian of Hopkins
    et al. (2004), P(E > x) = 1 - (2 / pi) arctan(x / EBV_GAMMA), capped at EBV_MAX."""
    return np.minimum(EBV_GAMMA * np.tan(0.5 * np.pi * u), EBV_MAX)


def add_host(
    flux: np.ndarray,
    loglam: np.ndarray,
    z: np.ndarray,
    rest_lam: np.ndarray,
    seyfert: np.ndarray,
    alpha_nu: np.ndarray,
    u: np.ndarray,
    n: np.ndarray,
    use_eigen: bool,
) -> np.ndarray:
    """``flux`` plus a host galaxy below z = 0.9, a fraction of the light at 5100 A rest
    (most of it in the Seyfert 1s, weight ``seyfert``)."""
    host = (z < 0.9) & ((u[:, 5] < 0.7) | (z < 0.3))
    if host.any():
        low = seyfert[host]
        f_host = low * (0.7 + 0.25 * u[host, 6]) + (1 - low) * 0.5 * u[host, 6] * np.clip(
            1.0 - z[host] / 0.9, 0, 1
        )
        # hosts of quasars and Seyfert 1s are mostly massive, bulge-dominated and old: the
        # BOSS mean galaxy (f_lambda rising to ~6500 A), else an old physical population
        gal = eigen_population(loglam, z[host], n[host, 25:]) if use_eigen else None
        if gal is None:
            teff = 4300.0 + 1000.0 * u[host, 20]
            _, gal = population(loglam, z[host], rest_lam[host], teff, np.full(int(host.sum()), 0.5),
                                np.full(int(host.sum()), 180.0), np.ones(int(host.sum())))  # fmt: skip
        pl5100 = (5100.0 / 3000.0) ** -(2.0 + alpha_nu[host])
        flux[host] += gal * (f_host / (1.0 - f_host) * pl5100 / (5500 / 5100) ** -2.0)[:, None]
    return flux


def bal_tau(loglam: np.ndarray, z: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Broad absorption troughs blueshifted by 3,000-20,000 km/s, 1,000-4,000 km/s wide."""
    v = 3000.0 + 17000.0 * u[:, 16]
    width = 1000.0 + 3000.0 * u[:, 17]
    depth = 0.5 + 2.0 * u[:, 18]
    rest = np.concatenate([BAL_LINES, LOBAL_LINES])[None, :] * (1.0 - v[:, None] / C_KMS)
    amp = depth[:, None] * np.array([1.0, 0.8, 0.7, 0.5, 0.0, 0.0])[None, :]
    amp[:, 4:] = np.where(u[:, 10:11] < 0.15, 0.7 * depth[:, None], 0.0)
    return profiles(loglam, z, rest, np.repeat(width[:, None], rest.shape[1], axis=1), amp)
