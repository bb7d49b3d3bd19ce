"""Who is in the synthetic survey: stellar types in published shares, line strengths of
the stars against the pipeline's own stellar templates (spEigenStar)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.spectra import SpectrumBatch, boss_grid
from bench_plugins.synthetic import dwarf_continuum, photometry, stars
from bench_plugins.synthetic.realism_features import feature_names, features


def _line_features(flux: np.ndarray, names: list[str], z: float = 0.0) -> np.ndarray:
    """Realism features ``names`` of noiseless spectra ``flux`` (B, P) at redshift ``z``."""
    b = len(flux)
    batch = SpectrumBatch(
        ids=np.array([str(i) for i in range(b)], dtype=object), loglam=boss_grid(),
        flux=flux.astype(np.float32), ivar=np.ones(flux.shape, np.float32),
        mask=np.zeros(flux.shape, np.int32), labels=np.array(["STAR"] * b, dtype=object),
        redshift=np.full(b, z), snr=np.ones(b, np.float32), meta={},
    )  # fmt: skip
    columns = [feature_names().index(n) for n in names]
    return features(batch)[:, columns]


def test_balmer_strong_types_are_a_minority() -> None:
    """A, B, O stars and white dwarfs: under 15 % of stars (DR7 WDs 4 %, few BHB/sdB)."""
    kind = np.searchsorted(np.cumsum(stars.WEIGHTS) / stars.WEIGHTS.sum(), np.linspace(0, 1, 1001))
    hot = np.isin(np.array(stars.SUBCLASSES)[np.minimum(kind, 7)], ["O", "B", "A", "WD"])
    assert hot.mean() < 0.15 and np.isclose(stars.WEIGHTS.sum(), 1.0)


def test_boss_stars_are_mostly_a_and_f_and_sdss_ones_keep_the_dr7_mix() -> None:
    """On the BOSS spectrographs the stars are its quasar targets' A/F stars, its F
    standards and CMASS's M stars; the same draws on SDSS-I/II's keep WEIGHTS."""
    from bench_plugins.synthetic.source import N_PARAMS

    rng = np.random.default_rng(5)
    u = rng.random((400, N_PARAMS))
    u[:, 30] = 1.0  # no carbon stars: the subclass is the drawn type
    loglam = boss_grid()[::8]
    boss = stars.stars(loglam, np.zeros(400), u, np.zeros(400, bool))[1]["subclass"]
    legacy = stars.stars(loglam, np.zeros(400), u, np.ones(400, bool))[1]["subclass"]
    old = stars.stars(loglam, np.zeros(400), u)[1]["subclass"]
    share = {k: float(np.mean(np.char.startswith(boss.astype(str), k))) for k in "AFGKM"}
    assert share["A"] + share["F"] > 0.5 and share["M"] > 0.1, share
    assert np.isclose(stars.BOSS_WEIGHTS.sum(), 1.0)
    assert list(legacy) == list(old)  # SDSS-I/II (and no spectrograph given): DR7's mix
    assert np.mean(np.isin(legacy.astype(str), ["A", "F"])) < 0.4


def test_cool_stars_absorb_at_oiii_as_the_templates_do() -> None:
    """The forest from the templates puts lines inside [O III] 5008 A: G/K/M stars read as
    absorption there (the random forest read as emission, +0.6 to +0.9 A)."""
    rng = np.random.default_rng(5)
    u = rng.random((24, 40))
    u[:, 0] = np.repeat([0.55, 0.75, 0.95], 8)  # G, K, M by the cumulative weights
    flux, meta = stars.stars(boss_grid(), np.zeros(24), u)
    assert set(meta["subclass"]) <= {"G", "K", "M", "CARBON"}
    oiii, halpha = _line_features(flux, ["ew_OIII", "ew_Halpha"]).T
    assert np.median(oiii) < -0.5 and (oiii < 0).mean() > 0.8
    m = meta["subclass"] == "M"
    assert np.median(oiii[m]) < -1.5 and np.median(halpha[~m]) < 0.5


def test_blanketing_forest_comes_from_the_shipped_templates() -> None:
    grid, tau = stars.blanketing_forest()
    fallback = stars.random_forest(grid, 0.25e-4)
    assert tau.shape == grid.shape and np.isfinite(tau).all() and tau.min() >= 0
    assert np.corrcoef(tau, fallback)[0, 1] < 0.5  # not the random stand-in
    rest = np.power(10.0, grid)
    assert tau[np.abs(rest - 4102.89) < stars.FOREST_CUT_A].max() == 0.0  # H-delta cut out


def test_galaxy_lines_follow_their_type() -> None:
    """Passive galaxies carry no gas of the mean BOSS galaxy (|EW(H-alpha + [N II])| small);
    star-forming ones have [O II] below H-alpha + [N II] (Kennicutt 1992: ~0.4)."""
    from bench_plugins.synthetic import galaxies

    rng = np.random.default_rng(7)
    u, n = rng.random((40, 40)), rng.standard_normal((40, 40))
    u[:, 0] = np.repeat([0.2, 0.9], 20)  # SF, PASSIVE at z < 0.25
    u[:20, 6] = 0.3  # moderate dust for the star-forming ones
    flux, meta = galaxies.galaxies(boss_grid(), np.full(40, 0.08), u, n)
    oii, halpha = _line_features(flux, ["ew_OII", "ew_Halpha"], z=0.08).T
    passive = meta["subclass"] == "PASSIVE"
    assert passive.sum() == 20 and np.median(np.abs(halpha[passive])) < 2.5
    ratio = oii[~passive] / halpha[~passive]
    assert 0.15 < np.median(ratio) < 0.7


def test_passive_galaxies_have_the_red_sequence_break_and_are_younger_at_higher_z() -> None:
    """Noiseless passive galaxies: Dn4000 (f_nu) ~1.85 at z 0.1 (the SDSS red sequence,
    Kauffmann et al. 2003), above the mean BOSS galaxy's 1.69 they are built from, and
    ~0.1 less at z 0.55; star-forming ones stay near the blue peak (~1.3)."""
    from bench_plugins.synthetic import galaxies

    rng = np.random.default_rng(3)
    u, n = rng.random((60, 40)), rng.standard_normal((60, 40))
    u[:, 0] = np.repeat([0.9, 0.9, 0.05], 20)  # PASSIVE, PASSIVE, SF
    z = np.repeat([0.1, 0.55, 0.1], 20)
    flux, meta = galaxies.galaxies(boss_grid(), z, u, n)
    dn = [
        1.078 * 10 ** _line_features(flux[k * 20 : (k + 1) * 20], ["d4000"], z=z[k * 20])[:, 0]
        for k in range(3)
    ]
    assert list(meta["subclass"][:40]) == ["PASSIVE"] * 40
    near, far, sf = (float(np.median(d)) for d in dn)
    assert 1.78 < near < 1.95, near
    assert 0.05 < near - far < 0.18, (near, far)
    assert 1.2 < sf < 1.4, sf


def test_template_mode_draws_stellar_templates_by_type_share() -> None:
    from bench_plugins.synthetic.templates import star_weights

    names = ["A0 (1)", "A1V (2)", "B9 (3)", "F5V (4)", "sdF3 (5)", "M1 (6)", "WDhotter",
             "CalciumWD", "Carbon"]  # fmt: skip
    w = star_weights(names)
    share = dict(zip(stars.SUBCLASSES, stars.WEIGHTS / stars.WEIGHTS.sum(), strict=True))
    assert np.isclose(w[0], share["A"] / 2) and np.isclose(w[3], w[4])
    assert np.isclose(w[6], share["WD"] / 2) and w[8] == 0.01 and w[5] > 5 * w[0]


def test_late_m_dwarfs_are_mostly_active() -> None:
    """H-alpha emission in ~3-8 % of M0-M2 dwarfs and most M5-M8 (West et al. 2011)."""
    rng = np.random.default_rng(3)
    u = rng.random((2000, 40))
    teff = np.repeat([3700.0, 2800.0], 1000)
    emis = stars.chromosphere(boss_grid(), np.zeros(2000), teff, u, np.zeros(2000, bool))
    active = emis.max(axis=1) > 0
    assert 0.01 < active[:1000].mean() < 0.1 and 0.6 < active[1000:].mean() < 0.9
    hot = stars.chromosphere(boss_grid(), np.zeros(5), np.full(5, 5000.0), u[:5], np.zeros(5, bool))
    assert not hot.any()


def test_quasar_lines_match_the_vanden_berk_composite(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C IV, C III], Mg II of synthetic quasars at z = 2.3 (median, noiseless) within 15 %
    of the same features of the Vanden Berk et al. 2001 composite, at the composite's
    luminosity (no Baldwin effect: every quasar as bright as its quasars)."""
    from bench_plugins.synthetic import quasars

    monkeypatch.setattr(quasars, "BALDWIN_BETA", 0.0)

    table = np.loadtxt(shared_data / "templates" / "VandenBerk2001.dat", comments="#")
    loglam = boss_grid()
    composite = np.interp(10**loglam / 3.3, table[:, 0], table[:, 1])
    names = ["ew_CIV", "ew_CIII", "ew_MgII"]
    expected = _line_features(composite[None, :], names, z=2.3)[0]
    rng = np.random.default_rng(2)
    u, n = rng.random((120, 40)), rng.standard_normal((120, 40))
    u[:, 9] = 1.0  # no BAL troughs
    field = rng.standard_normal((120, len(loglam))).astype(np.float32)
    flux, _ = quasars.quasars(loglam, np.full(120, 2.3), u, n, field)
    got = np.median(_line_features(flux, names, z=2.3), axis=0)
    np.testing.assert_allclose(got, expected, rtol=0.15)


