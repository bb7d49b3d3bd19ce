"""``template_fit``'s poor-fit warnings (MANY_OUTLIERS, NEGATIVE_MODEL: :mod:`.bestfit`,
:mod:`.zwarning`) and its class-ranking criterion (``complexity_penalty``:
:mod:`.criterion`)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import BenchError
from bench.spectra import SpectrumBatch, zwarning_names
from bench_plugins.models.template_fit import TemplateFit
from bench_plugins.models.template_fit.bestfit import model_checks
from bench_plugins.models.template_fit.criterion import PENALTIES, class_scores
from bench_plugins.models.template_fit.prepare import prepare
from bench_plugins.models.template_fit.redshift import legendre
from bench_plugins.models.template_fit.templates import FIT_CLASSES
from bench_plugins.models.template_fit.zwarning import (
    MANY_OUTLIERS,
    NEGATIVE_MODEL,
    SMALL_DELTA_CHI2,
    zwarning,
)
from tests.test_template_fit import CLASSES, feed_of, template_spectra


def with_artefact(batch: SpectrumBatch, rows: list[int], seed: int) -> SpectrumBatch:
    """``batch`` with a strong artefact no template or polynomial fits added to ``rows``:
    a square wave of 8-pixel period and 20 sigma amplitude over the red half (like a
    pattern-noise or a badly subtracted sky band), ragged by a random phase per spectrum."""
    rng = np.random.default_rng(seed)
    flux = batch.flux.astype(np.float64)
    sigma = 1.0 / np.sqrt(batch.ivar.astype(np.float64))
    p = flux.shape[1]
    for i in rows:
        square = np.sign(np.sin(2 * np.pi * (np.arange(p) + rng.uniform(0, 8)) / 8.0))
        flux[i, p // 2 :] += 20.0 * sigma[i, p // 2 :] * square[p // 2 :]
    return SpectrumBatch(
        ids=batch.ids, loglam=batch.loglam, flux=flux.astype(np.float32), ivar=batch.ivar,
        mask=batch.mask, labels=batch.labels, redshift=batch.redshift, snr=batch.snr,
    )  # fmt: skip


def facts_of(batch: SpectrumBatch, **options: object) -> dict[str, np.ndarray]:
    model = TemplateFit(backend="numpy", **options)
    model.build((len(batch.loglam), 1), CLASSES, 0)
    return dict(model.object_facts(feed_of(batch)))


def test_a_spectrum_no_template_fits_gets_many_outliers_and_a_clean_one_none() -> None:
    labels, z = ["STAR", "GALAXY", "QSO"] * 2, [0.0003, 0.25, 1.9] * 2
    clean = template_spectra(labels, z, snr=20.0, seed=11)
    spoilt = with_artefact(clean, [3, 4, 5], seed=11)
    facts = facts_of(spoilt)
    flags = facts["zwarning"]
    assert list(flags[:3]) == [0, 0, 0]  # clean template spectra: no warning
    assert (flags[3:] & MANY_OUTLIERS).all(), flags
    assert all("MANY_OUTLIERS" in zwarning_names(int(f)) for f in flags[3:])


def test_clean_synthetic_spectra_get_no_poor_fit_bit() -> None:
    """Synthetic galaxies, quasars and (non-degenerate) stars: no poor-fit bit. Where one
    is set (the generator's bright DA white dwarfs, which no spEigenStar template matches
    at S/N 20-35), the best fit is poor indeed: reduced chi-square over 3."""
    from bench_plugins.synthetic import Synthetic

    batch = Synthetic(n=12, seed=4, snr_scale=1.0).open().read(np.arange(12))
    model = TemplateFit(backend="numpy")
    model.build((len(batch.loglam), 1), CLASSES, 0)
    feed = feed_of(batch)
    flags = model.object_facts(feed)["zwarning"]
    res = model.fit_results(feed)
    poor = (flags & (MANY_OUTLIERS | NEGATIVE_MODEL)) != 0
    white_dwarf = np.array([str(s).startswith("WD") for s in batch.meta["subclass"]])
    assert not poor[~white_dwarf].any(), flags
    rchi2 = res["score"].min(1) / res["n_good"]
    assert (rchi2[poor] > 3.0).all()


def test_outliers_count_pixels_beyond_5_sigma_and_only_high_ones_for_quasars() -> None:
    batch = template_spectra(["STAR", "QSO"], [0.0, 2.2], snr=25.0, seed=2)
    loglam0, step, flux, weight = prepare(batch)
    loglam = loglam0 + step * np.arange(flux.shape[1])
    model = TemplateFit(backend="numpy")
    templates = {k: t.on_step(step) for k, t in model.templates().items()}
    polys = {k: legendre(6 if k == "STAR" else 3, flux.shape[1]) for k in FIT_CLASSES}
    # the truth's redshifts and the STAR row's own template: found by the test above
    star = np.zeros(2, np.int64)
    z = np.array([[0.0, 0.3, 0.0], [0.0, 0.3, 2.2]])

    def checks(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        host, lines = np.zeros(2, bool), np.zeros(2, bool)
        return model_checks(loglam, f, weight, templates, polys, z, star, host, lines, True)

    base, _ = checks(flux)
    dips = flux.copy()
    sigma = 1.0 / np.sqrt(weight)
    every = np.arange(100, flux.shape[1] - 100, 20)  # 1 pixel in 20: dips of 30 sigma
    dips[:, every] -= 30.0 * sigma[:, every]
    low, _ = checks(dips)
    # the quasar's model ignores low outliers (absorption lines); the star's counts them
    assert low[1, 2] - base[1, 2] <= 2
    assert low[0, 0] - base[0, 0] >= 0.9 * len(every)
    peaks = flux.copy()
    peaks[:, every] += 30.0 * sigma[:, every]
    high, _ = checks(peaks)
    assert high[1, 2] - base[1, 2] >= 0.9 * len(every)


def test_an_upside_down_star_has_a_negative_model() -> None:
    batch = template_spectra(["STAR", "STAR"], [0.0, 0.0], snr=30.0, seed=9)
    loglam0, step, flux, weight = prepare(batch)
    flux[1] = -flux[0]  # the same star upside down
    weight[1] = weight[0]
    loglam = loglam0 + step * np.arange(flux.shape[1])
    from bench_plugins.models.template_fit.redshift import fit_spectra

    # unconstrained, as in the pipeline: the best stellar fit of the upside-down star is
    # the template times a negative coefficient
    free = TemplateFit(backend="numpy", constrain=False)
    out = fit_spectra(loglam0, step, flux, weight, free.templates(), free.settings())
    assert out["star"][0] == out["star"][1]
    assert list(out["negative"][:, 0]) == [False, True]
    # constrained (the default), the template's coefficient is held at 0: the same star
    # template at the same redshift leaves the polynomials alone to fit
    model = TemplateFit(backend="numpy")
    templates = {k: t.on_step(step) for k, t in model.templates().items()}
    polys = {k: legendre(6 if k == "STAR" else 3, flux.shape[1]) for k in FIT_CLASSES}
    star = np.array([out["star"][0]] * 2)
    z = np.tile(out["z"][:1], (2, 1))
    _, negative = model_checks(
        loglam, flux, weight, templates, polys, z, star, np.zeros(2, bool), np.zeros(2, bool),
        True,
    )  # fmt: skip
    assert list(negative[:, 0]) == [False, True]


def test_zwarning_poor_fit_bits() -> None:
    chi2 = np.array([[4600.0, 4700.0, 5000.0]] * 4)
    n_good = np.full(4, 4600)
    z_err = np.full(4, 1e-4)
    outliers = np.array([0, 230, 231, 0])  # 5 % of 4600 is 230: over it only
    negative = np.array([False, False, False, True])
    flags = zwarning(chi2, z_err, n_good, n_good * 1e-4, outliers, negative)
    assert list(flags) == [0, 0, MANY_OUTLIERS, NEGATIVE_MODEL]
    assert zwarning_names(MANY_OUTLIERS | NEGATIVE_MODEL) == ["NEGATIVE_MODEL", "MANY_OUTLIERS"]
    # the pipeline's relative rule: a gap under 1 % of a poor fit's chi-square is small
    poor = np.array([[20000.0, 20150.0, 30000.0]])
    assert zwarning(poor, z_err[:1], n_good[:1], n_good[:1] * 1e-4)[0] == SMALL_DELTA_CHI2


def test_class_scores_penalise_each_free_parameter() -> None:
    chi2 = np.array([[4610.0, 4606.0, 4603.0]])
    k = np.array([[6, 7, 7]])
    n = np.array([4600])
    assert class_scores(chi2, k, n, "none").argmin() == 2
    np.testing.assert_allclose(class_scores(chi2, k, n, "aic"), chi2 + 2 * k)
    np.testing.assert_allclose(class_scores(chi2, k, n, "bic"), chi2 + np.log(4600) * k)
    np.testing.assert_allclose(class_scores(chi2, k, n, "rchi2"), chi2 * 4600 / (4600 - k))
    assert class_scores(chi2, k, n, "bic").argmin() == 0  # 7 and 4 < ln(4600) = 8.4
    assert set(PENALTIES) == {"none", "aic", "bic", "rchi2"}
    with pytest.raises(ValueError, match="complexity_penalty"):
        class_scores(chi2, k, n, "mdl")


def test_complexity_penalty_option_ranks_and_flags_by_the_score() -> None:
    labels, z = ["STAR", "GALAXY", "QSO"], [0.0003, 0.25, 1.9]
    batch = template_spectra(labels, z, snr=20.0, seed=12)
    feed = feed_of(batch)
    out = {}
    for penalty in PENALTIES:
        model = TemplateFit(backend="numpy", complexity_penalty=penalty)
        model.build((len(batch.loglam), 1), CLASSES, 0)
        res = model.fit_results(feed)
        scores = class_scores(res["chi2"], res["n_params"], res["n_good"], penalty)
        np.testing.assert_allclose(res["score"], scores)
        out[penalty] = model.object_facts(feed)
        assert [CLASSES[i] for i in model.predict_proba(feed).argmax(1)] == labels
        gap = np.sort(scores, 1)[:, 1] - scores.min(1)
        np.testing.assert_allclose(out[penalty]["delta_chi2"], gap)
    with pytest.raises(BenchError, match="complexity_penalty"):
        TemplateFit(complexity_penalty="mdl")
