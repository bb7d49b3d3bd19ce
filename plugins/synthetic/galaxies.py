"""Galaxies: an old stellar population (4000 A break, Ca II H&K, G band, Mg b, Na D,
broadened by the velocity dispersion) plus a young one (Balmer absorption), dust, and
nebular emission ([O II], H-beta, [O III], H-alpha, [N II], [S II]) for star-forming
and AGN-like galaxies. Types follow BOSS: mostly passive LRGs at z ~ 0.5. The subclass
(``meta["subclass"]``) follows the SDSS pipeline's galaxy subclasses (Bolton et al. 2012,
AJ 144, 144): ``SF`` star-forming, ``STARBURST`` the star-forming ones with a rest
H-alpha equivalent width above 50 A (the pipeline's STARBURST rule; ~1/4 of SF at low z
from the EW distribution below), ``AGN`` narrow-line AGN (Seyfert 2 / LINER-like: above
the Kewley et al. 2001 BPT line, log [O III]/H-beta ~ 0.9, log [N II]/H-alpha ~ 0; the
star-forming ones sit on the Kauffmann et al. 2003 branch), ``PSB`` post-starburst,
``PASSIVE``. Their shares by redshift are in :func:`galaxy_type`. By default the
old population is the BOSS pipeline's mean galaxy (spEigenGal, shipped in
``bench_plugins/templates``) with small random eigen-components: measured by the realism
discriminator and ``template_fit``, it is far closer to real galaxies than the physical
continuum (kept with ``galaxy_model = "physical"``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from bench_plugins.synthetic import aperture, stars
from bench_plugins.synthetic.lines import broaden, ew_amplitude, profiles
from bench_plugins.synthetic.photometry import ab_flux, scale_to

EMISSION = np.array([3727.09, 3729.88, 3869.86, 4102.89, 4341.68, 4862.68, 4960.30, 5008.24,
                     6302.05, 6549.86, 6564.61, 6585.27, 6718.29, 6732.67])  # fmt: skip
HA = 10
STARBURST_EW_HA = 50.0  # Angstrom, rest: the SDSS pipeline's STARBURST subclass
EIGEN_SCATTER = 0.06  # spread of the higher eigen-coefficients, relative to the mean galaxy
# Broad-line AGN the pipeline still calls galaxies (its subclass gains "BROADLINE", Bolton
# et al. 2012): of ~100,000 SDSS main-sample galaxy spectra (z < 0.33) 1,317 show broad
# H-alpha (Hao et al. 2005, AJ 129, 1783: 1.3 %), and ~3 % of inactive galaxies host a type 1
# AGN down to broad H-alpha luminosities of 1e40 erg/s (Stern & Laor 2012, MNRAS 423, 600).
# BROADLINE_SHARE of the galaxies below BROADLINE_Z carry one whose AGN / host light at
# 5100 A is log-uniform over BROADLINE_RATIO: from 0.02 (broad H-alpha of a few A against
# the galaxy: 1.7-9 A on 27 noiseless ones) to 0.053, host share 0.95, where the
# pipeline-like template fit calls half of a quasar's host-dominated spectra QSO; of these
# galaxies it calls 82 % GALAXY (tests/perf/seyfert_hosts.py; the quasars' Seyfert 1s start
# there, ``quasars.SEYFERT_RATIO``). Draws u[:, 10] (whether), u[:, 11] (ratio) and n[:, 7:10]
# (slope, line strength, width), which no other part of a galaxy uses.
BROADLINE_SHARE = 0.02
BROADLINE_Z = 0.33
BROADLINE_RATIO = (0.02, 0.053)


@cache
def eigen_galaxy() -> tuple[np.ndarray, np.ndarray] | None:
    """(rest log10 wavelength, (K, T) eigen-spectra) of spEigenGal with the first (the
    mean BOSS galaxy) scaled to 1 at 5500 A and the others to its RMS; None if absent."""
    from bench.errors import BenchError
    from bench_plugins.synthetic.template_files import SHIPPED_DIR, load

    try:
        t = load(str(SHIPPED_DIR), ["GALAXY"])["GALAXY"]
    except BenchError:
        return None
    rest = np.power(10.0, t.loglam)
    ref = float(np.median(t.flux[0, (rest > 5400) & (rest < 5600)]))
    flux = t.flux / ref
    rms0 = np.sqrt(np.mean(flux[0] ** 2))
    flux[1:] *= rms0 / np.sqrt(np.mean(flux[1:] ** 2, axis=1, keepdims=True))
    flux = np.stack([without_gas(rest, f) for f in flux])
    return t.loglam, flux


# Rest windows (A) of the nebular lines in the mean BOSS galaxy: [O II], [Ne III],
# [O III], [O I], H-alpha + [N II], [S II]. The mean holds the average gas emission of
# all BOSS galaxies (realism features of spEigenGal's first component at z = 0:
# H-alpha + [N II] +6.6 A, [O II] +3.1 A), which gave every passive galaxy that much,
# and the other components its variations (negative amounts of them dug absorption
# troughs once the mean's lines were gone); the old population is taken without them,
# the gas being drawn per galaxy below.
GAS_WINDOWS = [(3716.0, 3741.0), (3860.0, 3880.0), (4950.0, 4970.0), (4998.0, 5018.0),
               (6292.0, 6312.0), (6538.0, 6598.0), (6708.0, 6743.0)]  # fmt: skip


def without_gas(rest: np.ndarray, flux: np.ndarray) -> np.ndarray:
    """``flux`` with each GAS_WINDOWS stretch replaced by the straight line between the
    medians of 15 A on either side (the stellar absorption under the lines goes too)."""
    out = flux.copy()
    for lo, hi in GAS_WINDOWS:
        left = np.median(flux[(rest > lo - 15.0) & (rest < lo)])
        right = np.median(flux[(rest > hi) & (rest < hi + 15.0)])
        inside = (rest >= lo) & (rest <= hi)
        out[inside] = left + (right - left) * (rest[inside] - lo) / (hi - lo)
    return out


# Passive galaxies are older than the mean BOSS galaxy, which averages every type (its
# narrow 4000 A break, Dn4000 in f_nu as Balogh et al. 1999, MNRAS 310, 1119, is 1.69):
# the red sequence of the SDSS main sample peaks at Dn4000 ~1.85 (Kauffmann et al. 2003,
# MNRAS 341, 33, their Dn4000 distribution), and a population formed at z ~ 2-3 has a
# break that falls by ~0.1 from z 0.1 to 0.55 (Bruzual & Charlot 2003 models: ~1.95 at 10
# Gyr, ~1.8 at 5 Gyr, solar metallicity), as the BOSS LRGs are younger. The first
# eigen-component is that age direction (more of it: a deeper break, redder optical
# colours, less UV, weaker H-delta absorption), so passive galaxies take
# PASSIVE_AGE[0] + PASSIVE_AGE[1] * z more of it (in the units of EIGEN_SCATTER). Their
# Dn4000 (f_nu, at 20 times the S/N; `python tests/perf/galaxy_breaks.py`) was median
# 1.67-1.68 at every redshift (10th-90th percentile 1.53-1.86); with it 1.84 at z < 0.25
# (1.65-2.06), 1.80 at 0.25-0.43, 1.76 at 0.43-0.7. Star-forming ones: 1.28-1.35.
PASSIVE_AGE = (0.143, -0.13)


def eigen_population(
    loglam: np.ndarray, z: np.ndarray, n: np.ndarray, age: np.ndarray | None = None
) -> np.ndarray | None:
    """Old stellar population from the BOSS pipeline's galaxy eigen-spectra: the mean
    galaxy plus small random amounts of the other components, unit flux at 5500 A rest;
    ``age`` (B,): more of the first component (older: see PASSIVE_AGE)."""
    eigen = eigen_galaxy()
    if eigen is None:
        return None
    rest_loglam, flux = eigen
    coeff = np.concatenate(
        [np.ones((len(z), 1)), EIGEN_SCATTER * n[:, 12 : 12 + len(flux) - 1]], axis=1
    )
    if age is not None:
        coeff[:, 1] += age
    out = np.empty((len(z), len(loglam)), np.float32)
    for i in range(len(z)):
        spec = coeff[i] @ flux  # one object at a time: batch-independent
        out[i] = np.interp(loglam - np.log10(1.0 + z[i]), rest_loglam, spec)
    floor = 0.02 * np.median(np.abs(out), axis=1, keepdims=True)
    return np.maximum(out, floor)


def galaxy_type(z: np.ndarray, u: np.ndarray) -> np.ndarray:
    """PASSIVE, SF (star-forming; starbursts among them), AGN (narrow-line) or PSB
    (post-starburst), by redshift: SF 40 % at z < 0.25 (SDSS main sample), 12 % at
    0.25-0.65 (BOSS LOWZ/CMASS, mostly passive), 55 % above (eBOSS ELGs); AGN 5 %, PSB 3 %."""
    p_sf = np.where(z < 0.25, 0.40, np.where(z < 0.65, 0.12, 0.55))
    return np.where(u < p_sf, "SF", np.where(u < p_sf + 0.05, "AGN",
                    np.where(u < p_sf + 0.08, "PSB", "PASSIVE")))  # fmt: skip


def dust(rest_lam: np.ndarray, a_v: np.ndarray) -> np.ndarray:
    """Attenuation with A_lambda / A_V = (5500 / lambda), a Calzetti-like slope."""
    return np.power(
        np.float32(10.0), (-0.4 * a_v[:, None]).astype(np.float32) * (5500.0 / rest_lam)
    )


def population(
    loglam: np.ndarray,
    z: np.ndarray,
    rest_lam: np.ndarray,
    teff: np.ndarray,
    metals: np.ndarray,
    sigma_v: np.ndarray,
    balmer: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(continuum, absorbed spectrum) of one stellar population, unit flux at 5500 A rest."""
    jump = 0.55 * stars.strength(teff, 9500.0, 0.13, 0.22)
    cont = stars.continuum(rest_lam, teff, jump)
    cont /= stars.continuum(np.full((len(z), 1), 5500.0), teff, jump)
    tau = stars.tau(loglam, z, teff, metals, sigma_v, balmer, np.full(len(z), 600.0))
    return cont, cont * np.exp(-tau)


