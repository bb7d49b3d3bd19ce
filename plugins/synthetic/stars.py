"""Stars O to M, white dwarfs and carbon stars: black-body continua shaped by line
blanketing and the Balmer jump, absorption lines whose strength peaks at the temperature
where their ion dominates, TiO/CaH bands in M dwarfs, C2 and CN bands in carbon stars;
the A-M stars' broad-band shape then corrected to the pipeline's own dwarf templates
(:mod:`bench_plugins.synthetic.dwarf_continuum`)."""

from __future__ import annotations

from functools import cache

import numpy as np

from bench.readers import TemplateFile
from bench_plugins.synthetic import dwarf_continuum
from bench_plugins.synthetic.lines import PIX_KMS, broaden, ew_amplitude, profiles
from bench_plugins.synthetic.photometry import ab_flux, scale_to

HC_K = 1.4388e8  # h c / k in Angstrom Kelvin

SUBCLASSES = ("O", "B", "A", "F", "G", "K", "M", "WD")
TEFF = {"O": (30000, 45000), "B": (10500, 30000), "A": (7400, 10000), "F": (6000, 7400),
        "G": (5200, 6000), "K": (3900, 5200), "M": (2500, 3900), "WD": (7000, 40000)}  # fmt: skip
# Shares of the types among SDSS/BOSS stellar spectra, from the published samples: of the
# ~460,000 stellar spectra of DR7 (Abazajian et al. 2009, ApJS 182, 543) 70,841 are
# clean M dwarfs (West et al. 2011, AJ 141, 97: 15 %; M giants and the lower-S/N M stars
# on top: 20 % here) and ~20,000 white dwarfs (Kleinman et al. 2013, ApJS 204, 5: 4 %;
# BOSS added ~8,400 and ~6,600 new ones, Kepler et al. 2015, MNRAS 446, 4078 and 2016,
# MNRAS 455, 3413: 4.5 % here); SEGUE's 240,000 are mostly F/G turn-off stars, G dwarfs
# and K dwarfs/giants (Yanny et al. 2009, AJ 137, 4377, target categories), and the
# spectrophotometric standards of every plate are F stars (SDSS: Stoughton et al. 2002,
# AJ 123, 485; BOSS: Dawson et al. 2013, AJ 145, 10); A/B stars (blue horizontal branch,
# SEGUE's BHB category) and hot subdwarfs (O/B here) are few. The A/B/WD shares were
# 0.10/0.04/0.09: too many stars with strong Balmer lines.
WEIGHTS = np.array([0.005, 0.02, 0.06, 0.26, 0.21, 0.20, 0.20, 0.045])
# The stars BOSS observed (WEIGHTS stays the SDSS-I/II spectrographs' mix) came from other
# targets: half of BOSS's 40 quasar targets per deg^2 are stars (Ross et al. 2012, ApJS
# 199, 3), chosen where the quasar locus crosses the stellar locus at z ~ 2.7, among the
# early F and late A stars (Fan 1999; Richards et al. 2002), with white dwarfs and hot
# subdwarfs beside them; every plate's 20 spectrophotometric standards are F stars (Dawson
# et al. 2013, AJ 145, 10); of CMASS's ~1,000,000 targets 4.6 % are not galaxies, "mostly M
# stars" (Bolton et al. 2012, AJ 144, 144). By those counts (~150,000 quasar-target stars,
# ~50,000 standards, ~45,000 M stars; an estimate, not a measured histogram): A 0.20,
# F 0.40, G 0.10, K 0.06, M 0.17, WD 0.045, B 0.02, O 0.005.
BOSS_WEIGHTS = np.array([0.005, 0.02, 0.20, 0.40, 0.10, 0.06, 0.17, 0.045])

BALMER = np.array([6564.61, 4862.68, 4341.68, 4102.89, 3971.20, 3890.15, 3836.47, 3798.98,
                   3771.70, 3751.22])  # fmt: skip
