"""The synthetic instrument: coadd-correlated noise, sky-subtraction residuals, the
flat-field error the variance leaves out, blue errors, and the missing pixels at both ends."""

from __future__ import annotations

import numpy as np
import pytest

from bench.plugins.manager import get_registry
from bench_plugins.synthetic import observe


def _source(**options):
    params = {"n": 300, "class_mix": "balanced", "seed": 3, **options}
    return get_registry().create("dataset", "synthetic", params, "dataset").open()


def test_coadd_noise_has_the_kernels_correlation_and_variance():
    white = np.random.default_rng(0).standard_normal((200, 4000)).astype(np.float32)
    x = observe.coadd_noise(white)
    h0, h1, h2 = observe.COADD_KERNEL
    r0 = h0**2 + 2 * h1**2 + 2 * h2**2
    lag1 = np.mean(x[:, :-1] * x[:, 1:]) / np.mean(x * x)
    lag2 = np.mean(x[:, :-2] * x[:, 2:]) / np.mean(x * x)
    assert np.mean(x * x) == pytest.approx(r0, rel=0.01)
    assert lag1 == pytest.approx((2 * h0 * h1 + 2 * h1 * h2) / r0, abs=0.01)
    assert lag2 == pytest.approx((2 * h0 * h2 + h1**2) / r0, abs=0.01)
    assert x.shape == white.shape and x.dtype == np.float32


def test_coadd_noise_of_a_row_does_not_depend_on_the_batch():
    white = np.random.default_rng(1).standard_normal((5, 300)).astype(np.float32)
    assert np.array_equal(observe.coadd_noise(white)[2:3], observe.coadd_noise(white[2:3]))


def test_sky_line_pixels_scatter_more_than_their_errors_promise_not_wildly():
    """A faint flat spectrum: at the core of [O I] 5577 the sky model's residual, which the
    errors leave out, makes the pixels the pipeline keeps scatter more than elsewhere in
    the red (the real low-S/N BOSS spectra of ../shared/data: 6.5x, heavy-tailed, at the
    pixels not rejected), but not tens of times more."""
    from bench.spectra import boss_grid

    loglam = np.asarray(boss_grid(), np.float64)
    rng = np.random.default_rng(2)
    b, p = 400, len(loglam)
    model = np.full((b, p), 0.5, np.float32)
    u, n = rng.random((b, 16)), rng.standard_normal((b, 16))
    out, sigma, _ = observe.observe(model, loglam, u, n, 1.0)
    flux = out + sigma * rng.standard_normal((b, p)).astype(np.float32)
    kept = ~observe.rejected(loglam, rng.random((b, p)).astype(np.float32), n[:, 9:10])
    chi2 = np.where(kept, (flux - model) ** 2 / sigma**2, np.nan)
    lam = 10**loglam
    near = np.abs(lam - 5578.9) < 2
    red = (lam > 6400) & (lam < 6800)
    assert 2.0 < np.nanmean(chi2[:, near]) / np.nanmean(chi2[:, red]) < 10.0


def test_sky_residuals_scale_with_the_sky_noise_not_the_exposure():
    """With no source the observed model is the sky residual alone: a deeper exposure
    (snr_scale 4) leaves it 4x smaller in flux, as large against its 4x smaller noise."""
    from bench.spectra import boss_grid

    loglam = np.asarray(boss_grid(), np.float64)
    rng = np.random.default_rng(4)
    u, n = rng.random((20, 16)), rng.standard_normal((20, 16))
    zero = np.zeros((20, len(loglam)), np.float32)
    standard, sigma1, _ = observe.observe(zero, loglam, u, n, 1.0)
    deep, sigma4, _ = observe.observe(zero, loglam, u, n, 4.0)
    assert np.abs(standard).max() > 0
    np.testing.assert_allclose(deep * 4.0, standard, rtol=1e-4, atol=1e-6)
    ratio = np.median(sigma1 / sigma4)
    assert 1.0 < ratio <= 4.0 + 1e-6  # the read-noise floor does not shrink


