"""The ``template_fit`` model: conformance, the chi-square scan against a direct least
squares, class and redshift recovery, numpy and jax paths, per-object redshifts and the
real SDSS files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bench.conformance import check
from bench.errors import BenchError
from bench.feed import Feed, Pipeline
from bench.plugins import manager
from bench.spectra import ArraySource, SpectrumBatch, boss_grid, zwarning_names
from bench_plugins.models.template_fit import TemplateFit
from bench_plugins.models.template_fit.calibration import fit_temperature, probabilities
from bench_plugins.models.template_fit.prepare import prepare
from bench_plugins.models.template_fit.redshift import fit_spectra, legendre
from bench_plugins.models.template_fit.scan import chi2_scan, fast_len
from bench_plugins.models.template_fit.templates import FIT_CLASSES, load_templates

CLASSES = ["STAR", "GALAXY", "QSO"]


def template_spectra(
    labels: list[str], z: list[float], snr: float = 30.0, seed: int = 0
) -> SpectrumBatch:
    """Spectra made from the shipped templates themselves at redshift ``z``, with a
    smooth calibration tilt and Gaussian noise: the fit must recover class and z."""
    rng = np.random.default_rng(seed)
    templates = load_templates()
    grid = boss_grid()
    flux = np.zeros((len(labels), len(grid)))
    for i, (label, zi) in enumerate(zip(labels, z, strict=True)):
        t = templates[label]
        rest = t.loglam0 + t.dloglam * np.arange(t.flux.shape[-1])
        if label == "STAR":
            model = t.flux[int(rng.integers(len(t.flux))), 0]
        else:
            model = t.flux[0, 0] + 0.3 * rng.standard_normal(3) @ t.flux[0, 1:]
        flux[i] = np.interp(grid - np.log10(1 + zi), rest, model)
    flux *= 1.0 + 0.1 * np.linspace(-1, 1, len(grid))
    sigma = np.median(np.abs(flux), axis=1, keepdims=True) / snr
    noisy = flux + sigma * rng.standard_normal(flux.shape)
    n = len(labels)
    return SpectrumBatch(
        ids=np.array([f"t{i}" for i in range(n)], dtype=object),
        loglam=grid,
        flux=noisy.astype(np.float32),
        ivar=np.broadcast_to(1.0 / sigma**2, flux.shape).astype(np.float32),
        mask=np.zeros(flux.shape, np.int32),
        labels=np.array(labels, dtype=object),
        redshift=np.array(z),
        snr=np.full(n, snr, np.float32),
    )


def feed_of(batch: SpectrumBatch) -> Feed:
    registry = manager.get_registry(third_party=False)
    renderer = registry.create("renderer", "none", {}, "render")
    pipeline = Pipeline([], renderer, (len(batch.loglam), 1))
    return Feed(ArraySource(batch), np.arange(len(batch)), pipeline, CLASSES, batch_size=8)


LABELS = ["STAR", "GALAXY", "QSO", "GALAXY", "QSO", "STAR"]
ZS = [0.0005, 0.31, 2.1, 0.72, 0.9, -0.001]


def test_conformance_suite_passes() -> None:
    results = check("model", "template_fit", registry=manager.get_registry(third_party=False))
    assert [(r.check, r.message) for r in results if not r.ok] == []


def test_scan_matches_direct_least_squares() -> None:
    rng = np.random.default_rng(1)
    p, t_len, k, m = 120, 200, 2, 3
    flux = rng.normal(1.0, 0.3, (3, p))
    weight = rng.uniform(0.5, 2.0, (3, p))
    weight[:, 10:20] = 0.0
    poly = legendre(m, p)
    templates = rng.normal(size=(1, k, t_len))
    first, count = -30, 20
    for method, nfft in (("fft", fast_len(p + t_len)), ("direct", 0)):
        chi2 = chi2_scan(np, flux, weight, poly, templates, first, count, method, nfft, False)
        for s in (0, 7, 19):
            shift = first + s
            q = np.arange(p) - shift
            basis = np.where((q >= 0) & (q < t_len), templates[0][:, np.clip(q, 0, t_len - 1)], 0)
            design = np.concatenate([basis, poly]).T
            for n in range(3):
                sw = np.sqrt(weight[n])
                coef = np.linalg.lstsq(design * sw[:, None], flux[n] * sw, rcond=None)[0]
                want = float(np.sum(weight[n] * (flux[n] - design @ coef) ** 2))
                assert chi2[n, 0, s] == pytest.approx(want, rel=1e-6, abs=1e-6), method


def test_fast_len() -> None:
    for n in (1, 7, 97, 1000, 18287):
        f = fast_len(n)
        assert f >= n
        r = f
        for prime in (2, 3, 5):
            while r % prime == 0:
                r //= prime
        assert r == 1


def test_recovers_class_and_redshift_of_template_spectra() -> None:
    batch = template_spectra(LABELS, ZS)
    model = TemplateFit(backend="numpy")
    loglam0, step, flux, weight = prepare(batch)
    out = fit_spectra(loglam0, step, flux, weight, model.templates(), model.settings())
    assert [FIT_CLASSES[i] for i in out["chi2"].argmin(1)] == LABELS
    z = out["z"][np.arange(len(LABELS)), [FIT_CLASSES.index(c) for c in LABELS]]
    assert np.abs(z - np.array(ZS)).max() < 2e-4  # one BOSS pixel is 2.3e-4 in z


def test_recovers_synthetic_dataset_spectra() -> None:
    from bench_plugins.synthetic import Synthetic

    source = Synthetic(n=24, seed=2, snr_scale=2.0).open()
    batch = source.read(np.arange(24))
    model = TemplateFit(backend="numpy")
    out = fit_spectra(*prepare(batch), model.templates(), model.settings())
    truth = np.array([FIT_CLASSES.index(c) for c in batch.labels])
    pred = out["chi2"].argmin(1)
    assert (pred == truth).mean() >= 0.75
    right = (pred == truth) & (truth > 0)
    dz = np.abs(out["z"][right, truth[right]] - batch.redshift[right]) / (1 + batch.redshift[right])
    assert np.median(dz) < 2e-3


def test_numpy_and_jax_paths_agree() -> None:
    batch = template_spectra(LABELS, ZS, snr=10.0, seed=3)
    results = {}
    for backend, precision in (("numpy", "float64"), ("jax", "float64"), ("jax", "float32")):
        model = TemplateFit(backend=backend, precision=precision)
        out = fit_spectra(*prepare(batch), model.templates(), model.settings())
        results[backend, precision] = out
    a, b = results["numpy", "float64"], results["jax", "float64"]
    np.testing.assert_allclose(a["chi2"], b["chi2"], rtol=1e-9)
    np.testing.assert_allclose(a["z"], b["z"], rtol=1e-9)
    np.testing.assert_array_equal(a["star"], b["star"])
    c = results["jax", "float32"]  # single precision: same answers, chi2 to ~1e-2 relative
    np.testing.assert_array_equal(a["chi2"].argmin(1), c["chi2"].argmin(1))
    np.testing.assert_allclose(a["chi2"], c["chi2"], rtol=2e-2)
    np.testing.assert_allclose(a["z"], c["z"], atol=3e-4)
    assert c["chi2"].dtype == np.float64  # results always come back as numpy float64


def test_model_api_redshifts_temperature_and_save_load(tmp_path: Path) -> None:
    batch = template_spectra(LABELS, ZS, snr=5.0, seed=4)
    feed = feed_of(batch)
    model = TemplateFit(calibration_size=6)
    model.build((len(batch.loglam), 1), CLASSES, seed=0)
    history = model.fit(feed, feed, epochs=2)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history["accuracy"] == [1.0, 1.0]
    proba = model.predict_proba(feed)
    assert proba.shape == (6, 3) and np.allclose(proba.sum(1), 1.0)
    z = model.redshifts(feed)
    assert z.shape == (6, 3)
    assert np.abs(z[np.arange(6), [CLASSES.index(c) for c in LABELS]] - ZS).max() < 2e-4
    results = model.fit_results(feed)
    assert results["star_template"].shape == (6,)
    model.save(tmp_path / "m")
    again = TemplateFit(calibration_size=6)
    again.load(tmp_path / "m")
    assert again.temperature == model.temperature
    np.testing.assert_allclose(again.predict_proba(feed), proba, atol=1e-12)


class SpectraOnly:
    """The part of a ModelInput a "spectra" model uses (no rendered inputs at all);
    records the ``preprocessed`` flag of every ``spectra`` call."""

    def __init__(self, batch: SpectrumBatch) -> None:
        self.batch = batch
        self.calls: list[bool] = []
        self.classes = CLASSES
        self.y = np.array([CLASSES.index(c) for c in batch.labels], np.int32)
        self.n_samples = len(batch)

    def spectra(self, positions: np.ndarray, preprocessed: bool = False) -> SpectrumBatch:
        self.calls.append(preprocessed)
        return self.batch.take(positions)


@pytest.mark.parametrize("apply_preprocess", [False, True])
def test_reads_the_spectra_through_model_input_spectra(apply_preprocess: bool) -> None:
    """template_fit is a "spectra" model: everything it fits comes from
    ``ModelInput.spectra(positions, preprocessed=apply_preprocess)``, so any ModelInput
    gives the same answers as the core's."""
    assert TemplateFit.input_kind == "spectra"
    batch = template_spectra(LABELS, ZS, snr=8.0, seed=2)
    fake = SpectraOnly(batch)
    answers = []
    for inputs in (fake, feed_of(batch)):
        model = TemplateFit(backend="numpy", calibration_size=6, apply_preprocess=apply_preprocess)
        model.build((len(batch.loglam), 1), CLASSES, seed=0)
        model.fit(inputs, None, epochs=1)
        answers.append((model.predict_proba(inputs), model.redshifts(inputs)))
    assert fake.calls and set(fake.calls) == {apply_preprocess}
    np.testing.assert_array_equal(answers[0][0], answers[1][0])
    np.testing.assert_array_equal(answers[0][1], answers[1][1])