BALMER_TAU = np.array([0.45, 0.9, 0.8, 0.75, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35])
# Balmer lines of G and K dwarfs fade about linearly with Teff (their pressure-broadened
# wings), not as fast as the A-star peak's Gaussian: no less than a linear fall from 0.5
# at 6000 K to nothing at 4000 K (only stars below ~6700 K reach it). Ca II K, H: peak
# depth 1.7 (was 2.0). Against the shipped spEigenStar dwarfs, each beside a synthetic
# star of its type's Teff (`python tests/perf/stars_vs_templates.py --paired`; median
# template - synthetic index, A; before -> with these two and the continuum correction
# of dwarf_continuum): H-beta G -1.50 -> -0.09, K -1.79 -> -0.85 (F +0.59 -> +0.96, A +0.56 -> +0.76:
# the correction moves their side bands); H-alpha G -1.40 -> -0.34, K -1.10 -> -0.37;
# Ca II K A +2.32 -> +1.55, F +1.24 -> +0.23, G +0.98 -> -0.04, K +1.53 -> +0.39.
BALMER_COOL = ((4000.0, 0.0), (6000.0, 0.5))
# (rest wavelengths, Teff of peak strength, log10 width below, above, peak optical depth, sigma km/s)
METALS = [
    ((3934.78, 3969.59), 4800, 0.12, 0.15, 1.7, 350),  # Ca II K, H (depth 1.7: above)
    ((4227.92,), 3700, 0.08, 0.08, 1.0, 150),  # Ca I
    ((4305.0,), 5200, 0.10, 0.08, 0.35, 600),  # G band (CH)
    ((4384.8, 5270.4, 5335.1), 4600, 0.10, 0.10, 0.25, 150),  # Fe I blends
    ((5168.8, 5174.1, 5185.1), 4300, 0.10, 0.10, 0.8, 150),  # Mg b
    ((5891.6, 5897.6), 3700, 0.10, 0.10, 1.0, 150),  # Na D
    ((8500.4, 8544.4, 8664.5), 5000, 0.15, 0.12, 0.6, 200),  # Ca II triplet
    ((7667.0, 7701.1), 3000, 0.08, 0.08, 0.8, 200),  # K I
    ((4027.3, 4472.7, 5877.3, 6680.0), 20000, 0.12, 0.12, 0.25, 200),  # He I
    ((4687.0, 5413.0), 42000, 0.08, 0.08, 0.3, 250),  # He II
]
# TiO and CaH band heads (vacuum A) with relative depths; bands are degraded to the red.
# The 5001 A head (TiO alpha system, beside 4956) is in the spEigenStar M templates: their
# flux drops 20-25 % from 4994 to 5008 A (M1, M3III, M5III); without it the synthetic M
# stars' [O III] window read as emission (ew_OIII +0.9; the M templates -3.6, now -2.5).
BANDS = np.array([[4956, 0.4], [5001, 0.2], [5168, 0.5], [5449, 0.6], [5848, 0.6], [6160, 0.8],
                  [6382, 0.4], [6653, 0.5], [6750, 0.4], [7055, 1.0], [7591, 0.7],
                  [8434, 0.4], [8860, 0.3]])  # fmt: skip


# Chromospheric H-alpha emission of M dwarfs: the active share rises from a few per cent
# at M0-M2 to ~60-80 % at M5-M8 (West et al. 2008, AJ 135, 785; West et al. 2011, AJ
# 141, 97, 70,841 DR7 M dwarfs), emission EWs of 1 to ~10 A (the same papers); nodes in
# Teff (K: M0 3850, M2 3550, M4 3200, M5 3050, M6 2850, M8 2570) and active share. The
# draws u[:, 32] (active or not) and u[:, 33] (EW, log-uniform 1-8 A) are the stars' own.
ACTIVE_SHARE = np.array([[2500, 0.75], [2850, 0.75], [3050, 0.6], [3200, 0.3],
                         [3550, 0.08], [3850, 0.03]])  # fmt: skip
ACTIVE_EW = (1.0, 8.0)
HALPHA = 6564.61