def test_sky_colour_spreads_the_arms_noise_ratio_by_the_tilt():
    """Sky-only spectra: log10 sigma(red arm) / sigma(blue arm) varies from spectrum to
    spectrum by about 0.5 * SKY_TILT * 1.4 / ln 10 (the two arms' centres 1.4 units of
    2000 A apart), and by nothing with SKY_TILT = 0."""
    from bench.spectra import boss_grid

    loglam = np.asarray(boss_grid(), np.float64)
    lam = 10**loglam
    rng = np.random.default_rng(5)
    u, n = rng.random((300, 16)), rng.standard_normal((300, 16))
    zero = np.zeros((300, len(loglam)), np.float32)
    _, sigma, _ = observe.observe(zero, loglam, u, n, 1.0)
    red = np.median(sigma[:, (lam > 6200) & (lam < 9000)], axis=1)
    blue = np.median(sigma[:, (lam > 3800) & (lam < 5800)], axis=1)
    spread = np.std(np.log10(red / blue))
    expected = 0.5 * observe.SKY_TILT * 1.4 / np.log(10)
    assert 0.5 * expected < spread < 1.5 * expected


def test_rejected_pixels_sit_at_sky_lines_as_often_as_the_constants_say():
    """BOSS spectra (no SDSS-I/II share): FULLREJECT pixels inside the covered range, per
    spectrum about the sum of the rejection probabilities (the real BOSS spectra of
    ../shared/data: 7.8), most at the [O I] 5577 core and the OH lines beyond 8000 A."""
    from bench.spectra import FULLREJECT

    source = _source(n=600)
    batch = source.read(np.arange(600))
    lam = 10 ** np.asarray(batch.loglam)
    key = (float(batch.loglam[0]), float(batch.loglam[1] - batch.loglam[0]), len(lam))
    expected = observe.reject_probability(key).sum()
    hit = (batch.mask & FULLREJECT) != 0
    inside = np.zeros_like(hit)
    for i, row in enumerate(batch.ivar):
        good = np.flatnonzero(row > 0)
        inside[i, good[0] : good[-1] + 1] = True
    # the bad columns (rare, long) aside: count the pixels outside runs of 3 or more
    per_spectrum = (hit & inside).sum(axis=1)
    assert 0.5 * expected < np.median(per_spectrum) < 1.3 * expected
    assert per_spectrum.std() > np.sqrt(per_spectrum.mean())  # over-dispersed, as real ones
    at_lines = (np.abs(lam - 5578.9) < 4) | (lam > 8000)
    assert (hit & inside)[:, at_lines].sum() > 0.6 * (hit & inside).sum()
    assert (batch.ivar[hit] == 0).all()


def test_blue_end_scatters_more_than_its_errors_promise_by_the_excess():
    """Faint spectra (noise-dominated): the normalised residual's mean square at
    3700-4300 A over 5000-5800 A is the BLUE_EXCESS factor there (about 1.3)."""
    source = _source(snr_scale=0.3)
    index = np.arange(len(source.ids))
    batch, clean = source.read(index), source.model(index)
    lam = 10 ** np.asarray(batch.loglam)
    chi2 = np.where(batch.ivar > 0, (batch.flux - clean) ** 2 * batch.ivar, np.nan)
    blue, green = (lam > 3700) & (lam < 4300), (lam > 5000) & (lam < 5800)
    ratio = np.nanmean(chi2[:, blue]) / np.nanmean(chi2[:, green])
    factor = observe.blue_excess(lam[blue]) ** 2
    assert ratio == pytest.approx(float(np.mean(factor)), rel=0.08)
    assert ratio > 1.15


def test_faint_spectra_scatter_less_than_promised_bright_ones_about_as_promised():
    """The coadd leaves less noise per pixel than the inverse variance promises (faint,
    noise-dominated spectra); bright ones add no unreported flat-field error (real BOSS
    spectra at S/N > 15 scatter at most as promised), so neither exceeds the promise."""
    faint, bright = _source(snr_scale=0.3), _source(snr_scale=20.0)
    ratios = []
    for source in (faint, bright):
        index = np.arange(len(source.ids))
        batch, clean = source.read(index), source.model(index)
        good = batch.ivar > 0
        ratios.append(np.nanmean(np.where(good, (batch.flux - clean) ** 2 * batch.ivar, np.nan)))
    kernel = sum(h**2 for h in observe.COADD_KERNEL) + sum(h**2 for h in observe.COADD_KERNEL[1:])
    assert ratios[0] < 1.0 and ratios[1] < 1.0 + 0.1
    assert ratios[1] == pytest.approx(kernel, rel=0.1)