def test_classes_outside_the_templates_get_zero_probability() -> None:
    batch = template_spectra(LABELS[:3], ZS[:3])
    model = TemplateFit()
    model.build((len(batch.loglam), 1), ["QSO", "WHATEVER", "STAR"], seed=0)
    proba = model.predict_proba(feed_of(batch))
    assert np.all(proba[:, 1] == 0) and np.allclose(proba.sum(1), 1.0)


def test_temperature_fit_and_probabilities() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    chi2 = rng.exponential(20.0, (300, 3))
    chi2[np.arange(300), y] -= 15.0  # informative but noisy
    t = fit_temperature(chi2, y)
    assert 1.0 < t < 1e7
    p = probabilities(chi2, t)
    assert np.allclose(p.sum(1), 1.0)
    assert probabilities(chi2, t).argmax(1).tolist() == chi2.argmin(1).tolist()
    # a split the fit gets all right: the likelihood ratio (T = 1), not one-hot certainty
    separable = np.where(np.eye(3)[y] > 0, 0.0, 50.0)
    separable[:, 0] = np.where(y == 0, 0.0, 1.0)  # ... with a gap of 1 for some
    assert fit_temperature(separable, y) == pytest.approx(1.0, abs=1e-3)
    gap_one = probabilities(np.array([[0.0, 1.0, 50.0]]), 1.0)[0]
    assert gap_one[1] == pytest.approx(np.exp(-0.5) / (1 + np.exp(-0.5) + np.exp(-25)))