# Carbon stars (C/O > 1: the oxygen is locked in CO, so C2 and CN bands replace TiO).
# SDSS found about 1,200 of them among the ~460,000 stellar spectra of DR7 (Green 2013,
# ApJ 765, 12: ~0.3 %), more among the faint, QSO-like colour targets of BOSS: 0.5 % of
# the cool stars here (a draw of its own, u[:, 30]; the band depth from u[:, 31]).
CARBON_FRACTION = 0.005
CARBON_TEFF = (2600.0, 4500.0)
# band heads (A) and relative depths: CN violet 3883, 4216; C2 Swan 4737 (1-0), 5165
# (0-0), 5636 (0-1), 6191 (0-2); all degraded to the violet (absorption blueward of the head)
CARBON_BANDS = np.array([[3883, 0.8], [4216, 0.6], [4737, 0.9], [5165, 1.0], [5636, 0.7],
                         [6191, 0.4]])  # fmt: skip


# The blanketing forest: thousands of weak metal lines (Fe I, Ti I, Cr I, CH, CN...) too
# many to list. Their positions and relative depths are taken from the pipeline's own
# stellar templates (spEigenStar-55734, shipped in bench_plugins/templates): the mean
# line-depth spectrum of its G and K stars, -ln(flux / running upper envelope), with the
# cores of the lines listed above (Balmer, METALS) cut out as those are drawn per star;
# where the templates are absent, a fixed random forest (denser and deeper in the blue)
# stands in. A random forest put the lines in the wrong places: its depth at [O III]
# 5008 A and H-delta read as emission, the templates' as absorption (realism features
# ew_OIII, ew_Hdelta on the noiseless templates: G -0.67 and +0.07, K -1.05 and +1.59;
# the random forest's G stars +0.58 and -2.44). Its depth per star is set so the
# pixel-scale structure (rms about a 15-pixel running median at BOSS resolution,
# 3800-5800 A) of the synthetic stars matches that of the templates of each type, their
# own noise floor (the O templates' 0.02) and the listed lines' share taken out in
# quadrature: A 0.036, F 0.052, G 0.063, K 0.087, M 0.095 (nodes in Teff, K; none for
# O/B stars and white dwarfs).
FOREST_RMS = np.array([[2800, 0.095], [4500, 0.087], [5600, 0.063], [6700, 0.052],
                       [8700, 0.036], [11000, 0.0]])  # fmt: skip
FOREST_LINES = 6000
FOREST_TYPES = ("G", "K")  # the templates whose line-depth spectrum is the forest
FOREST_CUT_A = 8.0  # half-width (A) of the listed lines' cores cut out of it
ENVELOPE_PIX = 81  # running-envelope window of the templates' pseudo-continuum (~190 A)


def typical(teff: np.ndarray) -> np.ndarray:
    """Uniforms (B, 40) of an unremarkable star at each ``teff`` (not a white dwarf, not a
    carbon star, not active; every other draw at its median)."""
    u = np.full((len(teff), 40), 0.5)
    cdf = np.cumsum(WEIGHTS) / WEIGHTS.sum()
    for j, t in enumerate(teff):
        k = next(k for k, s in enumerate(SUBCLASSES[:-1]) if t >= TEFF[s][0] or s == "M")
        lo, hi = TEFF[SUBCLASSES[k]]
        u[j, 0] = (cdf[k] + (cdf[k - 1] if k else 0.0)) / 2
        u[j, 1] = np.clip(np.log(t / lo) / np.log(hi / lo), 0.0, 1.0)
    u[:, 30] = u[:, 32] = 1.0
    return u


def typical_model(loglam: np.ndarray, teff: np.ndarray) -> np.ndarray:
    """Uncorrected flux (B, P) at rest of an unremarkable star (:func:`typical`) per Teff."""
    return physical(loglam, np.zeros(len(teff)), typical(teff))[0]


@cache
def continuum_correction() -> dwarf_continuum.Table | None:
    """The dwarf-template continuum correction (:mod:`dwarf_continuum`) of the shipped
    stellar templates against this model; None without them."""
    t = shipped_star_templates()
    if t is None:
        return None
    return dwarf_continuum.correction_table(t.names, t.loglam, t.flux, typical_model)


@cache
def shipped_star_templates() -> TemplateFile | None:
    """The package's spEigenStar templates (read once: the line forest and the continuum
    correction both start from them); None without them."""
    from bench.errors import BenchError
    from bench_plugins.synthetic.template_files import SHIPPED_DIR, load

    try:
        return load(str(SHIPPED_DIR), ["STAR"])["STAR"]
    except BenchError:
        return None