def test_blue_errors_exceed_red_ones_as_in_boss():
    source = _source(snr_scale=1.0)
    batch = source.read(np.arange(len(source.ids)))
    lam = 10 ** np.asarray(batch.loglam)
    sigma = np.where(batch.ivar > 0, 1 / np.sqrt(np.maximum(batch.ivar, 1e-30)), np.nan)
    blue = np.nanmedian(sigma[:, (lam > 3800) & (lam < 4200)], axis=1)
    red = np.nanmedian(sigma[:, (lam > 7000) & (lam < 8000)], axis=1)
    assert np.median(np.log10(red / blue)) < -0.2


def test_boss_spectra_start_and_end_where_real_boss_spectrographs_do():
    """The range of the 15 (plate, spectrograph) units of real BOSS / eBOSS spectra in
    ../shared/data (observe.instrument_mask): first good 3567-3609 A, last good
    10,311-10,387 A, never the grid's red end, spread over the range, not piled at one
    end as one plate's spectra are."""
    batch = _source().read(np.arange(300))
    lam = np.power(10.0, batch.loglam)
    first = np.array([lam[np.flatnonzero(row > 0)[0]] for row in batch.ivar])
    last_pixel = np.array([np.flatnonzero(row > 0)[-1] for row in batch.ivar])
    last = lam[last_pixel]
    from_end = len(batch.loglam) - 1 - last_pixel
    assert from_end.min() >= 6 and from_end.max() <= 40
    assert first.min() < 3572 and 3600 < first.max() <= 3610
    assert last.min() < 10320 and 10375 < last.max() <= 10388
    assert 3575 < np.median(first) < 3600 and 10325 < np.median(last) < 10370


def test_legacy_survey_gives_each_class_its_dr12_share_of_sdss_i_coverage():
    """legacy_survey = "dr12": about 71 % of stars, 43 % of galaxies and 38 % of quasars end
    at ~9200 A; the others are the default's spectra (per-object draws, none added)."""
    from bench_plugins.synthetic.source import LEGACY_SHARES

    base = _source(n=600).read(np.arange(600))
    batch = _source(n=600, legacy_survey="dr12").read(np.arange(600))
    lam = np.power(10.0, batch.loglam)
    cut = (batch.ivar[:, lam > 9300] == 0).all(axis=1)
    for label, bins in LEGACY_SHARES["dr12"].items():
        rows = batch.labels == label
        assert cut[rows].mean() == pytest.approx(bins[0][1], abs=0.12)
    np.testing.assert_array_equal(batch.flux[~cut], base.flux[~cut])


def test_legacy_fraction_as_a_number_or_a_survey_resolves_per_class():
    from bench_plugins.synthetic.source import LEGACY_SHARES, legacy_shares

    inf = float("inf")
    assert legacy_shares(None, 0.15) == {"STAR": ((inf, 0.15),), "GALAXY": ((inf, 0.15),),
                                         "QSO": ((inf, 0.15),)}  # fmt: skip
    assert legacy_shares("dr12", 0.0) == LEGACY_SHARES["dr12"]
    dr12 = {label: bins[0][1] for label, bins in LEGACY_SHARES["dr12"].items()}
    assert dr12["STAR"] > dr12["GALAXY"] > dr12["QSO"] > 0.25  # SDSS-I/II took most stars