def test_bad_options_and_template_dir(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="galaxy_z"):
        TemplateFit(galaxy_z=[1.0, 0.5])
    with pytest.raises(BenchError, match="spEigen"):
        TemplateFit(template_dir=str(tmp_path)).build((10, 1), CLASSES, 0)


def test_real_sdss_files(shared_data: Path) -> None:
    from bench_plugins.sdss.dataset import SdssDataset

    source = SdssDataset(path=[str(shared_data / "sdss")]).open()
    batch = source.read(np.arange(len(source)))
    model = TemplateFit(backend="numpy")
    out = fit_spectra(*prepare(batch), model.templates(), model.settings())
    truth = np.array([FIT_CLASSES.index(c) for c in batch.labels])
    pred = out["chi2"].argmin(1)
    assert (pred == truth).mean() >= 0.85
    right = pred == truth
    dz = np.abs(out["z"][right, truth[right]] - batch.redshift[right]) / (1 + batch.redshift[right])
    assert np.median(dz) < 1e-3 and (dz > 0.01).mean() < 0.1


def run_template_fit(tmp_path: Path, n: int, calibration_size: int) -> Path:
    """`bench run` of template_fit on ``n`` synthetic spectra; its one cell folder."""
    from bench.cli import main

    config = tmp_path / "bench.toml"
    config.write_text(
        f'[dataset]\nname = "synthetic"\nn = {n}\n'
        f'[[models]]\nname = "template_fit"\ncalibration_size = {calibration_size}\n'
        "[protocol]\ntrain_fractions = [0.7]\nepochs = [1]\nvalidation_fraction = 0.0\n"
    )
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    (cell,) = (tmp_path / "run" / "cells").iterdir()
    return cell


