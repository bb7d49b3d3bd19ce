"""Observing a noiseless spectrum with BOSS: throughput falling at both ends and at the
dichroic, night-sky continuum and lines (Hg, Na, [O I] 5577/6300/6364, the red OH
forest) whose colour changes from night to night, sky-subtraction residuals that scale
with the sky's noise, spectrophotometric wiggles, noise from source and sky (coadd-
correlated, a per-spectrum error-scale spread, more than reported at the blue end), and
masked pixels with SDSS and_mask bits (NODATA and FULLREJECT pixels have no measurement:
the ends, bad columns, rejected sky-line cores and stray pixels; BRIGHTSKY is a flag, as
in BOSS: those pixels keep their inverse variance). The constants are fitted on the real
spectra of ../shared/data, all classes pooled (tests/perf/bench_realism_noise.py)."""

from __future__ import annotations

from functools import cache

import numpy as np

from bench.spectra import BRIGHTSKY, FULLREJECT, NODATA

NO_MEASUREMENT = NODATA | FULLREJECT  # bits whose pixels get ivar 0

SKY_LINES = [(4047.7, 5.0), (4359.6, 8.0), (5462.3, 8.0), (5578.9, 120.0), (5891.6, 12.0),
             (5897.6, 12.0), (6302.0, 45.0), (6365.5, 15.0)]  # fmt: skip
# OH Meinel bands: (first, last wavelength, number of lines, typical peak)
OH_BANDS = [(6830, 7000, 12, 12), (7240, 7420, 18, 18), (7570, 7720, 8, 8), (7740, 8030, 25, 25),
            (8280, 8520, 24, 30), (8730, 9050, 30, 40), (9300, 9600, 25, 30),
            (9700, 10100, 30, 55), (10100, 10420, 20, 60)]  # fmt: skip


# relative BOSS throughput (telescope, spectrographs, CCDs, atmosphere at airmass ~1.2),
# peak 1 in the red arm: the blue arm and the blue end collect fewer photons, so flux
# errors are larger in the blue than in the red. The shape of Smee et al. 2013 (fig. 38)
# left the blue errors 10-45 % too small: below 6200 A and at the red end the nodes are
# fitted so the median error curve, sigma(lambda) over its red-arm median, matches the one
# of the 88 real BOSS quasars of ../shared/data/sdss (the 10 real BOSS stars agree within
# 10 %; tests/perf/bench_realism_noise.py prints both).
THROUGHPUT = np.array([
    [3550, 0.05], [3700, 0.11], [3850, 0.18], [4000, 0.27], [4300, 0.41], [4700, 0.54],
    [5200, 0.62], [5600, 0.59], [5850, 0.49], [6000, 0.37], [6150, 0.52], [6500, 0.82],
    [7000, 0.94], [7600, 1.00], [8200, 0.97], [8800, 0.86], [9300, 0.70], [9800, 0.44],
    [10100, 0.34], [10450, 0.22],
])  # fmt: skip


def throughput(lam: np.ndarray) -> np.ndarray:
    """Relative BOSS system throughput (peak 1 near 7600 A)."""
    return np.interp(lam, THROUGHPUT[:, 0], THROUGHPUT[:, 1])


# The SDSS-I/II spectrographs against BOSS's (Smee et al. 2013, AJ 146, 32: BOSS's VPH
# gratings and new CCDs nearly doubled the peak throughput and extended the bandpass at
# both ends): the throughput of SDSS-I/II relative to BOSS, each normalised in its red arm
# (6200-9000 A, so a spectrum's red-arm noise is unchanged). Measured as the ratio of the
# two instruments' median sigma^2 / flux (the inverse throughput where the source's photons
# dominate) in the real spectra of ../shared/data with S/N > 15, 17 BOSS and 33 SDSS-I/II,
# all classes (3800-9200 A, 400 A bins): the SDSS-I/II blue arm is poorer (0.62 at 4000 A,
# 0.87 at 5200 A), its dichroic crossover less deep (1.27-1.34 at 6000-6400 A) and its
# red CCDs fade beyond 8000 A (0.74 at 8400 A, 0.42 at 9200 A).
LEGACY_THROUGHPUT = np.array([
    [4000, 0.72], [4400, 0.76], [4800, 0.82], [5200, 0.95], [5600, 0.95], [6000, 1.83],
    [6400, 1.37], [6800, 1.30], [7200, 1.07], [7600, 0.99], [8000, 0.94], [8400, 0.87],
    [8800, 0.61], [9200, 0.50],
])  # fmt: skip


