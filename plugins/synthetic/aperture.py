"""How much of a galaxy's light a spectroscopic fibre takes in, and how bright the main
sample's galaxies are.

A survey selects galaxies on their whole light (the SDSS main sample on the Petrosian r
magnitude, BOSS on cmodel magnitudes) but a fibre 3" (SDSS-I/II) or 2" (BOSS) across,
under 1-2" seeing, takes in only the centre of an extended galaxy: the spectrum's flux is
the fibre's (the dev folders' spec files: their spectra's r magnitudes agree with the
fibre photometry of their CALIBFLUX within 0.1 mag for the SDSS-I/II galaxies, 0.1-0.3
for three BOSS ones, 0.7 for the faintest eBOSS one; the main-sample galaxies among them,
whose Petrosian r is below 17.77, read r 17.4-18.6 in their spectra). The share is
computed for a circular Sersic profile (n = 4 for passive, post-starburst and narrow-line
AGN galaxies, n = 1 for star-forming ones) whose half-light radius follows the SDSS
size-luminosity relations of Shen et al. (2003, MNRAS 343, 978: late types R ~ L^0.21
below M_r = -20.52 and L^0.53 above, early types R ~ L^0.6; a log-normal scatter,
sigma_lnR 0.3-0.5 in the paper, 0.4 here) convolved with Gaussian seeing. The relations'
normalisations are as recalled (the stored copies of the paper show its abstract, which
gives the slopes, not the zero points): at M_r = -21 they give 2.6 kpc (early) and 3.8 kpc
(late).

Main-sample magnitudes: a flux-limited sample's galaxies at redshift z have Petrosian
magnitudes m < 17.77 distributed as the luminosity function at M = m - DM(z) (Schechter,
the SDSS r band of Blanton et al. 2003, ApJ 592, 819: M* - 5 log h = -20.44, alpha =
-1.05), so the few nearby galaxies are bright (m ~ 11-14 at z ~ 0.005, NGC-type) rather
than dwarfs at the limit."""

from __future__ import annotations

import numpy as np

from bench_plugins.synthetic.photometry import (
    C_ANGSTROM_S,
    angular_kpc_per_arcsec,
    distance_modulus,
)

FIBRE_ARCSEC = {False: 2.0, True: 3.0}  # fibre diameter: BOSS, SDSS-I/II (legacy)
SEEING_FWHM = (1.2, 1.8)  # arcsec, uniform: APO's seeing during spectroscopic exposures
SIZE_SCATTER_DEX = 0.4 / np.log(10.0)  # sigma_lnR = 0.4
# Shen et al. (2003) r-band half-light radius (kpc) against M_r (h = 0.7)
LATE = (0.21, 0.53, -1.31, -20.52)  # alpha, beta, gamma, M0
EARLY = (0.60, -4.63)  # a, b
EARLY_TYPES = ("PASSIVE", "PSB", "AGN")
# main sample: Petrosian r < 17.77 (Strauss et al. 2002); r-band Schechter function of
# Blanton et al. (2003), M* for h = 0.7
MAIN_LIMIT, MAIN_BRIGHT = 17.77, 10.0
SCHECHTER_MSTAR, SCHECHTER_ALPHA = -20.44 + 5.0 * np.log10(0.7), -1.05


