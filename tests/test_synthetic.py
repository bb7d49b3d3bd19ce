"""The embedded ``synthetic`` dataset: determinism, physics at the right wavelengths,
noise consistent with ivar and mask, options, template mode, and the picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import bench_plugins.synthetic as synthetic_plugin
from bench.errors import BenchError
from bench.plugins.manager import get_registry
from bench.spectra import BOSS_NPIX, boss_grid
from bench_plugins.synthetic import Synthetic, forest, observe
from bench_plugins.synthetic.forest import tau_eff


def make(**params):  # type: ignore[no-untyped-def]
    return Synthetic(**params).open()


def rest_window(loglam: np.ndarray, z: float, lo: float, hi: float) -> np.ndarray:
    lam = 10**loglam / (1 + z)
    return (lam >= lo) & (lam <= hi)


def test_registered_as_dataset() -> None:
    registered: list[type] = []
    synthetic_plugin.register_datasets(register=registered.append)
    assert registered == [Synthetic] and Synthetic.name == "synthetic"
    assert get_registry(third_party=False).sources[("dataset", "synthetic")] == "built-in"


def test_same_seed_same_arrays_and_by_index() -> None:
    a, b = make(n=40, seed=3), make(n=40, seed=3)
    first, second = a.read(np.arange(10)), b.read(np.arange(10))
    for name in ("flux", "ivar", "mask", "redshift", "snr"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert list(first.labels) == list(second.labels)
    row = a.read(np.array([5]))
    np.testing.assert_array_equal(row.flux[0], first.flux[5])
    np.testing.assert_array_equal(row.ivar[0], first.ivar[5])
    assert not np.array_equal(make(n=40, seed=4).read(np.arange(10)).flux, first.flux)


@pytest.mark.parametrize("templates", [False, True])
def test_spectrum_does_not_depend_on_its_batch(
    templates: bool, request: pytest.FixtureRequest
) -> None:
    params = (
        {"template_dir": str(request.getfixturevalue("shared_data") / "templates")}
        if templates
        else {}
    )
    source = make(n=60, seed=9, **params)
    forward = source.read(np.arange(60))
    backward = source.read(np.arange(59, -1, -1))
    np.testing.assert_array_equal(backward.flux[::-1], forward.flux)
    np.testing.assert_array_equal(backward.ivar[::-1], forward.ivar)
    for i in (0, 17, 59):
        np.testing.assert_array_equal(source.read(np.array([i])).flux[0], forward.flux[i])


def test_batch_shape_grid_and_dtypes() -> None:
    batch = make(n=12, seed=1).read(np.arange(12))
    assert batch.flux.shape == (12, BOSS_NPIX)
    np.testing.assert_allclose(batch.loglam, boss_grid())
    assert batch.flux.dtype == np.float32 and batch.ivar.dtype == np.float32
    assert batch.mask.dtype == np.int32
    assert np.isfinite(batch.flux).all() and (batch.ivar >= 0).all()
    assert set(batch.meta) >= {"subclass", "bal"}


def test_noise_matches_ivar_and_rejected_pixels_have_no_weight() -> None:
    source = make(n=60, seed=2)
    idx = np.arange(60)
    batch, model = source.read(idx), source.model(idx)
    good = batch.ivar > 0
    pull = (batch.flux - model)[good] * np.sqrt(batch.ivar[good])
    # the coadd kernel's variance, the blue end's excess: what the ivar leaves out
    h0, h1, h2 = observe.COADD_KERNEL
    excess = np.broadcast_to(observe.blue_excess(10 ** np.asarray(batch.loglam)), good.shape)
    expected = np.sqrt((h0**2 + 2 * h1**2 + 2 * h2**2) * np.mean(excess[good] ** 2))
    assert abs(pull.std() - expected) < 0.03 and abs(pull.mean()) < 0.03
    # NODATA / FULLREJECT pixels have no measurement; BRIGHTSKY is only a flag (as in BOSS)
    assert (batch.ivar[(batch.mask & observe.NO_MEASUREMENT) != 0] == 0).all()
    assert (batch.ivar[batch.mask == observe.BRIGHTSKY] > 0).all()
    assert (batch.mask != 0).any() and (batch.mask == 0).mean() > 0.9
    nodata = (batch.mask & observe.NODATA) != 0
    assert (batch.flux[nodata] == 0).all()


def test_snr_scale_raises_signal_to_noise() -> None:
    low = make(n=60, seed=5).read(np.arange(60)).snr
    high = make(n=60, seed=5, snr_scale=2.0).read(np.arange(60)).snr
    assert 1.6 < np.median(high / low) < 2.4


def test_snr_scale_max_spreads_signal_to_noise_per_spectrum() -> None:
    base = make(n=120, seed=5).read(np.arange(120))
    spread = make(n=120, seed=5, snr_scale_max=8.0).read(np.arange(120))
    ratio = spread.snr / base.snr
    # log-uniform factors in [1, 8]: some near 1, some near 8, the same sky and objects
    assert ratio.min() < 1.5 and ratio.max() > 5.0 and 2.0 < np.median(ratio) < 4.0
    np.testing.assert_array_equal(spread.labels, base.labels)
    again = make(n=120, seed=5, snr_scale_max=8.0).read(np.arange(60, 120))
    np.testing.assert_array_equal(again.flux, spread.flux[60:])  # per-object, batch-free


def _observing_uniforms(seed: int, i: int) -> np.ndarray:
    """Object ``i``'s observing uniforms, drawn as SyntheticSource._draws draws them."""
    from bench_plugins.synthetic.source import N_PARAMS

    rng = np.random.default_rng([seed, i])
    rng.random(N_PARAMS), rng.standard_normal(N_PARAMS)
    return rng.random(16)