@cache
def blanketing_forest() -> tuple[np.ndarray, np.ndarray]:
    """(log10 rest wavelength grid, optical depth) of the weak-line forest, scaled so its
    relative structure about a 15-pixel running median is 1 (rms) at 3800-5800 A."""
    step = 0.25e-4  # a quarter of a BOSS pixel
    grid = np.arange(np.log10(3300.0), np.log10(11000.0), step)
    tau = template_forest(grid, FOREST_TYPES)
    if tau is None:
        tau = random_forest(grid, step)
    boss = grid[::4]
    sel = (boss > np.log10(3800.0)) & (boss < np.log10(5800.0))
    coarse = tau[::4][sel]
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(coarse, 7, mode="edge"), 15)
    rms = np.sqrt(np.mean((coarse - np.median(windows, axis=1)) ** 2))
    return grid, (tau / rms).astype(np.float32)


def template_forest(grid: np.ndarray, types: tuple[str, ...]) -> np.ndarray | None:
    """Mean line depth -ln(flux / envelope) of the shipped spEigenStar templates of
    spectral ``types`` on ``grid`` (log10 rest A), the listed lines' cores cut out; None
    without them."""
    t = shipped_star_templates()
    if t is None:
        return None
    pick = [i for i, name in enumerate(t.names) if name[:1] in types]
    if not pick:
        return None
    depth = []
    for flux in t.flux[pick]:
        padded = np.pad(flux, ENVELOPE_PIX // 2, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, ENVELOPE_PIX)
        envelope = np.percentile(windows, 90, axis=1)
        depth.append(-np.log(np.clip(flux / np.maximum(envelope, 1e-30), 0.05, 1.0)))
    tau = np.interp(grid, t.loglam, np.mean(depth, axis=0), left=0.0, right=0.0)
    rest = np.power(10.0, grid)
    listed = np.concatenate([BALMER, *[np.array(lines) for lines, *_ in METALS]])
    for w in listed:
        tau[np.abs(rest - w) < FOREST_CUT_A] = 0.0
    return tau


def random_forest(grid: np.ndarray, step: float) -> np.ndarray:
    """A fixed random forest of FOREST_LINES weak lines, density ~ lambda^-2, deeper in
    the blue, at BOSS resolution: the stand-in when the templates are absent."""
    rng = np.random.default_rng(4226)
    inv = rng.uniform(1 / 11000.0, 1 / 3300.0, FOREST_LINES)  # density ~ lambda^-2
    depth = rng.lognormal(0.0, 1.0, FOREST_LINES) * (4500.0 * inv) ** 1.5
    tau = np.bincount(np.rint((np.log10(1 / inv) - grid[0]) / step).astype(int), depth, len(grid))
    sigma = float(broaden(5.0)) / PIX_KMS * 4  # in quarter pixels
    x = np.arange(-int(5 * sigma), int(5 * sigma) + 1)
    return np.convolve(tau, np.exp(-0.5 * (x / sigma) ** 2), mode="same")


def strength(teff: np.ndarray, peak: float, below: float, above: float) -> np.ndarray:
    """Relative line strength: a Gaussian in log10 Teff, asymmetric about ``peak``."""
    d = np.log10(teff / peak)
    return np.exp(-0.5 * (d / np.where(d < 0, below, above)) ** 2)


def balmer_strength(teff: np.ndarray) -> np.ndarray:
    """Relative strength of the Balmer lines at ``teff``: a Gaussian in log Teff about the
    A0 peak, on its cool side no less than BALMER_COOL's linear fall (which only the stars
    below ~6700 K reach)."""
    (t0, floor), (t1, top) = BALMER_COOL
    ramp = np.clip(floor + (top - floor) * (teff - t0) / (t1 - t0), floor, top)
    return np.maximum(strength(teff, 9500.0, 0.13, 0.22), np.where(teff < 9500.0, ramp, 0.0))


def continuum(rest_lam: np.ndarray, teff: np.ndarray, balmer_jump: np.ndarray) -> np.ndarray:
    """Black body with metal-line blanketing in the blue and a Balmer jump at 3646 A."""
    t = teff[:, None].astype(np.float32)
    inv = (1.0 / rest_lam).astype(np.float32)
    bb = inv**5 / np.expm1(np.minimum(np.float32(HC_K) * inv / t, 80.0))
    bb /= bb.max(axis=1, keepdims=True) + 1e-30
    blanket = np.clip((7000.0 - t) / 1800.0, 0.0, 3.0)
    bb *= np.exp(-blanket * np.clip((4600.0 - rest_lam) / 1000.0, 0.0, None) ** 1.2)
    jump = 1.0 / (1.0 + np.exp(np.clip((rest_lam - 3660.0) / 12.0, -50, 50)))
    return bb * (1.0 - balmer_jump[:, None] * jump).astype(np.float32)


def tau(
    loglam: np.ndarray,
    z: np.ndarray,
    teff: np.ndarray,
    metals: np.ndarray,
    sigma_extra: np.ndarray,
    balmer_scale: np.ndarray,
    balmer_sigma: np.ndarray,
) -> np.ndarray:
    """Optical depth of stellar absorption lines (B, P) for temperatures ``teff`` (B,)."""
    waves, taus, sigmas = [], [], []
    bal = balmer_strength(teff) * balmer_scale
    for w, t in zip(BALMER, BALMER_TAU, strict=True):
        waves.append(w)
        taus.append(t * bal)
        sigmas.append(balmer_sigma)
    for lines, peak, lo, hi, t0, sig in METALS:
        s = t0 * strength(teff, peak, lo, hi) * metals
        for w in lines:
            waves.append(w)
            taus.append(s)
            sigmas.append(np.full(len(z), float(sig)))
    amp = np.stack(taus, axis=1)
    sigma = broaden(np.sqrt(np.stack(sigmas, axis=1) ** 2 + sigma_extra[:, None] ** 2))
    return profiles(loglam, z, np.array(waves), sigma, amp)


def band_tau(
    rest_lam: np.ndarray, depth: np.ndarray, bands: np.ndarray, fade_a: float, to_red: bool
) -> np.ndarray:
    """Molecular bands (rows of head, relative depth) times ``depth`` (B,): a sharp head,
    absorption fading over ``fade_a`` Angstrom to the red (``to_red``) or to the blue."""
    out = np.zeros_like(rest_lam)
    live = depth > 0
    if not live.any():
        return out
    lam = rest_lam[live]
    for head, rel in bands:
        x = lam - head if to_red else head - lam
        out[live] += (
            rel
            * np.where(x > 0, np.exp(-np.clip(x, 0, None) / fade_a), 0.0)
            * (1.0 / (1.0 + np.exp(np.clip(-x / 2.0, -50, 50))))
        )
    out[live] *= depth[live, None]
    return out


def chromosphere(
    loglam: np.ndarray, z: np.ndarray, teff: np.ndarray, u: np.ndarray, off: np.ndarray
) -> np.ndarray:
    """H-alpha emission of active M dwarfs relative to the local flux (B, P): the stars
    below 3900 K (not ``off``), active with ACTIVE_SHARE's chance at their Teff."""
    share = np.interp(teff, ACTIVE_SHARE[:, 0], ACTIVE_SHARE[:, 1], right=0.0)
    active = (teff < 3900.0) & ~off & (u[:, 32] < share)
    lo, hi = ACTIVE_EW
    ew = np.where(active, lo * (hi / lo) ** u[:, 33], 0.0)[:, None]
    sigma = np.full_like(ew, float(broaden(30.0)))
    return profiles(loglam, z, np.array([HALPHA]), sigma, ew_amplitude(ew, HALPHA, sigma))


def stars(
    loglam: np.ndarray, z: np.ndarray, u: np.ndarray, legacy: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    """Star spectra (arbitrary units) for uniforms ``u`` (B, K); returns flux and meta.
    ``legacy`` (B,): True on the SDSS-I/II spectrographs (types by WEIGHTS), False on
    BOSS's (BOSS_WEIGHTS); None: all SDSS-I/II."""
    flux, teff, subclass = physical(loglam, z, u, legacy)
    kinds = subclass.astype(str)
    off = np.char.startswith(kinds, "WD") | (kinds == "CARBON")
    flux = flux * dwarf_continuum.correction(loglam, z, teff, off, continuum_correction())
    band = np.full(len(z), 6200.0)
    flux = scale_to(flux, loglam, band, ab_flux(16.5 + 5.5 * u[:, 2], band))
    return flux, {"subclass": subclass, "teff": teff}


def physical(
    loglam: np.ndarray, z: np.ndarray, u: np.ndarray, legacy: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The physical model before the dwarf-template continuum correction and the flux
    scale: (flux, teff, subclass); ``legacy`` as in :func:`stars`."""
    kind = np.searchsorted(np.cumsum(WEIGHTS) / WEIGHTS.sum(), u[:, 0])
    if legacy is not None:
        boss = np.searchsorted(np.cumsum(BOSS_WEIGHTS) / BOSS_WEIGHTS.sum(), u[:, 0])
        kind = np.where(np.asarray(legacy, bool), kind, boss)
    lo = np.array([TEFF[s][0] for s in SUBCLASSES])[kind]
    hi = np.array([TEFF[s][1] for s in SUBCLASSES])[kind]
    wd = kind == SUBCLASSES.index("WD")
    carbon = (u[:, 30] < CARBON_FRACTION) & ~wd
    lo = np.where(carbon, CARBON_TEFF[0], lo)
    hi = np.where(carbon, CARBON_TEFF[1], hi)
    teff = np.exp(np.log(lo) + u[:, 1] * (np.log(hi) - np.log(lo)))
    wd_type = np.where(u[:, 4] < 0.75, "DA", np.where(u[:, 4] < 0.9, "DC", "DB"))
    metals = np.where(wd, 0.0, 0.5 + 0.8 * u[:, 3])
    balmer_scale = np.where(wd, np.where(wd_type == "DA", 1.6, 0.0), 1.0)
    balmer_sigma = np.where(
        wd, 1800.0 + 1500.0 * u[:, 5], 150.0 + 450.0 * strength(teff, 9500, 0.13, 0.22)
    )
    rest_lam = (np.power(10.0, loglam)[None, :] / (1.0 + z[:, None])).astype(np.float32)
    jump = 0.55 * strength(teff, 9500.0, 0.13, 0.22) * np.where(wd & (wd_type != "DA"), 0.0, 1.0)
    flux = continuum(rest_lam, teff, jump)
    t = tau(loglam, z, teff, metals, 30.0 * u[:, 5], balmer_scale, balmer_sigma)
    db = wd & (wd_type == "DB")
    if db.any():
        he = np.array([4027.3, 4472.7, 4923.3, 5017.1, 5877.3, 6680.0])
        amp = np.full((int(db.sum()), len(he)), 0.6)
        t[db] += profiles(loglam, z[db], he, np.full_like(amp, 1500.0), amp)
    m_depth = np.clip((3950.0 - teff) / 700.0, 0.0, 1.6) * np.where(wd | carbon, 0.0, 1.0)
    t += band_tau(rest_lam, m_depth, BANDS, 150.0, to_red=True)  # TiO, CaH
    c_depth = np.where(carbon, 0.6 + 0.9 * u[:, 31], 0.0)
    t += band_tau(rest_lam, c_depth, CARBON_BANDS, 120.0, to_red=False)  # C2 Swan, CN
    grid, forest = blanketing_forest()
    level = np.interp(teff, FOREST_RMS[:, 0], FOREST_RMS[:, 1]) * metals / 0.9
    for row in np.flatnonzero(level > 0):
        t[row] += level[row] * np.interp(np.log10(rest_lam[row]), grid, forest)
    subclass = np.where(wd, "WD" + wd_type, np.array(SUBCLASSES, dtype=object)[kind])
    subclass = np.where(carbon, "CARBON", subclass)
    flux = flux * np.exp(-t) * (1.0 + chromosphere(loglam, z, teff, u, wd | carbon))
    return flux, teff, subclass.astype(object)