# SDSS-I/II subtracted the sky less well than BOSS, above all the OH forest beyond 6700 A:
# Wild & Hewett 2005 (MNRAS 358, 1083) find systematic OH residuals in many SDSS spectra
# that cut the S/N over wide stretches by more than a factor 2 below counting statistics
# (and BOSS rejects bright sky-line cores, SDSS-I/II kept them). The sky residual weights
# (optical lines, OH forest) of a legacy spectrum are multiplied by these factors. On the
# real SDSS-I/II spectra of ../shared/data (29 quasars and galaxies with S/N > 15) pixels at
# OH lines (sigma > 1.5x its running median, 8000-9200 A) have a mean squared normalised
# residual of 2.4-2.6 against 1.0 between them, and 3.1-3.4 within 4 A of 5577 A; the
# synthetic ones 0.97 and 1.8-2.5 without these factors, 1.3-2.4 and 2.9-5.8 with them.
LEGACY_SKY_RESIDUAL = (1.25, 3.0)


def legacy_throughput(lam: np.ndarray) -> np.ndarray:
    """Relative SDSS-I/II system throughput: BOSS's times :data:`LEGACY_THROUGHPUT`."""
    return throughput(lam) * np.interp(lam, LEGACY_THROUGHPUT[:, 0], LEGACY_THROUGHPUT[:, 1])


# BOSS quasar fibres were drilled where the target's 4000 A light lands (atmospheric
# differential refraction at the plate's design hour angle: more Ly-alpha forest light),
# the spectrophotometric standards' where their 5400 A light lands (Dawson et al. 2013, AJ
# 145, 10, plate drilling); the calibration from the standards therefore leaves BOSS quasars too
# bright in the blue and too faint in the red (Lee et al. 2013, AJ 145, 69; Margala et al.
# 2016, ApJ 831, 157). SDSS-I/II spectra and BOSS galaxies and stars have no offset. For
# small offsets against the seeing the fibre's acceptance falls as the offset squared, so
# the log of the quasar/standard acceptance ratio is linear in the image's refraction
# shift: ln R = k (r(lambda) - r_mid), r the refractivity of air (Edlen 1953, dry air),
# r_mid the midpoint of r(4000 A) and r(5400 A), where quasar and standard are offset
# alike: R = 1 at 4537 A (Margala's own summary figure, tpcorr
# examples/plot_correction_summary.py, marks 4539 A). k puts the mean at Margala et al.'s
# published figure, flux overestimated by 19 % at 3600 A; it then gives 0.80 at 10,000 A
# (theirs: underestimated by 24 %, a correction of 1.24, i.e. 0.81). Their per-exposure
# spread (hour angle, seeing, field position) is shown only as a figure whose numbers the
# sources available here do not give, so every offset quasar gets the mean. The ratio
# multiplies the source's light before the noise model (its photons), not the sky's nor
# the read noise: the calibration vector is the plate's, the same for every fibre.
QSO_OFFSET_BLUE = 1.19  # mean observed / true flux at 3600 A (Margala et al. 2016)


def _refractivity(lam: np.ndarray) -> np.ndarray:
    """Refractivity of dry air, (n - 1) 1e6 up to a constant factor (Edlen 1953)."""
    s2 = (1e4 / np.asarray(lam, np.float64)) ** 2
    return 64.328 + 29498.1 / (146.0 - s2) + 255.4 / (41.0 - s2)


def fibre_offset_ratio(lam: np.ndarray) -> np.ndarray:
    """The mean calibrated/true flux (float64, same shape as ``lam``) of a BOSS quasar
    whose fibre was offset for 4000 A light while its plate was calibrated at 5400 A."""
    mid = 0.5 * (_refractivity(np.array(4000.0)) + _refractivity(np.array(5400.0)))
    k = np.log(QSO_OFFSET_BLUE) / (_refractivity(np.array(3600.0)) - mid)
    return np.exp(k * (_refractivity(lam) - mid))


@cache
def sky(loglam_key: tuple[float, float, int]) -> tuple[np.ndarray, np.ndarray]:
    """(continuum, lines) of the night sky in a 2" fibre, 1e-17 erg/s/cm^2/A, on the grid."""
    cont, optical, oh = sky_parts(loglam_key)
    return cont, optical + oh