def test_snr_target_gives_every_class_the_same_signal_to_noise() -> None:
    """Under snr_target each object is made as bright as its drawn median S/N asks,
    whatever its class's magnitudes: the classes, far apart in S/N by magnitude, each come
    out at their drawn targets; the objects and their redshifts are the same."""
    base = make(n=300, seed=8, legacy_fraction=0.5).read(np.arange(300))
    even = make(n=300, seed=8, legacy_fraction=0.5, snr_target=[2.0, 40.0]).read(np.arange(300))
    np.testing.assert_array_equal(even.labels, base.labels)
    classes = ("STAR", "GALAXY", "QSO")
    spread = {c: float(np.median(base.snr[base.labels == c])) for c in classes}
    assert max(spread.values()) / min(spread.values()) > 1.6, spread
    uo = np.array([_observing_uniforms(8, i) for i in range(300)])
    target = 2.0 * 20.0 ** uo[:, 15]
    ratio = even.snr / target
    for c in classes:
        assert 0.85 < np.median(ratio[even.labels == c]) < 1.15, c
    assert np.mean(np.abs(np.log(ratio)) < 0.25) > 0.95
    np.testing.assert_array_equal(even.redshift, base.redshift)
    again = make(n=300, seed=8, legacy_fraction=0.5, snr_target=[2.0, 40.0])
    np.testing.assert_array_equal(again.read(np.arange(100, 160)).flux, even.flux[100:160])


def test_legacy_fraction_gives_sdss_i_coverage_to_that_share() -> None:
    from bench_plugins.synthetic.source import LEGACY_EDGES, LEGACY_RANGE

    base = make(n=200, seed=6).read(np.arange(200))
    legacy = make(n=200, seed=6, legacy_fraction=0.5).read(np.arange(200))
    lam = np.power(10.0, legacy.loglam)
    assert LEGACY_EDGES[0][0] <= LEGACY_RANGE[0] and LEGACY_RANGE[1] <= LEGACY_EDGES[1][1]
    outside = (lam < LEGACY_EDGES[0][0]) | (lam > LEGACY_EDGES[1][1])
    cut = (legacy.ivar[:, outside] == 0).all(axis=1) & (legacy.flux[:, outside] == 0).all(axis=1)
    assert 0.35 < cut.mean() < 0.65
    assert ((legacy.mask[cut][:, outside] & observe.NODATA) != 0).all()
    # the others are unchanged; the legacy ones keep the model, not BOSS's rejections
    np.testing.assert_array_equal(legacy.flux[~cut], base.flux[~cut])
    inner = (lam > LEGACY_EDGES[0][1]) & (lam < LEGACY_EDGES[1][0])
    rejected = lambda b: ((b.mask[cut][:, inner] & observe.FULLREJECT) != 0).sum()  # noqa: E731
    assert rejected(legacy) < 0.5 * rejected(base)  # bad columns only