def test_quasar_lya_profile_follows_the_vanden_berk_composite(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ly-alpha at z = 2.3 (noiseless, median of 120, the composite's luminosity): its width
    at half its peak within 10 % of the composite's, its peak over the 1280-1350 A
    continuum under 1.3 times the composite's (a line as sharp as the old 6,000 km/s one
    had the pipeline's quasar basis fit 5 % of z 2-2.7 quasars upside down)."""
    from bench_plugins.synthetic import quasars

    monkeypatch.setattr(quasars, "BALDWIN_BETA", 0.0)
    table = np.loadtxt(shared_data / "templates" / "VandenBerk2001.dat", comments="#")
    loglam = boss_grid()
    rest = 10**loglam / 3.3
    cont, core, wide = (
        (rest > 1280) & (rest < 1350),
        (rest > 1195) & (rest < 1240),
        (rest > 1150) & (rest < 1300),
    )

    def peak_and_width(f: np.ndarray) -> tuple[float, float]:
        excess = f[wide] / np.median(f[cont]) - 1.0
        return float(np.max(f[core]) / np.median(f[cont])), float(
            np.ptp(rest[wide][excess > excess.max() / 2])
        )

    peak, width = peak_and_width(np.interp(rest, table[:, 0], table[:, 1]))
    rng = np.random.default_rng(2)
    u, n = rng.random((120, 40)), rng.standard_normal((120, 40))
    u[:, 9] = 1.0  # no BAL troughs
    field = rng.standard_normal((120, len(loglam))).astype(np.float32)
    flux, _ = quasars.quasars(loglam, np.full(120, 2.3), u, n, field)
    median = np.median(flux / np.median(flux[:, cont], axis=1, keepdims=True), axis=0)
    got_peak, got_width = peak_and_width(median)
    assert abs(got_width / width - 1.0) < 0.1
    assert got_peak < 1.3 * peak


def test_fainter_quasars_have_stronger_lines_by_the_baldwin_effect() -> None:
    """EW ~ L^BALDWIN_BETA at a given redshift: unit at BALDWIN_REF_MAG, stronger for
    fainter quasars, N V untouched, and none for the low-z Seyfert 1s (weight 0)."""
    from bench_plugins.synthetic import quasars

    ref = quasars.BALDWIN_REF_MAG
    factor = quasars.baldwin(np.array([ref, ref + 2.5, ref - 2.5]))
    np.testing.assert_allclose(factor, [1.0, 10**-quasars.BALDWIN_BETA, 10**quasars.BALDWIN_BETA])
    np.testing.assert_allclose(quasars.baldwin(np.array([ref + 2.5]), 0.0), [1.0])
    assert not quasars.BALDWIN_LINES[quasars.LINES[:, 0] == 1240.14].any()
    # the same quasar at z = 2.3, only its magnitude draw changed: C IV and C III] grow by
    # about the factor; the spectra are scaled to their magnitudes, so compare shapes
    loglam = boss_grid()
    rng = np.random.default_rng(6)
    u, n = np.tile(rng.random((1, 40)), (2, 1)), np.tile(rng.standard_normal((1, 40)), (2, 1))
    u[:, 9] = 1.0  # no BAL troughs
    u[:, 11] = [0.0, 1.0]  # r = 19.5 and 22.2
    field = np.zeros((2, len(loglam)), np.float32)
    flux, _ = quasars.quasars(loglam, np.full(2, 2.3), u, n, field)
    got = _line_features(flux, ["ew_CIV", "ew_CIII"], z=2.3)
    expected = quasars.baldwin(np.array([22.2]))[0] / quasars.baldwin(np.array([19.5]))[0]
    np.testing.assert_allclose(got[1] / got[0], expected, rtol=0.1)


def test_quasar_continuum_softens_below_1200_a() -> None:
    from bench_plugins.synthetic import quasars

    loglam = boss_grid()
    rng = np.random.default_rng(4)
    u, n = rng.random((20, 40)), np.zeros((20, 40))
    u[:, 9] = 1.0
    field = np.zeros((20, len(loglam)), np.float32)
    flux, _ = quasars.quasars(loglam, np.full(20, 3.0), u, n, field)
    rest = 10**loglam / 4.0
    blue, red = (rest > 1060) & (rest < 1080), (rest > 1280) & (rest < 1300)
    slope = np.log(flux[:, blue].mean(1) / flux[:, red].mean(1)) / np.log(1070 / 1290)
    # with the forest: ~ +0.14 with the break, ~ -0.63 without (measured)
    assert np.median(slope) > -0.2


def test_agn_continuum_is_one_power_law_and_gives_the_broad_balmer_decrement() -> None:
    """The AGN continuum keeps one slope through the optical (Selsing et al. 2016: the
    host-free composite does to 1 micron), and with LINES' EWs the broad H-alpha / H-beta
    flux ratio at the mean slope is the ~3.1 of blue SDSS AGN (Dong et al. 2008)."""
    from bench_plugins.synthetic import quasars

    loglam = boss_grid()
    rest = (10**loglam)[None, :].astype(np.float32)
    alpha = np.array([quasars.ALPHA_MEAN])
    cont = quasars.agn_continuum(rest, alpha, 5100.0)[0]
    blue, red = (3700.0, 4800.0), (5500.0, 10000.0)
    slopes = [np.log(np.interp(b, rest[0], cont) / np.interp(a, rest[0], cont)) / np.log(b / a)
              for a, b in (blue, red)]  # fmt: skip
    np.testing.assert_allclose(slopes, -(2.0 + quasars.ALPHA_MEAN), atol=1e-3)
    agn = quasars.broad_balmer_agn(loglam, np.zeros(1), np.zeros((1, 3)))[0]
    lam, step = rest[0], np.gradient(rest[0])

    def line_flux(centre: float) -> float:
        near = np.abs(lam - centre) < 150.0
        return float(np.sum(((agn - cont) * step)[near]))

    assert 2.7 < line_flux(6564.61) / line_flux(4862.68) < 3.6


def test_quasar_reddening_follows_hopkins_2004() -> None:
    """E(B-V) > 0.1 for ~2 % and > 0.2 for ~1 % (Hopkins et al. 2004), none above the cap."""
    from bench_plugins.synthetic import quasars

    ebv = quasars.reddening(np.random.default_rng(5).random(40_000))
    assert 0.015 < (ebv > 0.1).mean() < 0.025
    assert 0.006 < (ebv > 0.2).mean() < 0.014
    assert ebv.max() <= quasars.EBV_MAX and np.median(ebv) < 0.01


def test_seyfert_nuclei_carry_the_broad_balmer_decrements_of_sdss_agn() -> None:
    """The Seyfert 1s' nuclear dust gives broad H-alpha / H-beta log-normal about 3.16 with
    0.07 dex (Lu et al. 2019) less its dust-free 3.06 and 0.03 dex (Dong et al. 2008): cut
    at 0, so the decrements below 3.06 are the dust-free ones."""
    from bench_plugins.synthetic import quasars

    ebv = quasars.seyfert_reddening(np.random.default_rng(6).standard_normal(40_000))
    rest = np.array([[4862.68, 6564.61]])
    t = quasars.smc_transmission(np.repeat(rest, len(ebv), axis=0), ebv)
    decrement = np.log10(3.06 * t[:, 1] / t[:, 0])
    dusty = ebv > 0
    assert 0.5 < dusty.mean() < 0.7 and ebv.max() <= quasars.EBV_MAX
    # the upper half of the log-normal is Lu et al.'s, less the dust-free width
    q84 = np.log10(3.16) + np.sqrt(0.07**2 - 0.03**2)
    assert abs(np.quantile(decrement, 0.8413) - q84) < 0.005
    assert abs(np.median(decrement) - np.log10(3.16)) < 0.005


def test_a_seyfert_s_nuclear_dust_reddens_its_nucleus_not_its_host_or_a_quasar() -> None:
    """The same draws with and without the nuclear dust: a z = 0.05 Seyfert 1 gets redder
    (its blue AGN light falls more than its red, at the same r magnitude); a z = 2 quasar
    is untouched bit for bit."""
    from bench_plugins.synthetic import quasars
    from bench_plugins.synthetic.source import N_PARAMS

    rng = np.random.default_rng(9)
    u, n = rng.random((2, N_PARAMS)), rng.standard_normal((2, N_PARAMS))
    u[:, 7], u[:, 21] = 0.0, 0.0  # no Hopkins dust; the Seyfert's smallest host share
    z, loglam = np.array([0.05, 2.0]), boss_grid()[::4]
    field = np.zeros((2, len(loglam)), np.float32)
    n[:, 4] = -3.0
    clean = quasars.quasars(loglam, z, u, n, field)[0]
    n[:, 4] = 2.0
    dusty = quasars.quasars(loglam, z, u, n, field)[0]
    np.testing.assert_array_equal(dusty[1], clean[1])
    rest = 10**loglam / 1.05
    blue, red = (rest > 3900) & (rest < 4300), (rest > 6000) & (rest < 6400)
    ratio = dusty[0] / clean[0]  # both scaled to the same r magnitude
    assert ratio[blue].mean() < 0.9 * ratio[red].mean()
    assert quasars.seyfert_reddening(np.array([-3.0]))[0] == 0.0


def test_brighter_low_z_quasars_carry_a_smaller_host_share() -> None:
    """Host share at 5100 A follows the quasar's luminosity (Shen et al. 2011, eq. 1): at
    z = 0.08 it falls with the apparent magnitude and vanishes above L_5100 ~ 1e45 erg/s;
    luminosity distances are flat LCDM (H0 = 70, Omega_m = 0.3) ones."""
    from bench_plugins.synthetic import quasars

    z = np.full(6, 0.08)
    mag = np.array([12.0, 15.0, 16.5, 17.5, 18.5, 19.5])
    f_host = quasars.host_fraction(z, mag, np.full(6, -0.5), np.full(6, 0.5))
    assert np.all(np.diff(f_host) > 0)
    assert f_host[0] == 0.0 and 0.3 < f_host[2] < f_host[-1] <= quasars.HOST_MAX
    # the same draws, only the magnitude differs: the brighter half has the smaller share
    rng = np.random.default_rng(3)
    u = rng.random(400)
    faint = quasars.host_fraction(np.full(400, 0.08), np.full(400, 18.5), np.full(400, -0.5), u)
    bright = quasars.host_fraction(np.full(400, 0.08), np.full(400, 16.5), np.full(400, -0.5), u)
    assert np.all(bright < faint) and np.median(faint) - np.median(bright) > 0.1
    dl = photometry.luminosity_distance_cm(np.array([0.1, 1.0])) / 3.0857e24
    np.testing.assert_allclose(dl, [460.0, 6607.0], rtol=0.01)  # Mpc, flat LCDM 70 / 0.3


def test_low_z_seyferts_draw_their_host_share_apart_from_the_quasar_relation() -> None:
    """Below z = 0.1 (Seyfert weight 1) the host share no longer follows the magnitude (the
    AGN / host ratio is log-uniform over SEYFERT_RATIO, whatever the host); above z = 0.4
    (weight 0) it is the quasar relation's, untouched; between, a blend."""
    from bench_plugins.synthetic import quasars

    u = np.random.default_rng(4).random(2000)
    shen = quasars.host_fraction(np.full(2000, 0.08), np.full(2000, 16.5), np.full(2000, -0.5), u)
    seyfert = quasars.seyfert_host(shen, np.ones(2000), u)
    ratio = (1.0 - seyfert) / seyfert
    lo, hi = quasars.SEYFERT_RATIO
    assert ratio.min() >= lo - 1e-9 and ratio.max() <= hi + 1e-9
    # log-uniform: a quarter of the draws in each quarter of the log range
    quarters = np.histogram(np.log10(ratio), bins=4, range=np.log10([lo, hi]))[0]
    assert np.all(np.abs(quarters / 2000 - 0.25) < 0.04)
    assert np.all(np.diff(seyfert[np.argsort(u)]) >= 0)  # a higher draw, a larger host
    assert seyfert.max() <= 1.0 / (1.0 + lo) + 1e-9
    # the Seyfert 1s end where the galaxies' broad-line AGN begin: no share left to neither class
    from bench_plugins.synthetic import galaxies

    assert lo == galaxies.BROADLINE_RATIO[1]
    np.testing.assert_array_equal(quasars.seyfert_host(shen, np.zeros(2000), u), shen)
    half = quasars.seyfert_host(shen, np.full(2000, 0.5), u)
    np.testing.assert_allclose(half, 0.5 * (shen + seyfert))


def test_dwarf_templates_are_classes_iv_and_v_not_peculiar() -> None:
    """The continuum correction's templates: A-M dwarfs and subgiants (or unclassed), not
    giants, supergiants or chemically peculiar stars."""
    kept = ["K3V (1)", "G0Va", "A0IVn (2)", "M1 (204445)", "G5/G6IVw", "K5", "K1V... (3)",
            "sd:F0 (G_84-29)", "G0.5IV (4)", "K5Ve (5)"]  # fmt: skip
    left = ["K3III", "M4.5:III (123657)", "F5Ib...", "B0.5Iae", "K3Iab:", "A2II", "G9Ib", "K3p",
            "A1m (6)", "Am (7)", "B2IV-V", "WDhotter", "Carbon"]  # fmt: skip
    types = dwarf_continuum.dwarf_template_types(kept + left)
    assert [i for i, _, _ in types] == list(range(len(kept)))
    assert [(c, k) for _, c, k in types][:3] == [("K", 3), ("G", 0), ("A", 0)]


def _typical_stars(teff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(corrected, uncorrected) noiseless flux of unremarkable stars at ``teff``, z = 0."""
    loglam, z, u = boss_grid(), np.zeros(len(teff)), stars.typical(teff)
    return np.asarray(stars.stars(loglam, z, u)[0]), np.asarray(stars.physical(loglam, z, u)[0])


def _blue_over_visual(flux: np.ndarray) -> np.ndarray:
    lam = np.power(10.0, boss_grid())
    blue, visual = (lam > 3600) & (lam < 4200), (lam > 5300) & (lam < 5600)
    return np.log10(flux[:, blue].mean(axis=1) / flux[:, visual].mean(axis=1))


def test_continuum_correction_brings_dwarfs_to_the_templates_held_out() -> None:
    """Each G dwarf template against a star of its Teff, the correction built without that
    template: its near-UV / visual flux ratio lands closer to the template's than the
    uncorrected model's (which was 0.1-0.2 dex too faint)."""
    from bench.readers import find_template_file, read_template_file
    from bench_plugins.synthetic.template_files import SHIPPED_DIR

    t = read_template_file(find_template_file(SHIPPED_DIR, "STAR", "x"), "STAR")
    picked = [p for p in dwarf_continuum.dwarf_template_types(t.names) if p[1] == "G"]
    assert len(picked) >= 6
    loglam = boss_grid()
    teff = np.array([dwarf_continuum.DWARF_TEFF[c][k] for _, c, k in picked], float)
    real = np.array([np.interp(loglam, t.loglam, t.flux[i]) for i, _, _ in picked])
    uncorrected = _typical_stars(teff)[1]
    held = np.concatenate([
        uncorrected[j : j + 1] * dwarf_continuum.correction(
            loglam, np.zeros(1), teff[j : j + 1], np.zeros(1, bool),
            dwarf_continuum.correction_table(t.names, t.loglam, t.flux, stars.typical_model, i),
        )
        for j, (i, _, _) in enumerate(picked)
    ])  # fmt: skip
    before = np.abs(_blue_over_visual(real) - _blue_over_visual(uncorrected))
    after = np.abs(_blue_over_visual(real) - _blue_over_visual(held))
    assert np.median(before) > 0.08 and np.median(after) < 0.5 * np.median(before)


def test_continuum_correction_leaves_white_dwarfs_hot_and_carbon_stars() -> None:
    loglam = boss_grid()
    teff = np.array([5800.0, 5800.0, 20000.0, 3500.0])
    off = np.array([False, True, False, False])
    factor = dwarf_continuum.correction(
        loglam, np.zeros(4), teff, off, stars.continuum_correction()
    )
    assert np.ptp(factor[0]) > 0.1  # a G star's blue end is raised
    assert (factor[1] == 1).all() and (factor[2] == 1).all()  # off; beyond the fade
    assert np.isfinite(factor).all() and (factor > 0).all()
    corrected, uncorrected = _typical_stars(np.array([5800.0]))
    assert _blue_over_visual(corrected)[0] > _blue_over_visual(uncorrected)[0] + 0.08


def test_balmer_lines_of_cool_dwarfs_fade_linearly() -> None:
    """Below ~6700 K the Balmer strength follows BALMER_COOL's linear fall (G/K dwarfs
    keep H-beta, H-alpha of 1-4 A), elsewhere the A-star Gaussian: hot stars and galaxies'
    young populations are untouched."""
    teff = np.array([3500.0, 4500.0, 5500.0, 6500.0, 8000.0, 12000.0, 20000.0])
    gauss = stars.strength(teff, 9500.0, 0.13, 0.22)
    bal = stars.balmer_strength(teff)
    np.testing.assert_allclose(bal[4:], gauss[4:])
    assert bal[0] == gauss[0] and (bal[1:3] > 1.5 * gauss[1:3]).all() and bal[3] > gauss[3]
    assert np.all(np.diff(bal[:5]) > 0)
    hbeta = _line_features(_typical_stars(np.array([5500.0, 4800.0]))[0], ["ew_Hbeta"])[:, 0]
    assert (hbeta < -0.8).all()  # absorption a G8 and a K3 dwarf show (templates: -1.7, -3.0)


def test_stars_vs_templates_pairs_each_dwarf_with_a_star_of_its_teff(capsys) -> None:
    """tests/perf/stars_vs_templates.py --paired: per type, the corrected stars' broad
    bands sit nearer the templates than the uncorrected model's, also held out."""
    import importlib.util

    from bench.readers import find_template_file, read_template_file
    from bench_plugins.synthetic.template_files import SHIPPED_DIR

    path = Path(__file__).resolve().parent / "perf" / "stars_vs_templates.py"
    spec = importlib.util.spec_from_file_location("perf_stars_vs_templates", path)
    assert spec is not None and spec.loader is not None
    perf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(perf)
    t = read_template_file(find_template_file(SHIPPED_DIR, "STAR", "x"), "STAR")
    result = perf.paired(t.names, t.loglam, t.flux)
    assert set(result["types"]) == {"A", "F", "G", "K", "M"}
    for kind in ("F", "G"):
        cell = result["types"][kind]
        assert np.mean(cell["abs_bands_held_out"]) < 0.5 * np.mean(cell["abs_bands_uncorrected"])
    assert "held out" in capsys.readouterr().out


def test_sdss_legacy_quasars_are_that_surveys_brighter_ones() -> None:
    """SDSS-I/II quasars follow the DR7 catalogue's counts (8.7 % at i < 18, ~52 % at
    i < 19), deeper above z = 3; on those spectrographs the generator draws them so, BOSS
    quasars at BOSS's magnitudes."""
    from bench_plugins.synthetic import Synthetic, quasars

    u = np.linspace(0.0005, 0.9995, 1000)
    i_low = quasars.legacy_quasar_mag(np.full(1000, 1.5), u) - quasars.QSO_R_MINUS_I
    assert abs((i_low < 18).mean() - 0.087) < 0.01 and abs((i_low < 19).mean() - 0.52) < 0.02
    i_high = quasars.legacy_quasar_mag(np.full(1000, 3.5), u) - quasars.QSO_R_MINUS_I
    assert np.median(i_high) - np.median(i_low) > 0.9
    kw = dict(n=200, seed=6, classes=["QSO"], qso_z=[0.5, 2.5])
    boss, legacy = (
        Synthetic(**kw, legacy_fraction=0.0).open(),
        Synthetic(**kw, legacy_fraction=1.0).open(),
    )
    idx = np.arange(200)
    lam = 10**boss.loglam
    band = (lam > 6050) & (lam < 6350)
    r_boss = np.median(boss.model(idx)[:, band], axis=1)
    r_legacy = np.median(legacy.model(idx)[:, band], axis=1)
    # the same quasars (draws), two magnitudes apart on average
    assert 1.2 < np.median(2.5 * np.log10(r_legacy / r_boss)) < 3.0