@cache
def sky_parts(loglam_key: tuple[float, float, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(continuum, optical lines: Hg, Na, [O I], OH forest) of the night sky on the grid."""
    start, step, npix = loglam_key
    lam = np.power(10.0, start + step * np.arange(npix))
    # dark-sky continuum in f_lambda: roughly flat, brighter in the blue (scattered light)
    cont = 1.0 + 1.2 * (4500.0 / lam) ** 2
    rng = np.random.default_rng(5577)  # a fixed line list, the same for every spectrum
    x = np.arange(npix)

    def draw(waves: list[float], peaks: list[float]) -> np.ndarray:
        out = np.zeros(npix)
        for c, p in zip((np.log10(np.array(waves)) - start) / step, peaks, strict=True):
            out += p * np.exp(-0.5 * ((x - c) / 1.1) ** 2)
        return out

    waves, peaks = [], []
    for lo, hi, count, peak in OH_BANDS:
        waves += list(rng.uniform(lo, hi, count))
        peaks += list(peak * rng.lognormal(0.0, 0.7, count))
    optical = draw([w for w, _ in SKY_LINES], [p for _, p in SKY_LINES])
    return cont, optical, draw(waves, peaks)


# The night-to-night change of the sky's colour: the real BOSS spectra of ../shared/data
# at S/N < 3 (46, all classes) have log10 sigma(6200-9000 A) / sigma(3800-5800 A) with
# quartiles -0.222 and -0.140, one sky colour gives -0.195 and -0.178: a normal tilt of
# the sky's log brightness with this standard deviation per 2000 A spreads it as much.
SKY_TILT = 0.2

# Coadd noise: BOSS resamples every exposure onto the coadd's log-lambda grid (a B-spline
# fit, idlspec2d combine1fiber), which correlates neighbouring pixels and leaves less noise
# per pixel than the reported inverse variance promises. The symmetric kernel (lag 0, 1,
# 2) is fitted on the real BOSS/eBOSS quasars of ../shared/data/sdss (112 spectra, red
# arm 6200-9000 A, residuals from a 15-pixel running median): lag-1 correlation +0.16,
# lag-2 -0.17 and mean squared normalised residual 0.89 there, against +0.04, -0.02, 1.08
# for white noise (tests/perf/bench_realism_noise.py measures both).
COADD_KERNEL = (0.90, 0.064, -0.07)


# Pixel-to-pixel flat-field and extraction errors, a fraction of the flux the reported
# inverse variance leaves out. The real BOSS spectra of ../shared/data with S/N > 15 (17,
# all classes) scatter less than their errors promise about a 15-pixel running median
# (mean square 0.74 at 5400-5560 A, 0.91 at 6400-6800 A, 1.0 in the OH forest), the
# synthetic ones as much without this term (0.87, 0.93, 1.2) and more with any: the
# pipeline's errors already hold it, so it is 0 (a fraction here adds that much).
FLAT_ERROR = 0.0


# Pixels without a measurement inside the covered range, fitted on the 103 real BOSS
# spectra of ../shared/data with the full 3570-10310 A coverage, all classes pooled (an
# instrument property): 7.8 per spectrum (in 4.5 runs, variance 11.6 runs: some exposures
# reject far more than others). They sit at the sky lines the sky subtraction rejects:
# the core of [O I] 5577 (1.9 pixels per spectrum, its central pixels in about half of
# the spectra, [O I] 6300 almost never) and the bright OH lines beyond 8000 A (3.4 in
# short runs), runs of 5 or more pixels (1.7: the bad columns below) and scattered short
# runs elsewhere (0.9: cosmic rays, bad pixels). A pixel is rejected with
# probability (sky line / SKY_REJECT_LEVEL)**3 (optical, OH; at most 0.9) plus
# STRAY_REJECT, times a lognormal factor per spectrum (sigma REJECT_SPREAD, mean 1).
SKY_REJECT_LEVEL = (115.0, 425.0)
STRAY_REJECT = 2e-4
REJECT_SPREAD = 0.55


@cache
def reject_probability(loglam_key: tuple[float, float, int]) -> np.ndarray:
    """Per-pixel probability that a BOSS coadd has no measurement there (mean spectrum)."""
    _, optical, oh = sky_parts(loglam_key)
    level_optical, level_oh = SKY_REJECT_LEVEL
    lines = (optical / level_optical) ** 3 + (oh / level_oh) ** 3
    return (np.minimum(lines, 0.9) + STRAY_REJECT).astype(np.float32)


def rejected(loglam: np.ndarray, u_pix: np.ndarray, n_spectrum: np.ndarray) -> np.ndarray:
    """(B, P) True where a pixel is rejected: ``u_pix`` (B, P) uniforms per pixel,
    ``n_spectrum`` (B, 1) a normal per spectrum for its rejection rate."""
    key = (float(loglam[0]), float(loglam[1] - loglam[0]), len(loglam))
    factor = np.exp(REJECT_SPREAD * n_spectrum - 0.5 * REJECT_SPREAD**2).astype(np.float32)
    return u_pix < np.minimum(reject_probability(key)[None, :] * factor, 0.95)


# The blue end scatters more than its reported errors promise: on the real BOSS spectra of
# ../shared/data with S/N < 3 (noise-dominated; 19-38 spectra per bin, all classes pooled,
# quasars' Ly-alpha forest left out), the mean squared normalised residual from a 15-pixel
# running median is 1.09 at 3700-4300 A, 0.91 at 4300-5000 A and 0.83 at 5000-5800 A,
# against 0.81-0.82 for the coadd noise alone: the noise variance is multiplied by these
# factors (node wavelength, factor; 1 beyond the last), which the inverse variance leaves out.
# The inverse variance's error also varies from spectrum to spectrum (plate, exposure,
# fibre): the same real spectra's red-arm mean square at S/N < 3 spans 0.79-0.94
# (quartiles, log10 -0.10 to -0.03) where white noise with one kernel gives 0.83-0.88;
# each spectrum's noise amplitude is multiplied by exp(NOISE_SPREAD * a normal draw).
NOISE_SPREAD = 0.05
BLUE_EXCESS = np.array([[4000.0, 1.35], [4650.0, 1.12], [5400.0, 1.0]])


def blue_excess(lam: np.ndarray) -> np.ndarray:
    """Noise amplitude over the reported sigma at each wavelength (>= 1, float32)."""
    return np.sqrt(np.interp(lam, BLUE_EXCESS[:, 0], BLUE_EXCESS[:, 1])).astype(np.float32)


def coadd_noise(white: np.ndarray) -> np.ndarray:
    """``white`` (B, P) unit normal noise as the coadd leaves it: convolved along the
    wavelength with :data:`COADD_KERNEL` (edges reflected), row by row, float32."""
    h0, h1, h2 = (np.float32(c) for c in COADD_KERNEL)
    x = np.pad(np.asarray(white, np.float32), ((0, 0), (2, 2)), mode="reflect")
    p = white.shape[1]
    return (
        h0 * x[:, 2 : p + 2]
        + h1 * (x[:, 1 : p + 1] + x[:, 3 : p + 3])
        + h2 * (x[:, 0:p] + x[:, 4 : p + 4])
    )


def observe(
    model: np.ndarray,
    loglam: np.ndarray,
    u: np.ndarray,
    n: np.ndarray,
    snr_scale: float | np.ndarray,
    legacy: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(noiseless observed model, sigma, mask) for noiseless spectra ``model`` (B, P).

    ``u``/``n`` (B, K) uniforms/normals per object; ``snr_scale`` a number or (B, 1);
    ``legacy`` (B,) True where the SDSS-I/II spectrographs took the spectrum (its
    throughput; None: all BOSS).
    """
    b, p = model.shape
    f32 = np.float32
    lam = np.power(10.0, loglam)
    key = (float(loglam[0]), float(loglam[1] - loglam[0]), p)
    cont, lines = sky(key)
    _, optical, oh = sky_parts(key)
    x = np.linspace(-1.0, 1.0, p)
    blue = np.exp(-(lam - lam[0]) / 300.0)
    basis = np.stack([x, 1.5 * x**2 - 0.5, 2.5 * x**3 - 1.5 * x, blue, optical,
                      np.gradient(optical), oh, np.gradient(oh)])  # fmt: skip
    # sky-subtraction residuals, which the reported errors leave out: about a per cent of
    # the bright optical lines (5577, 6300; amplitude and shift fitted so these lines
    # scatter 1.5x their errors, as in the 124 real quasars of ../shared/data: 3.5x with
    # the earlier 2 %), under a per cent of the OH forest (BOSS subtracts it with a
    # B-spline sky model)
    weights = np.concatenate(
        [0.03 * n[:, 0:3], 0.08 * n[:, 3:4], 0.022 * n[:, 4:5], 0.055 * n[:, 5:6],
         0.0075 * n[:, 7:8], 0.0225 * n[:, 8:9]], axis=1,
    )  # fmt: skip
    # spectrophotometric wiggles (Legendre terms, blue end) and sky-subtraction residuals
    # element-wise sums (not BLAS) so a spectrum never depends on the size of its batch
    # the residuals scale with the sky's photon noise: a deeper exposure (snr_scale > 1)
    # leaves them as large against its noise as a standard one, not larger
    weights[:, 4:] = weights[:, 4:] / snr_scale
    if legacy is not None and legacy.any():
        optical_k, oh_k = LEGACY_SKY_RESIDUAL
        factor = np.array([optical_k, optical_k, oh_k, oh_k])
        weights[:, 4:] = weights[:, 4:] * np.where(legacy[:, None], factor[None, :], 1.0)
    terms = [weights[:, k : k + 1].astype(f32) * basis[k].astype(f32) for k in range(8)]
    out = model * (1.0 + terms[0] + terms[1] + terms[2] + terms[3])
    out = out + terms[4] + terms[5] + terms[6] + terms[7]
    depth = (0.025 * 10 ** (0.15 * n[:, 6:7]) / snr_scale**2).astype(f32)
    # the sky's colour changes from night to night (moon, twilight, OH activity): a tilt
    # of its brightness across the two arms, SKY_TILT per unit of (lambda - 6000 A) / 2000 A
    across = np.clip((lam - 6000.0) / 2000.0, -1.2, 2.2).astype(f32)
    tilt = np.exp((SKY_TILT * n[:, 11:12]).astype(f32) * across)
    t = throughput(lam)
    if legacy is not None and legacy.any():  # (B, P): each spectrum its spectrograph's
        t = np.where(legacy[:, None], legacy_throughput(lam)[None, :], t[None, :])
    sky_var = ((cont + lines) / t * tilt).astype(f32)
    inv_t = (1.0 / t).astype(f32)
    # read noise: a floor in counts, so larger in flux units where the throughput is low
    sigma = np.sqrt(depth * (np.maximum(model, 0.0) * inv_t + sky_var) + f32(0.004) * inv_t**2)
    return out, sigma, instrument_mask(u, lines, b, p)


def instrument_mask(u: np.ndarray, lines: np.ndarray, b: int, p: int) -> np.ndarray:
    """The and_mask (B, P) of the instrument: no data at the ends, BRIGHTSKY at bright sky
    lines in half the spectra, and bad columns (FULLREJECT); ``u`` (B, K) uniforms."""
    mask = np.zeros((b, p), np.int32)
    pix = np.arange(p)
    # no data at the ends: 0-51 pixels in the blue, 6-38 in the red, the first good
    # wavelength 3567-3609 A and the last 10,311-10,387 A (never the grid's 10,400 A): the
    # range over the 15 (plate, spectrograph) units of the real BOSS and eBOSS spectra in
    # ../shared/data (sdss, sdss_extra; medians 3583 A and 10,337 A), each unit counted
    # once, since a spectrograph's exposures set the coverage of all its fibres (plate
    # 3655's 68 spectra share two pairs of values). Per spectrum, that plate's 41 at 3567 A
    # had made the blue end look like 0-24 pixels and the red one 10,315-10,359 A.
    # u[:, 0] (the old "blue end at pixel 0" draw) and u[:, 2] are read by no one here; the
    # columns stay so that every other draw of a spectrum is what it was
    start = (52 * u[:, 1]).astype(int)
    stop = p - (6 + 33 * u[:, 3]).astype(int)
    mask |= np.where((pix < start[:, None]) | (pix >= stop[:, None]), NODATA, 0).astype(np.int32)
    bright = (lines > 60.0)[None, :] & (u[:, 4:5] < 0.5)
    mask |= np.where(bright, BRIGHTSKY, 0).astype(np.int32)
    for k in range(2):  # bad columns, each present with probability 0.06
        first = (u[:, 5 + k] * p).astype(int)
        length = 3 + (27 * u[:, 7 + k]).astype(int)
        seg = (
            (u[:, 9 + k] < 0.06)[:, None]
            & (pix >= first[:, None])
            & (pix < (first + length)[:, None])
        )
        mask |= np.where(seg, FULLREJECT, 0).astype(np.int32)
    return mask