def test_legacy_spectra_start_and_end_within_the_sdss_i_edges() -> None:
    from bench_plugins.synthetic.source import LEGACY_EDGES

    batch = make(n=300, seed=7, legacy_fraction=1.0).read(np.arange(300))
    lam = np.power(10.0, batch.loglam)
    first = np.array([lam[np.flatnonzero(row > 0)[0]] for row in batch.ivar])
    last = np.array([lam[np.flatnonzero(row > 0)[-1]] for row in batch.ivar])
    (b0, b1), (r0, r1) = LEGACY_EDGES
    step = lam * (10**1e-4 - 1)  # one pixel
    assert (first >= b0 - 2).all() and (first <= b1 + 2).all()
    assert (last >= r0 - 3).all() and (last <= r1 + 3).all()
    assert first.std() > 0.2 * (b1 - b0) / np.sqrt(12) and last.std() > 0.2 * (r1 - r0) / 4
    assert step.max() < 3


def test_pixel_rejection_is_the_same_whatever_the_batch() -> None:
    source = make(n=40, seed=8)
    whole = source.read(np.arange(40))
    again = source.read(np.arange(39, -1, -1))
    np.testing.assert_array_equal(again.mask[::-1], whole.mask)
    np.testing.assert_array_equal(again.flux[::-1], whole.flux)
    assert ((whole.mask & observe.FULLREJECT) != 0).any()


def test_lowz_qso_fraction_sets_the_share_of_low_z_agn() -> None:
    z_of = lambda src: src.redshift[src.labels == "QSO"]  # noqa: E731
    default = z_of(make(n=6000, seed=0))
    more = z_of(make(n=6000, seed=0, lowz_qso_fraction=0.3))
    assert (default < 0.3).mean() < 0.1 and 0.22 < (more < 0.3).mean() < 0.38
    np.testing.assert_array_equal(default, z_of(make(n=6000, seed=0, lowz_qso_fraction=0.05)))


def test_class_mix_and_subsets() -> None:
    balanced = make(n=300, seed=0)
    assert [int((balanced.labels == c).sum()) for c in ("STAR", "GALAXY", "QSO")] == [100] * 3
    boss = make(n=2000, seed=0, class_mix="boss")
    counts = {c: (boss.labels == c).mean() for c in ("STAR", "GALAXY", "QSO")}
    assert counts["GALAXY"] > 0.5 and counts["GALAXY"] > counts["QSO"] > 0.0
    assert set(make(n=50, classes=["QSO", "STAR"]).labels) == {"QSO", "STAR"}


def test_redshift_distributions_and_ranges() -> None:
    source = make(n=3000, seed=0)
    z, labels = source.redshift, source.labels
    zg, zq = z[labels == "GALAXY"], z[labels == "QSO"]
    # DR12's galaxies: SDSS-I/II main sample (z ~ 0.1), LOWZ, CMASS (0.43-0.7), eBOSS tail
    assert 0.3 < (zg < 0.2).mean() < 0.45 and 0.28 < ((zg > 0.43) & (zg < 0.7)).mean() < 0.42
    # DR12Q: 184,101 of 297,301 quasars (62 %) at z >= 2.15
    assert 0.57 < (zq >= 2.15).mean() < 0.67 and 2.1 < np.median(zq) < 2.5
    star_v = np.abs(z[labels == "STAR"]) * 299792.458
    assert 20 < np.median(star_v) < 300 and star_v.max() < 2000
    narrow = make(n=300, galaxy_z=[0.2, 0.4], qso_z=[2.0, 3.0])
    zg, zq = narrow.redshift[narrow.labels == "GALAXY"], narrow.redshift[narrow.labels == "QSO"]
    assert zg.min() >= 0.2 and zg.max() <= 0.4 and zq.min() >= 2.0 and zq.max() <= 3.0


@pytest.mark.parametrize(
    "params",
    [
        {"class_mix": "survey"},
        {"classes": ["STAR", "PLANET"]},
        {"classes": []},
        {"galaxy_z": [0.5, 0.2]},
        {"qso_z": [1.0]},
        {"n": 0},
        {"snr_scale": 0.0},
        {"snr_scale": 2.0, "snr_scale_max": 1.5},
        {"snr_target": [5.0, 2.0]},
        {"snr_target": [2.0]},
        {"snr_target": [1.0, 50.0], "snr_scale_max": 4.0},
        {"snr_target": [0.0, 50.0]},
        {"legacy_fraction": 1.5},
        {"lowz_qso_fraction": -0.1},
        {"seed": "one"},
        {"redshift": 1.0},
    ],
)
def test_bad_options_raise_bench_error(params: dict) -> None:
    with pytest.raises(BenchError):
        Synthetic(**params)