def test_a_run_writes_each_class_redshift_beside_the_predictions(tmp_path):
    """`bench run` with template_fit: predictions.csv carries z_<CLASS> per object, and the
    predicted class's redshift is close to the generator's for most objects."""
    import csv

    cell = run_template_fit(tmp_path, n=60, calibration_size=12)
    with open(cell / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"z_STAR", "z_GALAXY", "z_QSO", "redshift"} <= set(rows[0])
    assert {"subclass", "delta_chi2"} <= set(rows[0])
    for r in rows:  # the best stellar template names stars only; the gap is never negative
        assert bool(r["subclass"]) == (r["predicted"] == "STAR")
        assert float(r["delta_chi2"]) >= 0
    assert any(r["subclass"] for r in rows)
    close = [
        abs(float(r[f"z_{r['predicted']}"]) - float(r["redshift"])) / (1 + float(r["redshift"]))
        < 0.01
        for r in rows
        if r["predicted"] == r["true"]
    ]
    assert close and sum(close) >= 0.8 * len(close)


def seyfert_spectra(z: list[float], host_fraction: float, snr: float = 30.0) -> SpectrumBatch:
    """Low-z broad-line AGN: the mean quasar eigen-spectrum plus a galaxy's (the first
    spEigenGal component), the host giving ``host_fraction`` of the median flux."""
    templates = load_templates()
    grid = boss_grid()
    parts = []
    for label in ("QSO", "GALAXY"):
        t = templates[label]
        rest = t.loglam0 + t.dloglam * np.arange(t.flux.shape[-1])
        parts.append(np.stack([np.interp(grid - np.log10(1 + zi), rest, t.flux[0, 0]) for zi in z]))
    qso, gal = (p / np.median(np.abs(p), axis=1, keepdims=True) for p in parts)
    batch = template_spectra(["GALAXY"] * len(z), z, snr=snr)
    flux = (1 - host_fraction) * qso + host_fraction * gal
    sigma = 1.0 / snr
    noisy = flux + sigma * np.random.default_rng(5).standard_normal(flux.shape)
    return SpectrumBatch(
        ids=batch.ids, loglam=grid, flux=noisy.astype(np.float32),
        ivar=np.full(flux.shape, 1 / sigma**2, np.float32), mask=batch.mask,
        labels=np.array(["QSO"] * len(z), dtype=object), redshift=np.array(z), snr=batch.snr,
    )  # fmt: skip


