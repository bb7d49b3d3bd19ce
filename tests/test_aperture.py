"""The fibre's share of a galaxy's light and the main sample's magnitudes."""

from __future__ import annotations

import numpy as np

from bench_plugins.synthetic import Synthetic, aperture


def test_fibre_fraction_meets_its_limits() -> None:
    # a point source: the Gaussian seeing disc inside the fibre
    point = aperture.fibre_fraction(
        np.array([1e-4, 1e-4]), np.array([1.0, 4.0]), np.array([3.0, 2.0]), np.array([1.5, 1.5])
    )
    sigma = 1.5 / 2.3548
    np.testing.assert_allclose(
        point, 1 - np.exp(-(np.array([1.5, 1.0]) ** 2) / (2 * sigma**2)), rtol=1e-3
    )
    # no seeing: an exponential disc's enclosed light, and half of any profile at r50
    x = 1.5 / (2.0 / 1.6783)
    disc = aperture.fibre_fraction(
        np.array([2.0]), np.array([1.0]), np.array([3.0]), np.array([0.01])
    )
    np.testing.assert_allclose(disc, 1 - (1 + x) * np.exp(-x), rtol=3e-3)
    half = aperture.fibre_fraction(
        np.array([1.5, 1.5]), np.array([1.0, 4.0]), np.array([3.0, 3.0]), np.array([0.01, 0.01])
    )
    np.testing.assert_allclose(half, 0.5, atol=3e-3)


def test_fibre_fraction_falls_with_size_seeing_and_a_smaller_fibre() -> None:
    size = aperture.fibre_fraction(
        np.array([0.5, 1.0, 3.0, 10.0]), np.full(4, 4.0), np.full(4, 3.0), np.full(4, 1.5)
    )
    assert np.all(np.diff(size) < 0)
    seeing = aperture.fibre_fraction(
        np.full(3, 1.0), np.full(3, 1.0), np.full(3, 2.0), np.array([1.0, 1.5, 2.0])
    )
    assert np.all(np.diff(seeing) < 0)
    fibre = aperture.fibre_fraction(
        np.full(2, 2.0), np.full(2, 1.0), np.array([3.0, 2.0]), np.full(2, 1.5)
    )
    assert fibre[1] < fibre[0]


def test_main_sample_magnitudes_follow_the_luminosity_function() -> None:
    u = np.linspace(0.01, 0.99, 99)
    near = aperture.main_sample_mag(np.full(99, 0.005), u)
    far = aperture.main_sample_mag(np.full(99, 0.1), u)
    for mag in (near, far):
        assert np.all(np.diff(mag) > 0)
        assert mag.min() >= aperture.MAIN_BRIGHT and mag.max() <= aperture.MAIN_LIMIT
    # nearby galaxies in a flux-limited sample are the bright ones, not dwarfs at the limit
    assert np.median(near) < np.median(far) - 2.0
    assert 16.8 < np.median(far) < 17.6


def test_half_light_radius_grows_with_luminosity() -> None:
    mags = np.array([-18.0, -20.0, -22.0])
    for early in (True, False):
        r = aperture.half_light_kpc(mags, np.full(3, early), np.zeros(3))
        assert np.all(np.diff(r) > 0) and 0.5 < r[1] < 6.0
    spread = aperture.half_light_kpc(
        np.full(2000, -21.0), np.ones(2000, bool), np.random.default_rng(0).standard_normal(2000)
    )
    centre = aperture.half_light_kpc(np.array([-21.0]), np.array([True]), np.zeros(1))[0]
    assert abs(np.median(spread) / centre - 1) < 0.05


def test_galaxy_spectra_carry_the_fibre_share_of_their_light() -> None:
    kw = dict(n=240, seed=4, classes=["GALAXY"], galaxy_z=[0.05, 0.2])
    boss = Synthetic(**kw, legacy_fraction=0.0).open()
    legacy = Synthetic(**kw, legacy_fraction=1.0).open()
    idx = np.arange(240)
    lam = 10**boss.loglam
    band = (lam > 5700) & (lam < 6700)
    f_boss = np.median(boss.model(idx)[:, band], axis=1)
    f_legacy = np.median(legacy.model(idx)[:, band], axis=1)
    # the same galaxies: the 2" BOSS fibre takes in less of each than the 3" SDSS-I/II one
    ratio = f_boss / f_legacy
    assert np.median(ratio) < 0.8 and (ratio < 1).mean() > 0.9
    # the SDSS fibre takes in about a third of a z ~ 0.1 main-sample galaxy's light
    mag = -2.5 * np.log10(f_legacy * 1e-17 * 6200.0**2 / 2.99792458e18 / 3631e-23)
    catalogue = aperture.main_sample_mag(legacy.redshift[idx], legacy._draws(idx)[0][:, 1])
    assert 0.8 < np.median(mag - catalogue) < 1.6