def test_quasar_civ_and_lya_forest_at_observed_wavelengths() -> None:
    source = make(n=40, seed=7, classes=["QSO"], qso_z=[2.3, 2.5])
    idx = np.arange(40)
    model, batch = source.model(idx), source.read(idx)
    loglam = batch.loglam
    for i in np.flatnonzero(~batch.meta["bal"]):
        z = batch.redshift[i]
        peak = model[i, rest_window(loglam, z, 1535, 1560)].mean()
        side = np.r_[
            model[i, rest_window(loglam, z, 1440, 1470)],
            model[i, rest_window(loglam, z, 1680, 1710)],
        ]
        assert peak > 1.15 * side.mean(), f"no C IV at {1549 * (1 + z):.0f} A for z={z:.2f}"
        blue = model[i, rest_window(loglam, z, 1070, 1170)]
        red = model[i, rest_window(loglam, z, 1290, 1380)]
        # the forest's fluctuations, about a straight line (a window's continuum slope,
        # e.g. the BOSS fibre-offset tilt, is not a fluctuation)
        assert _detrended_scatter(blue) > 2 * _detrended_scatter(red)


def _detrended_scatter(y: np.ndarray) -> float:
    """Standard deviation about a straight-line fit, relative to the mean."""
    x = np.arange(len(y))
    return float((y - np.polyval(np.polyfit(x, y, 1), x)).std() / y.mean())


def test_lya_forest_mean_transmission_grows_with_redshift() -> None:
    lam = 10 ** boss_grid()
    z = np.array([2.2, 3.5])
    noise = np.random.default_rng(0).standard_normal((2, len(lam)))
    trans = forest.transmission(lam, z, noise, np.ones((2, 4)))
    window = (lam / (1 + z[:, None]) > 1080) & (lam / (1 + z[:, None]) < 1180)
    mean = [trans[k, window[k]].mean() for k in range(2)]
    z_abs = [np.mean(lam[window[k]] / 1215.67 - 1) for k in range(2)]
    expected = np.exp(-tau_eff(np.array(z_abs)))
    assert mean[1] < mean[0]
    np.testing.assert_allclose(mean, expected, atol=0.08)


def test_galaxy_lines_at_observed_wavelengths() -> None:
    source = make(n=120, seed=11, classes=["GALAXY"], galaxy_z=[0.1, 0.3])
    idx = np.arange(120)
    model, batch = source.model(idx), source.read(idx)
    kinds = batch.meta["subclass"]
    assert {"SF", "PASSIVE"} <= set(kinds)
    for i in np.flatnonzero(kinds == "SF"):
        z = batch.redshift[i]
        if np.min(np.abs(5008.24 * (1 + z) - np.array([5578.9, 6302.0]))) < 25:
            continue  # beside a bright sky line its residual can outshine a faint galaxy's
        window = rest_window(batch.loglam, z, 5000, 5016)
        cont = np.median(model[i, rest_window(batch.loglam, z, 5030, 5100)])
        peak = np.flatnonzero(window)[np.argmax(model[i, window])]
        expected = (np.log10(5008.24 * (1 + z)) - batch.loglam[0]) / 1e-4
        assert abs(peak - expected) <= 1.5 and model[i, peak] > 1.03 * cont, (
            f"no [O III] at {5008.24 * (1 + z):.0f} A"
        )
    for i in np.flatnonzero(kinds == "PASSIVE"):
        z = batch.redshift[i]
        hk = model[i, rest_window(batch.loglam, z, 3930, 3972)].min()
        cont = np.median(model[i, rest_window(batch.loglam, z, 4020, 4080)])
        assert hk < 0.85 * cont, "no Ca II H&K"


def test_star_features() -> None:
    source = make(n=300, seed=4, classes=["STAR"])
    idx = np.arange(300)
    model, batch = source.model(idx), source.read(idx)
    kinds = batch.meta["subclass"]

    def ratio(i: int, a: tuple[float, float], b: tuple[float, float]) -> float:
        z = batch.redshift[i]
        return float(
            np.median(model[i, rest_window(batch.loglam, z, *a)])
            / np.median(model[i, rest_window(batch.loglam, z, *b)])
        )

    tio = [ratio(i, (7060, 7110), (7000, 7045)) for i in np.flatnonzero(kinds == "M")]
    warm = [
        ratio(i, (7060, 7110), (7000, 7045)) for i in np.flatnonzero(np.isin(kinds, ["F", "G"]))
    ]
    assert np.median(tio) < 0.85 and np.median(warm) > 0.95  # TiO 7055 band head in M dwarfs
    hbeta = [ratio(i, (4855, 4870), (4880, 4920)) for i in np.flatnonzero(kinds == "A")]
    assert np.median(hbeta) < 0.7  # strong Balmer absorption in A stars