def emission_ratios(kind: np.ndarray, n: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Line fluxes relative to H-alpha (B, L), from case B and typical BPT positions."""
    agn = kind == "AGN"
    hb = np.full(len(kind), 1.0 / 2.86)
    o3 = hb * 10 ** np.where(
        agn, 0.9 + 0.2 * n[:, 0], -0.25 + 0.3 * np.clip(z, 0, 1) + 0.3 * n[:, 0]
    )
    n2 = 10 ** np.where(agn, 0.0 + 0.15 * n[:, 1], -0.5 + 0.2 * n[:, 1])
    o2 = hb * 10 ** (0.25 + 0.2 * n[:, 2])
    s2 = np.where(agn, 0.25, 0.12)
    cols = [0.43 * o2, 0.57 * o2, np.where(agn, 0.3, 0.08) * o2, 0.26 * hb, 0.47 * hb, hb,
            o3 / 2.98, o3, np.where(agn, 0.2, 0.03) * np.ones_like(hb), n2 / 3.05,
            np.ones_like(hb), n2, s2 * np.ones_like(hb), 0.75 * s2 * np.ones_like(hb)]  # fmt: skip
    return np.stack(cols, axis=1)


AgnModel = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def galaxies(
    loglam: np.ndarray, z: np.ndarray, u: np.ndarray, n: np.ndarray,
    use_eigen: bool = True, agn: AgnModel | None = None,
) -> tuple[np.ndarray, dict]:  # fmt: skip
    """Galaxy spectra in 1e-17 erg/s/cm^2/A for uniforms ``u`` and normals ``n`` (B, K).

    ``use_eigen``: the old stellar population from the shipped spEigenGal templates
    (:func:`eigen_population`); False: the physical model (black body, lines, break).
    ``agn``: the spectrum of the broad-line AGN of :func:`add_broad_line_agn` (the source
    passes ``quasars.broad_balmer_agn``); None: no galaxy holds one."""
    b = len(z)
    kind = galaxy_type(z, u[:, 0])
    sf, psb = kind == "SF", kind == "PSB"
    passive = ~(sf | psb)
    rest_lam = (np.power(10.0, loglam)[None, :] / (1.0 + z[:, None])).astype(np.float32)
    sigma_v = np.where(passive, 160.0 + 120.0 * u[:, 3], 60.0 + 60.0 * u[:, 3])
    old_c, old = population(loglam, z, rest_lam, 4500.0 + 600.0 * u[:, 2], 0.2 + 0.15 * u[:, 4],
                            sigma_v, np.ones(b))  # fmt: skip
    age = np.where(kind == "PASSIVE", np.maximum(PASSIVE_AGE[0] + PASSIVE_AGE[1] * z, 0.0), 0.0)
    eigen = eigen_population(loglam, z, n, age) if use_eigen else None
    if eigen is not None:  # the mean BOSS galaxy holds its own break and absorption lines
        old_c = old = eigen
    else:
        edge = 1.0 / (1.0 + np.exp(np.clip((rest_lam - 4000.0) / 15.0, -50, 50)))
        brk = 1.0 - (0.15 + 0.12 * u[:, 2])[:, None].astype(np.float32) * edge
        old_c, old = old_c * brk, old * brk
    f_young = np.where(sf, 0.3 + 0.5 * u[:, 4], np.where(psb, 0.5 + 0.3 * u[:, 4], 0.05 * u[:, 4]))
    t_young = np.where(psb, 8500.0 + 2000.0 * u[:, 5], 10000.0 + 8000.0 * u[:, 5])
    young_c, young = population(loglam, z, rest_lam, t_young, np.full(b, 0.3), sigma_v, np.ones(b))
    a_v = np.where(sf, 1.2 * u[:, 6], 0.1 * u[:, 6])
    att = dust(rest_lam, a_v)
    mix = (1.0 - f_young)[:, None]
    cont = (mix * old_c + (1.0 - mix) * young_c) * att
    flux = (mix * old + (1.0 - mix) * young) * att
    # nebular lines: H-alpha EW sets the scale; other lines follow flux ratios and dust
    ew_ha = np.where(sf, 10 ** (1.45 + 0.35 * n[:, 3] + 0.3 * np.clip(z, 0, 1)),
                     np.where(kind == "AGN", 10 ** (0.9 + 0.3 * n[:, 3]),
                     np.where(u[:, 7] < 0.3, 2.0 * u[:, 8], 0.0)))  # fmt: skip
    line_dust = 10 ** (-0.4 * (a_v / 0.44)[:, None] * (5500.0 / EMISSION))
    line_flux = emission_ratios(kind, n[:, 4:7], z) * line_dust / line_dust[:, HA : HA + 1]
    # equivalent widths against the galaxy's own continuum at each line, so the line flux
    # ratios in the spectrum are the ones above (a 4800 K black body stood in for it: its
    # continuum at 3727 A was 2-3x too faint beside H-alpha for a galaxy with young stars,
    # which made [O II] 1.6x the EW of H-alpha + [N II]; Kennicutt 1992, ApJ 388, 310,
    # measured ~0.4). Lines beyond the observed range take the nearest edge's continuum.
    cont_at = np.stack([np.interp(EMISSION, rest_lam[i], cont[i]) for i in range(b)])
    cont_at = cont_at / np.maximum(cont_at[:, HA : HA + 1], 1e-30)
    ew = ew_ha[:, None] * line_flux / np.maximum(cont_at, 1e-6)
    gas = broaden(40.0 + 80.0 * u[:, 9])[:, None] * np.ones((1, len(EMISSION)))
    flux += cont * profiles(loglam, z, EMISSION, gas, ew_amplitude(ew, EMISSION, gas))
    broad = add_broad_line_agn(flux, loglam, z, rest_lam, cont, u, n, agn)
    # whole light (the fibre's share: aperture): main sample r < 17.77; ELGs g ~ 22; CMASS
    elg, far = sf & (z > 0.6), ~sf & (z > 0.65)  # i < 19.9; eBOSS LRGs z ~ 20
    mag = np.select([z < 0.25, elg, far], [aperture.main_sample_mag(z, u[:, 1]), 21.5 + 1.2 * u[:, 1],
                    19.3 + 1.2 * u[:, 1]], 18.5 + 1.6 * u[:, 1])  # fmt: skip
    band = np.select([z < 0.25, elg, far], [6200.0, 4700.0, 9000.0], 7500.0)
    flux = scale_to(flux, loglam, band, ab_flux(mag, band))
    subclass = np.where(sf & (ew_ha > STARBURST_EW_HA), "STARBURST", kind).astype(object)
    subclass[broad] = subclass[broad] + " BROADLINE"
    return flux, {"subclass": subclass, "velocity_dispersion": sigma_v}


def add_broad_line_agn(
    flux: np.ndarray,
    loglam: np.ndarray,
    z: np.ndarray,
    rest_lam: np.ndarray,
    cont: np.ndarray,
    u: np.ndarray,
    n: np.ndarray,
    agn: AgnModel | None,
) -> np.ndarray:
    """Adds, in place, to the BROADLINE_SHARE of the galaxies below BROADLINE_Z (``u[:, 10]``)
    their weak broad-line AGN: ``agn``'s spectrum ((``loglam``, ``z``, (B, 3) normals) ->
    unit flux at 5100 A rest) times its AGN / host ratio there (``u[:, 11]``) and the
    continuum ``cont`` at 5100 A; none when ``agn`` is None (it is passed in: the quasars
    build their hosts from this module, so it does not import them). Returns which galaxies
    got one (B,)."""
    broad = (z < BROADLINE_Z) & (u[:, 10] < BROADLINE_SHARE)
    if agn is None or not broad.any():
        return np.zeros(len(z), bool)
    lo, hi = np.log10(BROADLINE_RATIO)
    ratio = 10.0 ** (lo + (hi - lo) * u[broad, 11])
    host = np.array([np.interp(5100.0, rest_lam[i], cont[i]) for i in np.flatnonzero(broad)])
    flux[broad] += agn(loglam, z[broad], n[broad, 7:10]) * (ratio * host)[:, None].astype(
        np.float32
    )
    return broad