def test_host_dominated_quasars_need_the_quasar_plus_host_fit() -> None:
    z = [0.02, 0.06, 0.12, 0.25]
    batch = seyfert_spectra(z, host_fraction=0.85)
    fits = {}
    for host_z in (0.0, 0.3):
        model = TemplateFit(backend="numpy", qso_host_z=host_z)
        fits[host_z] = fit_spectra(*prepare(batch), model.templates(), model.settings())
    # the quasar eigen-spectra alone cannot fit the starlight: the galaxy fit wins
    assert (fits[0.0]["chi2"].argmin(1) != 2).all()
    with_host = fits[0.3]
    assert (with_host["chi2"].argmin(1) == 2).all()
    assert np.abs(with_host["z"][:, 2] - np.array(z)).max() < 2e-4
    assert (with_host["chi2"][:, 2] < fits[0.0]["chi2"][:, 2]).all()
    # the quasar + host fit spends 4 + 4 eigen-spectra and 3 polynomials, the quasar 4 + 3
    assert (with_host["n_params"][:, 2] == 11).all() and (fits[0.0]["n_params"][:, 2] == 7).all()


def test_the_host_fit_leaves_galaxies_and_high_z_quasars_alone() -> None:
    labels, z = ["GALAXY", "GALAXY", "QSO", "STAR"], [0.05, 0.2, 2.3, 0.0]
    batch = template_spectra(labels, z, snr=20.0, seed=7)
    default = TemplateFit(backend="numpy")  # with emission lines and the broad-line test
    fit = fit_spectra(*prepare(batch), default.templates(), default.settings())
    assert [FIT_CLASSES[i] for i in fit["chi2"].argmin(1)] == labels
    lines_off = {"emission_lines": False, "broad_line_sigma": 0.0}  # the host fit alone
    out = {}
    for host_z in (0.0, 0.3):
        model = TemplateFit(backend="numpy", qso_host_z=host_z, **lines_off)
        out[host_z] = fit_spectra(*prepare(batch), model.templates(), model.settings())
    assert [FIT_CLASSES[i] for i in out[0.3]["chi2"].argmin(1)] == labels
    np.testing.assert_array_equal(out[0.3]["chi2"][2:], out[0.0]["chi2"][2:])  # unchanged rows
    # the margin is what keeps them galaxies: without it the freer fit comes closer
    model = TemplateFit(backend="numpy", host_margin=0.0, **lines_off)
    free = fit_spectra(*prepare(batch), model.templates(), model.settings())
    assert (free["chi2"][:2, 2] < out[0.3]["chi2"][:2, 2]).all()


def test_star_n_poly_frees_the_stellar_continuum_only() -> None:
    """Stars whose continuum carries a smooth cubic/quartic error (a calibration mismatch
    across the two arms): ``star_n_poly`` terms absorb it; the galaxy and quasar fits
    do not change."""
    labels, z = ["STAR", "STAR", "GALAXY", "QSO"], [0.0, 0.001, 0.4, 1.8]
    batch = template_spectra(labels, z, snr=15.0, seed=3)
    x = np.linspace(-1, 1, len(batch.loglam))
    wobble = np.polynomial.legendre.legval(x, [0, 0, 0, 0.4, -0.3])
    flux = batch.flux.astype(np.float64)
    flux[:2] += wobble * np.median(np.abs(flux[:2]), axis=1, keepdims=True)
    batch = dataclasses.replace(batch, flux=flux.astype(np.float32))
    out = {}
    for n in (3, 5):
        model = TemplateFit(backend="numpy", star_n_poly=n)
        out[n] = fit_spectra(*prepare(batch), model.templates(), model.settings())
    np.testing.assert_array_equal(out[3]["chi2"][:, 1:], out[5]["chi2"][:, 1:])
    n_pix = len(batch.loglam)
    assert (out[3]["chi2"][:2, 0] > 1.5 * n_pix).all()  # the wobble is left in the residuals
    assert (out[5]["chi2"][:2, 0] < 1.2 * n_pix).all()  # ... and absorbed: noise only
    assert [FIT_CLASSES[i] for i in out[5]["chi2"].argmin(1)] == labels
    assert (out[3]["n_params"][:, 0] == 4).all() and (out[5]["n_params"][:, 0] == 6).all()