def test_dr12_redshift_gives_low_redshift_galaxies_and_quasars_to_sdss_i():
    from bench_plugins.synthetic.source import LEGACY_SHARES, legacy_share

    bins = LEGACY_SHARES["dr12_redshift"]
    z = np.array([0.05, 0.3, 0.6, 1.0, 2.5])
    galaxy, qso = legacy_share(bins["GALAXY"], z), legacy_share(bins["QSO"], z)
    assert galaxy[0] > 0.9 and galaxy[2] < 0.05 and qso[0] > 0.8 and qso[-1] < 0.1
    assert (np.diff(galaxy) <= 0).all() and (np.diff(qso) <= 0).all()
    batch = _source(n=300, legacy_survey="dr12_redshift").read(np.arange(300))
    lam = np.power(10.0, batch.loglam)
    legacy = (batch.ivar[:, lam > 9300] == 0).all(axis=1)
    low, high = batch.redshift < 0.2, batch.redshift > 0.6
    galaxies = batch.labels == "GALAXY"
    assert legacy[galaxies & low].mean() > 0.8 and legacy[galaxies & high].mean() < 0.1


@pytest.mark.parametrize(
    ("options", "says"),
    [({"legacy_survey": "dr13"}, "synthetic.legacy_survey: 'dr13'"),
     ({"legacy_fraction": 1.5}, "synthetic.legacy_fraction: 1.5"),
     ({"legacy_survey": "dr12", "legacy_fraction": 0.2}, "leave legacy_fraction (0.2) out")],
)  # fmt: skip
def test_bad_legacy_options_are_one_line_naming_the_key(options, says):
    from bench.errors import BenchError

    with pytest.raises(BenchError) as info:
        _source(n=3, **options)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_sdss_i_spectrographs_are_noisier_at_both_ends_and_quieter_at_the_dichroic():
    """The same bright object through each instrument: against the red arm, SDSS-I/II's
    errors are larger in the blue and beyond 8500 A and smaller at 6000-6400 A."""
    from bench.spectra import boss_grid

    loglam = np.asarray(boss_grid(), np.float64)
    lam = 10**loglam
    rng = np.random.default_rng(4)
    model = np.full((2, len(loglam)), 50.0, np.float32)
    u, n = rng.random((1, 16)).repeat(2, 0), rng.standard_normal((1, 16)).repeat(2, 0)
    _, sigma, _ = observe.observe(model, loglam, u, n, 1.0, np.array([False, True]))
    rel = sigma / np.median(sigma[:, (lam > 6200) & (lam < 9000)], axis=1, keepdims=True)
    at = lambda lo, hi: np.median(rel[:, (lam > lo) & (lam < hi)], axis=1)  # noqa: E731
    blue, far_red, dichroic = at(3900, 4100), at(8800, 9100), at(5900, 6300)  # (BOSS, SDSS)
    assert 1.1 < blue[1] / blue[0] < 1.4 and 1.2 < far_red[1] / far_red[0] < 1.6
    assert dichroic[1] < 0.85 * dichroic[0]
    _, alone, _ = observe.observe(model[:1], loglam, u[:1], n[:1], 1.0)
    np.testing.assert_array_equal(alone[0], sigma[0])  # BOSS as without the flag


def test_sdss_i_sky_residuals_in_the_oh_forest_are_larger_than_bosss():
    """No source, the same draws: the legacy spectrum's sky residual (the observed model)
    is LEGACY_SKY_RESIDUAL times BOSS's, in flux, in the OH forest and at [O I] 5577."""
    from bench.spectra import boss_grid

    loglam = np.asarray(boss_grid(), np.float64)
    lam = 10**loglam
    rng = np.random.default_rng(8)
    zero = np.zeros((2, len(loglam)), np.float32)
    u, n = rng.random((1, 16)).repeat(2, 0), rng.standard_normal((1, 16)).repeat(2, 0)
    out, _, _ = observe.observe(zero, loglam, u, n, 1.0, np.array([False, True]))
    rms = lambda sel: np.sqrt(np.mean(out[:, sel] ** 2, axis=1))  # noqa: E731
    oh, o5577 = rms((lam > 8000) & (lam < 9200)), rms(np.abs(lam - 5578.9) < 3)
    optical_k, oh_k = observe.LEGACY_SKY_RESIDUAL
    assert oh[1] / oh[0] == pytest.approx(oh_k, rel=0.02) and oh_k > 2
    assert o5577[1] / o5577[0] == pytest.approx(optical_k, rel=0.05)