def test_template_mode(shared_data: Path) -> None:
    source = make(n=30, seed=0, template_dir=str(shared_data / "templates"))
    batch = source.read(np.arange(30))
    assert np.isfinite(batch.flux).all() and (batch.ivar > 0).mean() > 0.5
    from astropy.io import fits

    header = fits.getheader(next((shared_data / "templates").glob("spEigenStar-*.fits")))
    names = {str(v) for k, v in header.items() if k.startswith("NAME")}
    star_names = set(batch.meta["subclass"][batch.labels == "STAR"])
    assert star_names and star_names <= names  # stellar templates named by their NAMEn cards
    assert not np.array_equal(batch.flux, make(n=30, seed=0).read(np.arange(30)).flux)


def test_template_mode_missing_files_is_bench_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="spEigen"):
        make(n=5, template_dir=str(tmp_path))


def test_plot_examples(tmp_path: Path, shared_data: Path) -> None:
    import matplotlib.image

    from bench_plugins.synthetic.plot import plot_examples

    real = tmp_path / "real"
    real.mkdir()
    for name in (
        "spec-3655-55240-0660.fits",
        "spec-4055-55359-0001.fits",
        "spec-3655-55240-0002.fits",
    ):
        (real / name).symlink_to(shared_data / "sdss" / "spectra" / name)
    out = plot_examples(tmp_path / "examples.png", real_dir=real)
    image = matplotlib.image.imread(out)
    assert image.shape[1] > image.shape[0]  # two columns: synthetic beside real
    assert image[..., :3].std() > 0.05


def test_starbursts_are_the_star_forming_galaxies_with_halpha_ew_over_50() -> None:
    """The STARBURST subclass (the SDSS pipeline's rule: rest EW(H-alpha) > 50 A),
    measured on the noiseless spectra: starbursts above, other star-forming galaxies
    mostly below; the generator's draws are the same as before the subclass existed."""
    source = make(n=160, seed=11, classes=["GALAXY"], galaxy_z=[0.05, 0.2])
    idx = np.arange(160)
    model, batch = source.model(idx), source.read(idx)
    kinds = batch.meta["subclass"]
    ew: dict[str, list[float]] = {"SF": [], "STARBURST": []}
    for i in np.flatnonzero(np.isin(kinds, list(ew))):
        lam = 10**batch.loglam / (1 + batch.redshift[i])
        line = (lam > 6555) & (lam < 6575)
        side = ((lam > 6460) & (lam < 6530)) | ((lam > 6610) & (lam < 6680))
        cont = np.median(model[i, side])
        ew[kinds[i]].append(float(np.sum((model[i, line] / cont - 1) * np.gradient(lam)[line])))
    assert len(ew["STARBURST"]) >= 10 and len(ew["SF"]) >= 10
    assert np.median(ew["STARBURST"]) > 50 > np.median(ew["SF"])
    assert min(ew["STARBURST"]) > 0.7 * 50  # measured within the line's wings


