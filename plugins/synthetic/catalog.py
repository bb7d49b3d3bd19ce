"""Who is in the synthetic survey: labels and redshifts for all objects, drawn up front.

Class mixes: ``balanced`` (equal counts, shuffled) or ``boss`` (roughly the BOSS DR12
spectroscopic mix: mostly galaxies). Redshifts follow Gaussian mixtures whose components
are the DR12 samples, weighted by their published sizes (see ``GALAXY_Z`` and ``QSO_Z``):
galaxies from the SDSS-I/II main sample (z ~ 0.1), BOSS LOWZ (0.15-0.43) and CMASS
(0.43-0.7) and a small eBOSS tail to z ~ 1; quasars from the BOSS peak at z ~ 2.4, the
z ~ 1.4 population of SDSS-I/II and BOSS's lower-z targets, a high-z tail and low-z
broad-line AGN (SDSS legacy Seyfert 1s); stars get radial velocities from a disk
(40 km/s) and a halo (``star_rv_kms``) component.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench_plugins.synthetic.lines import C_KMS

BOSS_MIX = {"GALAXY": 0.66, "QSO": 0.20, "STAR": 0.14}
# (weight, mean, sigma) of Gaussian components in redshift.
# Galaxies, weighted by the sizes of the DR12 samples: the SDSS-I/II main sample (r < 17.77,
# median z = 0.104, Strauss et al. 2002, AJ 124, 1810; most of the ~930,000 DR7 galaxy
# spectra, Abazajian et al. 2009, ApJS 182, 543: ~800,000, an estimate, the rest LRGs and
# others), BOSS LOWZ (0.15 < z < 0.43, 361,762 galaxies, with the ~100,000 SDSS-I/II LRGs
# of Eisenstein et al. 2001, AJ 122, 2267, at the same redshifts) and CMASS (0.43 < z <
# 0.7, n(z) peaking at z ~ 0.55, 777,202 galaxies; Reid et al. 2016, MNRAS 455, 1553:
# sample sizes and n(z)): 0.39 : 0.23 : 0.38, scaled to 0.92 to leave 8 % for eBOSS
# LRGs/ELGs at 0.6 < z < 1.0 (Dawson et al. 2016, AJ 151, 44; after DR12, in the SDSS
# archive). The main-sample component alone has a median z of 0.10.
GALAXY_Z = [(0.36, 0.10, 0.05), (0.21, 0.30, 0.07), (0.35, 0.54, 0.07), (0.08, 0.80, 0.12)]
# Quasars: DR12Q holds 297,301 quasars, 184,101 (62 %) at z >= 2.15, the BOSS target
# population peaking at z ~ 2.2-2.6 (Paris et al. 2017, A&A 597, A79: abstract and their
# redshift histogram); the z < 2.15 rest follows the SDSS-I/II DR7Q population (105,783
# quasars, median z = 1.49, ~19,000 at z > 2.15; Schneider et al. 2010, AJ 139, 2360).
# These weights give 62 % at z >= 2.15 in [0.05, 4.5] (median z = 2.32, 2.5 % at
# z > 3.5); the last component is the low-z AGN (``lowz_qso_fraction``).
QSO_Z = [(0.64, 2.40, 0.33), (0.20, 1.35, 0.50), (0.11, 3.15, 0.45), (0.05, 0.12, 0.08)]
# weight of the last QSO_Z component: SDSS-I/II legacy broad-line AGN (Seyfert 1s) at low z,
# few in BOSS (its quasar targets are mostly at z > 2), many more in the legacy sample
LOWZ_QSO_FRACTION = QSO_Z[-1][0]


def qso_mixture(lowz_fraction: float) -> list[tuple[float, float, float]]:
    """QSO_Z with its low-z AGN component weighted ``lowz_fraction`` (the rest rescaled)."""
    if lowz_fraction == LOWZ_QSO_FRACTION:
        return QSO_Z
    rest = (1.0 - lowz_fraction) / (1.0 - LOWZ_QSO_FRACTION)
    return [(w * rest, m, s) for w, m, s in QSO_Z[:-1]] + [(lowz_fraction, *QSO_Z[-1][1:])]


def sample_mixture(
    parts: Sequence[tuple[float, float, float]], lo: float, hi: float, u: np.ndarray
) -> np.ndarray:
    """Inverse-CDF draws in [lo, hi] from a Gaussian mixture (with a small uniform floor)."""
    grid = np.linspace(lo, hi, 4001)
    pdf = np.zeros_like(grid)
    for w, m, s in parts:
        pdf += w * np.exp(-0.5 * ((grid - m) / s) ** 2) / s
    pdf = pdf + 1e-3 * pdf.max(initial=0.0) + 1e-12
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return np.interp(u * cdf[-1], cdf, grid)


def draw_labels(n: int, classes: Sequence[str], mix: str, rng: np.random.Generator) -> np.ndarray:
    if mix == "balanced":
        labels = np.array(classes, dtype=object)[np.arange(n) % len(classes)]
        return labels[rng.permutation(n)]
    weights = np.array([BOSS_MIX[c] for c in classes])
    pick = np.searchsorted(np.cumsum(weights) / weights.sum(), rng.random(n), side="right")
    return np.array(classes, dtype=object)[np.minimum(pick, len(classes) - 1)]


def draw_catalog(
    n: int,
    seed: int,
    classes: Sequence[str],
    mix: str,
    galaxy_z: Sequence[float],
    qso_z: Sequence[float],
    star_rv_kms: float,
    lowz_qso_fraction: float = LOWZ_QSO_FRACTION,
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, redshift) for ``n`` objects, reproducible from ``seed``; a
    ``lowz_qso_fraction`` of the quasar mixture is the low-z broad-line AGN component."""
    rng = np.random.default_rng([seed, 0])
    labels = draw_labels(n, classes, mix, rng)
    u, g = rng.random(n), rng.standard_normal(n)
    halo = rng.random(n) < 0.3
    redshift = np.where(halo, star_rv_kms * g, -10.0 + 40.0 * g) / C_KMS
    is_gal, is_qso = labels == "GALAXY", labels == "QSO"
    redshift[is_gal] = sample_mixture(GALAXY_Z, galaxy_z[0], galaxy_z[1], u[is_gal])
    redshift[is_qso] = sample_mixture(qso_mixture(lowz_qso_fraction), qso_z[0], qso_z[1], u[is_qso])
    return labels, redshift