def test_boss_quasar_fibre_offset_ratio_has_margalas_mean_and_crossover():
    """Margala et al. 2016: BOSS quasar flux 19 % too high at 3600 A, about 20 % too low at
    10,000 A; quasar and standard offset alike (ratio 1) near 4540 A; smooth, monotonic."""
    lam = np.linspace(3600.0, 10400.0, 500)
    r = observe.fibre_offset_ratio(lam)
    assert r[0] == pytest.approx(1.19, abs=1e-6)
    assert 0.78 < observe.fibre_offset_ratio(np.array(10000.0)) < 0.82
    assert observe.fibre_offset_ratio(np.array(4537.0)) == pytest.approx(1.0, abs=2e-3)
    assert np.all(np.diff(r) < 0)


def test_fibre_offset_tilts_boss_quasars_only(monkeypatch):
    """With and without the offset (ratio 1), the same draws: stars, galaxies and SDSS-I/II
    quasars bit for bit the same; BOSS quasars' noiseless flux bluer by the ratio (blue
    3700-4100 A over red 8500-9500 A, medians), and their errors change with it."""
    from bench.spectra import NODATA

    src = _source(n=150, legacy_survey="dr12_redshift")
    idx = np.arange(150)
    tilted, tilted_model = src.read(idx), src.model(idx)
    expected = observe.fibre_offset_ratio(np.array([3900.0, 9000.0]))
    monkeypatch.setattr(observe, "fibre_offset_ratio", lambda lam: np.ones_like(lam))
    flat, flat_model = src.read(idx), src.model(idx)
    lam = 10**tilted.loglam
    legacy = (tilted.mask[:, lam < 3780] & NODATA).all(axis=1)
    boss_qso = (tilted.labels == "QSO") & ~legacy
    assert boss_qso.sum() > 20 and ((tilted.labels == "QSO") & legacy).any()
    np.testing.assert_array_equal(tilted.flux[~boss_qso], flat.flux[~boss_qso])
    np.testing.assert_array_equal(tilted.ivar[~boss_qso], flat.ivar[~boss_qso])
    assert not np.array_equal(tilted.ivar[boss_qso], flat.ivar[boss_qso])
    ratio = tilted_model[boss_qso] / np.where(flat_model[boss_qso] == 0, 1, flat_model[boss_qso])
    band = lambda lo, hi: np.median(ratio[:, (lam > lo) & (lam < hi)])  # noqa: E731
    assert band(3700, 4100) / band(8500, 9500) == pytest.approx(expected[0] / expected[1], rel=0.02)


def test_eboss_quasars_carry_no_fibre_offset(monkeypatch):
    """eBOSS placed quasar fibres for 5400 A light: with ``eboss_fraction = 1`` every
    spectrum is the untilted one bit for bit; with 0.5, about half the BOSS quasars are
    (binomial bounds), the others tilted, and stars and galaxies never change."""
    idx = np.arange(200)
    every = _source(n=200, eboss_fraction=1.0).read(idx)
    half = _source(n=200, eboss_fraction=0.5).read(idx)
    tilted = _source(n=200).read(idx)
    monkeypatch.setattr(observe, "fibre_offset_ratio", lambda lam: np.ones_like(lam))
    flat = _source(n=200).read(idx)
    np.testing.assert_array_equal(every.flux, flat.flux)
    np.testing.assert_array_equal(every.ivar, flat.ivar)
    qso = half.labels == "QSO"
    same_flat = np.array([np.array_equal(half.flux[i], flat.flux[i]) for i in idx])
    same_tilted = np.array([np.array_equal(half.flux[i], tilted.flux[i]) for i in idx])
    assert (same_flat & same_tilted)[~qso].all()  # no offset for stars and galaxies either way
    assert not (same_flat & same_tilted)[qso].any() and (same_flat | same_tilted)[qso].all()
    untilted = same_flat[qso].mean()
    assert 0.3 < untilted < 0.7, untilted  # 67 quasars: 0.5 +- 3 sigma