def test_a_few_low_z_galaxies_carry_a_weak_broad_line_agn(monkeypatch: pytest.MonkeyPatch) -> None:
    """BROADLINE_SHARE of the galaxies below BROADLINE_Z get a broad-line AGN (subclass
    "... BROADLINE"): broad H-alpha wings, an AGN / host ratio at 5100 A within
    BROADLINE_RATIO; every other galaxy is the spectrum it is without them."""
    from bench_plugins.synthetic import galaxies, quasars

    params = dict(n=1200, seed=3, classes=["GALAXY"], galaxy_z=[0.02, 0.5])
    idx = np.arange(1200)
    source = make(**params)
    model, batch = source.model(idx), source.read(idx)
    broad = np.char.endswith(batch.meta["subclass"].astype(str), " BROADLINE")
    low = batch.redshift < galaxies.BROADLINE_Z
    assert not broad[~low].any()
    assert 0.3 * galaxies.BROADLINE_SHARE < broad[low].mean() < 3 * galaxies.BROADLINE_SHARE
    monkeypatch.setattr(galaxies, "BROADLINE_SHARE", 0.0)
    plain = make(**params).model(idx)
    np.testing.assert_array_equal(model[~broad], plain[~broad])
    for i in np.flatnonzero(broad):  # same draws otherwise; scaled to the same magnitude
        lam = 10**batch.loglam / (1 + batch.redshift[i])
        ok = plain[i] > 0
        gain = model[i, ok] / plain[i, ok]
        lam = lam[ok]
        # broad H-alpha's equivalent width against the galaxy (A): ~250 A x the ratio
        line = (lam > 6400) & (lam < 6730)
        ref = np.median(gain[((lam > 6200) & (lam < 6300)) | ((lam > 6800) & (lam < 6900))])
        assert np.sum((gain[line] - ref) * np.gradient(lam)[line]) > 1.0
    # the AGN / host ratio at 5100 A rest, from the u draw, within BROADLINE_RATIO
    monkeypatch.setattr(galaxies, "BROADLINE_SHARE", 1.0)  # every low-z galaxy gets one
    grid = boss_grid()
    z = np.full(50, 0.1)
    rest = np.tile(10**grid / 1.1, (50, 1))
    u = np.random.default_rng(0).random((50, 40))
    agn = np.zeros_like(rest, dtype=np.float32)
    broad = galaxies.add_broad_line_agn(
        agn, grid, z, rest, np.ones_like(rest), u, np.zeros((50, 40)), quasars.broad_balmer_agn
    )
    assert broad.all()
    ratio = np.array([np.interp(5100.0, rest[i], agn[i]) for i in range(50)])
    lo, hi = galaxies.BROADLINE_RATIO
    np.testing.assert_allclose(ratio, lo * (hi / lo) ** u[:, 11], rtol=1e-4)


def test_carbon_stars_are_a_small_share_with_swan_bands() -> None:
    """CARBON_FRACTION of the stars are carbon stars: no TiO, the C2 Swan (0-0) band head
    at 5165 A with the flux blueward of it well below the flux redward (the pipeline's
    spEigenStar 'Carbon' template: 0.41)."""
    from bench_plugins.synthetic import stars

    n = 6000
    source = make(n=n, seed=0, classes=["STAR"])
    batch = source.read(np.arange(n))
    carbon = np.flatnonzero(batch.meta["subclass"] == "CARBON")
    expected = n * stars.CARBON_FRACTION * (1 - stars.WEIGHTS[-1] / stars.WEIGHTS.sum())
    assert abs(len(carbon) - expected) < 4 * np.sqrt(expected)
    model = source.model(carbon)
    rest = np.power(10.0, batch.loglam)[None, :] / (1 + batch.redshift[carbon, None])
    mean = lambda lo, hi: np.array(  # noqa: E731
        [m[(r > lo) & (r < hi)].mean() for m, r in zip(model, rest, strict=True)]
    )
    ratio = mean(5100, 5160) / mean(5170, 5230)
    assert (ratio < 0.8).all() and np.median(ratio) < 0.65
    again = make(n=n, seed=0, classes=["STAR"]).read(carbon)
    np.testing.assert_array_equal(again.flux, batch.flux[carbon])


def test_cool_stars_have_the_blanketing_forests_pixel_structure() -> None:
    """Noiseless G/K stars at rest: relative structure about a 15-pixel running median at
    3800-5800 A near the FOREST_RMS level of their Teff (in quadrature with the listed
    lines); white dwarfs none of it."""
    from bench_plugins.synthetic import stars
    from bench_plugins.synthetic.realism_features import _running_median

    loglam = np.asarray(boss_grid(), np.float64)
    u = np.random.default_rng(3).random((300, 40))
    flux, meta = stars.stars(loglam, np.zeros(300), u)
    lam = 10**loglam
    sel = (lam > 3800) & (lam < 5800)

    def rms(row: np.ndarray) -> float:
        x = row[sel].astype(np.float64)
        m = _running_median(x, 15)
        return float(np.sqrt(np.mean(((x - m) / m) ** 2)))

    cool = np.flatnonzero(np.isin(meta["subclass"], ["G", "K"]))
    level = np.interp(meta["teff"][cool], stars.FOREST_RMS[:, 0], stars.FOREST_RMS[:, 1])
    ratio = np.array([rms(flux[i]) for i in cool]) / level
    assert len(cool) > 30 and 0.8 < np.median(ratio) < 1.6
    wd = np.flatnonzero(np.char.startswith(meta["subclass"].astype(str), "WD"))
    assert max(rms(flux[i]) for i in wd) < 0.01