def half_light_kpc(abs_mag: np.ndarray, early: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Half-light radius (kpc) of galaxies of r-band absolute magnitude ``abs_mag``, early
    or late type, with their log-normal scatter from the standard normals ``normal``."""
    m = np.asarray(abs_mag, float)
    a, b = EARLY
    alpha, beta, gamma, m0 = LATE
    late_log = -0.4 * alpha * m + (beta - alpha) * np.log10(1.0 + 10 ** (-0.4 * (m - m0))) + gamma
    log_r = np.where(early, -0.4 * a * m + b, late_log)
    return 10 ** (log_r + SIZE_SCATTER_DEX * np.asarray(normal, float))


def _sersic_b(n: np.ndarray) -> np.ndarray:
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n)


def fibre_fraction(
    r50_arcsec: np.ndarray, sersic_n: np.ndarray, diameter: np.ndarray, seeing_fwhm: np.ndarray
) -> np.ndarray:
    """Share of a circular Sersic galaxy's light (half-light radius ``r50_arcsec``, index
    ``sersic_n``) inside a fibre of ``diameter`` (arcsec) centred on it, under Gaussian
    seeing of ``seeing_fwhm`` (arcsec); all (B,). A point of the galaxy at radius r lands
    in the fibre with the Rice distribution's probability (noncentral chi-square, 2 degrees
    of freedom), weighted by the profile and integrated over r."""
    from scipy.special import chndtr, gamma  # chndtr: the noncentral chi-square CDF

    re = np.maximum(np.asarray(r50_arcsec, float), 1e-6)[:, None]
    n = np.asarray(sersic_n, float)[:, None]
    a = 0.5 * np.asarray(diameter, float)[:, None]
    sigma = np.asarray(seeing_fwhm, float)[:, None] / 2.3548
    bn = _sersic_b(n)
    # light beyond a + 8 sigma cannot reach the fibre: integrate in ln r up to there
    # (from far inside the half-light radius and the seeing disc, so compact galaxies too)
    top, low = a + 8.0 * sigma, 1e-4 * np.minimum(re, sigma)
    r = np.exp(np.log(low) + np.linspace(0.0, 1.0, 1000)[None, :] * np.log(top / low))
    inside = chndtr((a / sigma) ** 2, 2, (r / sigma) ** 2)
    surface = np.exp(-bn * (r / re) ** (1.0 / n))
    integrand = surface * inside * 2.0 * np.pi * r * r  # d(ln r)
    collected = np.sum(0.5 * (integrand[:, 1:] + integrand[:, :-1]) * np.diff(np.log(r)), axis=1)
    total = (2.0 * np.pi * n * gamma(2.0 * n) / bn ** (2.0 * n) * re**2)[:, 0]
    return np.clip(collected / total, 0.0, 1.0)


def rest_r_abs_mag(flux: np.ndarray, loglam: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rest-frame AB magnitude at 6200 A of model spectra ``flux`` (B, P; 1e-17
    erg/s/cm^2/A) at redshifts ``z``: from the observed flux at 6200 (1 + z) A (the red
    end of the grid beyond it, taken as flat in f_nu)."""
    lam = np.power(10.0, np.asarray(loglam, float))
    z = np.asarray(z, float)
    obs = np.minimum(6200.0 * (1.0 + z), lam[-40])
    at = np.searchsorted(lam, obs)
    f_lam = np.array([np.median(flux[k, max(i - 20, 0) : i + 20]) for k, i in enumerate(at)])
    f_nu = np.maximum(f_lam, 1e-12) * 1e-17 * obs**2 / C_ANGSTROM_S
    return -2.5 * np.log10(f_nu / 3631e-23) - distance_modulus(z) + 2.5 * np.log10(1.0 + z)


def galaxy_fibre_fraction(
    flux: np.ndarray, loglam: np.ndarray, z: np.ndarray, subclass: np.ndarray,
    legacy: np.ndarray, u: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """(B,) share of each model galaxy's light its fibre takes in: size from its rest-frame
    luminosity and type (``subclass``), the fibre of its spectrograph (``legacy``: SDSS-I/II),
    seeing and size scatter from the uniforms ``u`` (B, 2)."""
    from scipy.special import ndtri

    kind = np.array([str(s).split()[0] if str(s) else "" for s in subclass])
    early = np.isin(kind, EARLY_TYPES)
    z = np.maximum(np.asarray(z, float), 1e-3)
    r50 = half_light_kpc(
        rest_r_abs_mag(flux, loglam, z), early, ndtri(np.clip(u[:, 0], 1e-6, 1 - 1e-6))
    )
    seeing = SEEING_FWHM[0] + (SEEING_FWHM[1] - SEEING_FWHM[0]) * u[:, 1]
    diameter = np.where(legacy, FIBRE_ARCSEC[True], FIBRE_ARCSEC[False])
    return fibre_fraction(
        r50 / angular_kpc_per_arcsec(z), np.where(early, 4.0, 1.0), diameter, seeing
    )


def main_sample_mag(z: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Petrosian r of main-sample galaxies at ``z`` (inverse CDF at the uniforms ``u``):
    m in [MAIN_BRIGHT, MAIN_LIMIT] weighted by the Schechter function at m - DM(z)."""
    m = np.linspace(MAIN_BRIGHT, MAIN_LIMIT, 200)
    dm = distance_modulus(np.maximum(np.asarray(z, float), 1e-3))
    x = 10 ** (-0.4 * (m[None, :] - dm[:, None] - SCHECHTER_MSTAR))
    pdf = x ** (SCHECHTER_ALPHA + 1.0) * np.exp(-x)  # per unit magnitude (times a constant)
    cdf = np.cumsum(pdf, axis=1)
    cdf = (cdf - cdf[:, :1]) / np.maximum(cdf[:, -1:] - cdf[:, :1], 1e-300)
    u = np.asarray(u, float)
    return np.array([np.interp(u[k], cdf[k], m) for k in range(len(u))])