def test_bench_predict_writes_redshifts_subclass_and_delta_chi2(tmp_path):
    """`bench predict` with a template_fit cell: each file's class, its redshift per class,
    the best stellar template of stars and the chi-square gap, as a run writes them."""
    import csv

    from bench.cli import main
    from tests.fixtures.sdss_files import write_spec_lite

    cell = run_template_fit(tmp_path, n=30, calibration_size=8)
    labels, z = ["STAR", "GALAXY", "QSO"], [0.0003, 0.45, 2.2]
    batch = template_spectra(labels, z, snr=20.0, seed=4)
    for k, label in enumerate(labels):
        write_spec_lite(
            tmp_path / "files" / f"spec-1000-55000-000{k + 1}.fits", label=label, fiber=k + 1,
            redshift=z[k], loglam=batch.loglam, flux=batch.flux[k], ivar=batch.ivar[k],
        )  # fmt: skip
    out = tmp_path / "p.csv"
    assert main(["predict", str(cell), str(tmp_path / "files"), "--out", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["predicted"] for r in rows] == labels
    assert {"z_STAR", "z_GALAXY", "z_QSO", "z_err", "subclass", "delta_chi2"} <= set(rows[0])
    for r, zi in zip(rows, z, strict=True):
        assert abs(float(r[f"z_{r['predicted']}"]) - zi) < 1e-3
        assert 0 < float(r["z_err"]) < 1e-3
        assert float(r["delta_chi2"]) > 0
    assert rows[0]["subclass"] and not rows[1]["subclass"] and not rows[2]["subclass"]


def test_redshift_errors_match_the_scatter_of_the_fits() -> None:
    """z_err (chi-square + 1 from the parabola at the minimum) is the size of the actual
    redshift errors on spectra the templates describe exactly: pulls ~ N(0, 1), whose
    median absolute value is 0.67."""
    rng = np.random.default_rng(0)
    z = list(rng.uniform(0.1, 0.7, 40))
    batch = template_spectra(["GALAXY"] * 40, z, snr=5.0, seed=3)
    model = TemplateFit(backend="numpy")
    out = fit_spectra(*prepare(batch), model.templates(), model.settings())
    assert (out["chi2"].argmin(1) == 1).all()
    err = out["z_err"][:, 1]
    assert np.isfinite(err).all() and (err > 0).all()
    pull = np.abs(out["z"][:, 1] - np.array(z)) / err
    assert 0.4 < np.median(pull) < 1.1


# -- emission lines and the warning flag (issue 25) -----------------------------------------


def line_galaxy_spectra(
    z: list[float], line_sigma_kms: float, snr: float = 30.0, seed: int = 9
) -> SpectrumBatch:
    """The mean BOSS galaxy plus strong emission lines of width ``line_sigma_kms``:
    a star-forming galaxy's narrow lines (H-alpha EW ~ 80 A, log [O III]/H-beta 0.3,
    log [N II]/H-alpha -0.5: the Kauffmann star-forming branch) at 100 km/s; a broad-line
    AGN's Balmer lines at 2,500 km/s with the narrow ones on top."""
    from bench_plugins.models.template_fit.emission import NARROW_LINES, line_basis

    batch = template_spectra(["GALAXY"] * len(z), z, snr=1e6, seed=seed)
    loglam = batch.loglam.astype(np.float64)
    # peak heights relative to the continuum, in NARROW_LINES order
    narrow = np.array([1.0, 1.3, 0.2, 0.3, 0.6, 1.5, 3.0, 0.15, 5.0, 1.6, 0.6, 0.45])
    flux = batch.flux.astype(np.float64)
    rng = np.random.default_rng(seed)
    for i, zi in enumerate(z):
        cont = np.median(np.abs(flux[i]))
        lines = narrow @ line_basis(loglam, zi, NARROW_LINES, (100.0,))
        if line_sigma_kms > 200:
            broad = (((6564.61,), (1.0,)), ((4862.68,), (1.0,)), ((4341.68,), (1.0,)))
            lines += np.array([2.0, 0.7, 0.3]) @ line_basis(loglam, zi, broad, (line_sigma_kms,))
        flux[i] += cont * lines
    sigma = np.median(np.abs(flux), axis=1, keepdims=True) / snr
    noisy = flux + sigma * rng.standard_normal(flux.shape)
    return dataclasses.replace(
        batch, flux=noisy.astype(np.float32),
        ivar=np.broadcast_to(1.0 / sigma**2, flux.shape).astype(np.float32),
    )  # fmt: skip


def test_broad_line_gain_tells_a_seyfert_1_from_a_starburst() -> None:
    from bench_plugins.models.template_fit.emission import line_fits

    z = [0.05, 0.12]
    model = TemplateFit(backend="numpy")
    galaxy = model.templates()["GALAXY"]
    for width, broad_expected in ((100.0, False), (2500.0, True)):
        loglam0, step, flux, weight = prepare(line_galaxy_spectra(z, width))
        loglam = loglam0 + step * np.arange(flux.shape[1])
        poly = legendre(3, flux.shape[1])
        for i, zi in enumerate(z):
            bare, narrow, broad, _ = line_fits(
                loglam, flux[i], weight[i], galaxy.on_step(step), poly, zi, True, True
            )
            assert broad <= narrow < bare - 100  # the narrow lines are there in both
            reduced = max(1.0, narrow / (weight[i] > 0).sum())
            assert ((narrow - broad) / reduced >= 100.0) == broad_expected, (width, zi)


def test_emission_line_galaxies_fit_as_galaxies_and_broad_line_agn_as_quasars() -> None:
    z = [0.03, 0.08, 0.15, 0.25]
    starbursts = line_galaxy_spectra(z, 100.0)
    seyferts = line_galaxy_spectra(z, 2500.0)
    model = TemplateFit(backend="numpy")
    for batch, label in ((starbursts, "GALAXY"), (seyferts, "QSO")):
        out = fit_spectra(*prepare(batch), model.templates(), model.settings())
        assert [FIT_CLASSES[i] for i in out["chi2"].argmin(1)] == [label] * len(z)
        k = FIT_CLASSES.index(label)
        assert np.abs(out["z"][:, k] - np.array(z)).max() < 2e-4
    # the narrow lines are what makes the starbursts galaxies: without them (and without
    # the broad-line test) the galaxy fit is worse than with them, on every spectrum
    off = TemplateFit(backend="numpy", emission_lines=False, broad_line_sigma=0.0)
    bare = fit_spectra(*prepare(starbursts), off.templates(), off.settings())
    lines = fit_spectra(*prepare(starbursts), model.templates(), model.settings())
    assert (lines["chi2"][:, 1] < bare["chi2"][:, 1]).all()
    # each active line is a free parameter of the galaxy fit; a fit without lines has 4 + 3
    assert (lines["n_params"][:, 1] > 7).all() and (bare["n_params"][:, 1] == 7).all()
    assert (lines["n_params"][:, 1] <= 7 + 24).all()  # 12 lines (doublets tied) x 2 widths
    assert (bare["chi2"].argmin(1) == 2).any()  # issue 25: the quasar + host fit took them


def test_zwarning_bits() -> None:
    from bench_plugins.models.template_fit.zwarning import (
        LITTLE_COVERAGE,
        NODATA,
        SMALL_DELTA_CHI2,
        Z_FITLIMIT,
        zwarning,
    )

    chi2 = np.array([[4600.0, 4700.0, 5000.0], [4600.0, 4630.0, 5000.0], [9.0, 9.0, 9.0],
                     [700.0, 900.0, 800.0], [0.0, 0.0, 0.0]])  # fmt: skip
    z_err = np.array([1e-4, 1e-4, np.nan, 1e-4, np.nan])
    n_good = np.array([4600, 4600, 4600, 700, 0])
    coverage = n_good * 1e-4
    flags = zwarning(chi2, z_err, n_good, coverage)
    assert flags[0] == 0  # a gap of 100 > 0.01 x 4600 = 46
    assert flags[1] == SMALL_DELTA_CHI2  # 30 < 46
    assert flags[2] == SMALL_DELTA_CHI2 | Z_FITLIMIT
    assert flags[3] == LITTLE_COVERAGE  # 700 pixels span 0.07 < 0.18
    assert flags[4] == NODATA
    assert zwarning_names(int(flags[2])) == ["SMALL_DELTA_CHI2", "Z_FITLIMIT"]


def test_an_ambiguous_spectrum_is_flagged_and_a_clean_one_is_not() -> None:
    """The same K star at S/N 30 (clean) and at S/N 0.3 (noise hides what it is: every
    class fits about as well), and an empty spectrum, through ``object_facts``."""
    clean = template_spectra(["STAR", "GALAXY"], [0.0002, 0.3], snr=30.0, seed=6)
    faint = template_spectra(["STAR", "GALAXY"], [0.0002, 0.3], snr=0.3, seed=6)
    flux = np.concatenate([clean.flux, faint.flux, clean.flux[:1]])
    ivar = np.concatenate([clean.ivar, faint.ivar, 0 * clean.ivar[:1]])
    batch = SpectrumBatch(
        ids=np.array([f"s{i}" for i in range(5)], dtype=object), loglam=clean.loglam,
        flux=flux, ivar=ivar, mask=np.zeros(flux.shape, np.int32),
        labels=np.array(["STAR", "GALAXY"] * 2 + ["STAR"], dtype=object),
        redshift=np.array([0.0002, 0.3] * 2 + [0.0]), snr=np.ones(5, np.float32),
    )  # fmt: skip
    model = TemplateFit(backend="numpy")
    model.build((len(batch.loglam), 1), CLASSES, 0)
    facts = model.object_facts(feed_of(batch))
    flags = facts["zwarning"]
    assert list(flags[:2]) == [0, 0]
    assert (flags[2:4] & 4).all()  # SMALL_DELTA_CHI2
    assert (facts["delta_chi2"][2:4] < 0.01 * len(batch.loglam)).all()
    assert flags[4] == 512  # NODATA


def test_a_line_off_the_grid_is_no_column_and_never_a_singular_solve():
    """A line whose centre lies past the grid's end is a row of exact zeros, and a column
    whose weight is a rounding error beside the others' (a far tail on one pixel) is left
    out of the bounded solve: a bright F star of the sim-to-real preset raised
    LinAlgError: Singular matrix before."""
    from bench_plugins.models.template_fit.emission import (
        NARROW_LINES,
        bounded_chi2,
        line_basis,
    )

    loglam = boss_grid()
    far = line_basis(loglam, 0.7, NARROW_LINES, (100.0,))  # H-alpha at 11,160 A: off the grid
    assert (far[-3:] == 0.0).all() and far.any()
    rng = np.random.default_rng(0)
    basis = np.vstack([rng.normal(size=(3, 200)), np.full((2, 200), 1e-22)])
    weight = np.full(200, 50.0)
    truth = np.array([2.0, -1.0, 0.5, 0.0, 0.0])
    flux = truth @ basis + rng.normal(scale=weight**-0.5)
    mat, y = (basis * weight) @ basis.T, (basis * weight) @ flux
    lower = np.array([-np.inf, -np.inf, -np.inf, 0.0, 0.0])
    chi2, coef = bounded_chi2(mat, y, float(weight @ flux**2), lower)
    assert np.isfinite(chi2) and (coef[3:] == 0.0).all()
    assert coef[:3] == pytest.approx(truth[:3], abs=0.05)
