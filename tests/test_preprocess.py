"""Preprocessors: no NaN/inf ever leaves them, and each does its job on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import BenchError
from bench.plugins.manager import get_registry
from bench.spectra import SpectrumBatch, boss_grid, empty_batch
from bench_plugins.preprocess import Clip, Mask, MovingAverage, Normalize, Resample

LINES = (3727.0, 4861.0, 5007.0, 6563.0)


def spectra(n: int = 12, n_pixels: int = 1200, seed: int = 0, noise: float = 0.3) -> SpectrumBatch:
    """Power-law continuum + Gaussian emission lines + Gaussian noise, uniform ivar."""
    rng = np.random.default_rng(seed)
    batch = empty_batch(boss_grid()[::3][:n_pixels], n)
    wave = batch.wavelength
    flux = rng.uniform(2, 8, (n, 1)) * (wave / 5000.0) ** rng.uniform(-2, 1, (n, 1))
    for centre in LINES:
        flux = flux + rng.uniform(0, 10, (n, 1)) * np.exp(-0.5 * ((wave - centre) / 6.0) ** 2)
    batch.flux[:] = flux + rng.normal(0, noise, flux.shape)
    batch.ivar[:] = 1 / noise**2
    batch.ids[:] = np.arange(n)
    batch.labels[:] = np.array(["STAR", "GALAXY", "QSO"])[np.arange(n) % 3]
    return batch


def damaged(seed: int = 1) -> SpectrumBatch:
    """Spectra with NaN and inf flux, zero, negative and NaN ivar, flagged pixels, a fully
    masked region and a fully masked spectrum."""
    batch = spectra(seed=seed)
    batch.flux[0, 10:40] = np.nan
    batch.flux[1, 100] = np.inf
    batch.flux[1, 101] = -np.inf
    batch.ivar[2, :] = 0
    batch.ivar[3, 300:700] = 0
    batch.ivar[4, 50:60] = -1
    batch.ivar[5, 70] = np.nan
    batch.ivar[6, 0:200] = np.inf
    batch.mask[7, 500:520] = 1 << 23
    batch.flux[8, :] = np.nan
    batch.ivar[9, :600] = 0
    batch.flux[9, 600:] = np.nan
    return batch


def all_steps() -> list:
    registry = get_registry(third_party=False)
    names = sorted(registry.classes["preprocessor"])
    steps = [registry.create("preprocessor", name, {}, name) for name in names]
    return steps + [
        MovingAverage(weighted=True),
        MovingAverage(window=1),
        Normalize(method="ivar_mean_std"),
        Resample(n_pixels=333),
        Mask(fill="zero", bits=[23]),
    ]


def test_registered_names() -> None:
    names = set(get_registry(third_party=False).classes["preprocessor"])
    assert {"mask", "clip", "moving_average", "resample", "normalize"} <= names


@pytest.mark.parametrize("step", all_steps(), ids=lambda s: f"{s.name}-{s.params}")
def test_no_nan_or_inf_leaves_a_preprocessor(step) -> None:
    batch = damaged()
    out = step(batch)
    assert len(out) == len(batch)
    assert list(out.ids) == list(batch.ids) and list(out.labels) == list(batch.labels)
    assert np.isfinite(out.flux).all() and np.isfinite(out.ivar).all()
    assert (out.ivar >= 0).all()
    assert out.flux.dtype == np.float32 and out.ivar.dtype == np.float32
    assert not (out.ivar[8] > 0).any(), "a spectrum with no finite flux has no good pixel"
    if step.name != "resample":
        assert not (out.ivar[0, 10:40] > 0).any(), "NaN flux must end with ivar 0"
        assert not (out.ivar[3, 300:700] > 0).any(), "masked pixels must stay masked"


def test_whole_chain_then_render_is_finite() -> None:
    from bench_plugins.render import Line

    batch = damaged()
    for step in (Mask(), Clip(), MovingAverage(weighted=True), Resample(factor=2), Normalize()):
        batch = step(batch)
    image = Line().render(batch, (28, 28, 1))
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1


def test_mask_bits_and_fill() -> None:
    batch = spectra()
    batch.mask[0, 100:110] = 1 << 23
    batch.mask[0, 200:210] = 1 << 2
    only_23 = Mask(bits=[23])(batch)
    assert (only_23.ivar[0, 100:110] == 0).all() and (only_23.ivar[0, 200:210] > 0).all()
    default = Mask()(batch)  # BRIGHTSKY (23) is a default bit, BADFLAT (2) is not
    assert (default.ivar[0, 100:110] == 0).all() and (default.ivar[0, 200:210] > 0).all()
    assert (Mask(bits=[])(batch).ivar[0, 100:110] > 0).all()
    any_bit = Mask(any_bit=True)(batch)
    assert (any_bit.ivar[0, 100:110] == 0).all() and (any_bit.ivar[0, 200:210] == 0).all()
    assert (Mask(bits=[23], fill="zero")(batch).flux[0, 100:110] == 0).all()
    # interpolated flux lies between the good neighbours
    lo, hi = sorted((batch.flux[0, 99], batch.flux[0, 110]))
    assert ((any_bit.flux[0, 100:110] >= lo - 1e-5) & (any_bit.flux[0, 100:110] <= hi + 1e-5)).all()


def test_moving_average_keeps_a_constant_and_ignores_masked_pixels() -> None:
    batch = spectra(n=3)
    batch.flux[:] = 7.0
    batch.flux[1, 50:55] = 1e6  # masked garbage must not be smeared in
    batch.ivar[1, 50:55] = 0
    batch.ivar[2, ::2] = 100.0  # unequal weights on a constant stay a constant
    for weighted in (False, True):
        out = MovingAverage(window=9, weighted=weighted)(batch)
        np.testing.assert_allclose(out.flux, 7.0, rtol=1e-6)
        assert (out.ivar[1, 50:55] == 0).all()


def test_moving_average_matches_a_direct_average() -> None:
    batch = spectra(n=2)
    out = MovingAverage(window=5)(batch)
    direct = np.convolve(batch.flux[0].astype(np.float64), np.ones(5) / 5, mode="valid")
    np.testing.assert_allclose(out.flux[0, 2:-2], direct, rtol=1e-5)
    # five equal variances averaged: the ivar of the mean is 5 times larger
    np.testing.assert_allclose(out.ivar[0, 2:-2], 5 * batch.ivar[0, 2:-2], rtol=1e-5)


def test_weighted_moving_average_uses_ivar() -> None:
    batch = spectra(n=1, n_pixels=20)
    batch.flux[0] = [1.0, 4.0, 1.0] * 6 + [1.0, 4.0]
    batch.ivar[0] = [1.0, 2.0, 1.0] * 6 + [1.0, 2.0]
    out = MovingAverage(window=3, weighted=True)(batch)
    assert out.flux[0, 1] == pytest.approx((1 * 1 + 4 * 2 + 1 * 1) / 4)
    assert out.ivar[0, 1] == pytest.approx(4.0)


def integral(batch: SpectrumBatch) -> np.ndarray:
    """Sum of flux x pixel width in Angstrom, per spectrum."""
    edges = 10.0 ** np.concatenate(
        [
            [1.5 * batch.loglam[0] - 0.5 * batch.loglam[1]],
            0.5 * (batch.loglam[1:] + batch.loglam[:-1]),
            [1.5 * batch.loglam[-1] - 0.5 * batch.loglam[-2]],
        ]
    )
    return (batch.flux.astype(np.float64) * np.diff(edges)).sum(axis=1)


@pytest.mark.parametrize("params", [{"factor": 4}, {"n_pixels": 377}, {"factor": 7}])
def test_resample_conserves_flux(params: dict) -> None:
    batch = spectra(n_pixels=1204)
    out = Resample(**params)(batch)
    kept = batch if "n_pixels" in params else batch.take(np.arange(len(batch)))
    if "factor" in params:
        used = len(out.loglam) * params["factor"]
        kept = kept.with_arrays(
            loglam=batch.loglam[:used],
            flux=batch.flux[:, :used],
            ivar=batch.ivar[:, :used],
            mask=batch.mask[:, :used],
        )
    np.testing.assert_allclose(integral(out), integral(kept), rtol=1e-5)
    assert np.allclose(np.diff(out.loglam), np.diff(out.loglam)[0])


def test_resample_propagates_ivar_and_drops_bad_pixels() -> None:
    batch = spectra(n=2, n_pixels=400)
    batch.flux[1, 40:44] = 1e6
    batch.ivar[1, 40:44] = 0
    out = Resample(factor=4)(batch)
    # four independent pixels of (nearly) equal width: ivar of the mean is ~4x
    np.testing.assert_allclose(out.ivar[0], 4 * batch.ivar[0, 0], rtol=2e-3)
    assert out.ivar[1, 10] == 0 and abs(out.flux[1, 10]) < 100


def test_normalize_median_and_ivar_mean_std() -> None:
    batch = damaged()
    good_in = np.isfinite(batch.flux) & (batch.ivar > 0) & np.isfinite(batch.ivar)
    out = Normalize()(batch)
    for row in (0, 3, 5, 7):
        good = out.ivar[row] > 0
        assert np.median(out.flux[row, good]) == pytest.approx(1.0, rel=1e-5)
    out = Normalize(method="ivar_mean_std")(batch)
    for row in (0, 1, 3, 4):
        w = out.ivar[row].astype(np.float64)
        mean = (w * out.flux[row]).sum() / w.sum()
        std = np.sqrt((w * (out.flux[row] - mean) ** 2).sum() / w.sum())
        assert mean == pytest.approx(0.0, abs=1e-5) and std == pytest.approx(1.0, rel=1e-4)
        assert (out.ivar[row] > 0).sum() == good_in[row].sum()


def test_normalize_ends_level_fills_beyond_the_coverage_only() -> None:
    batch = spectra(n=2, n_pixels=400)
    batch.ivar[0, :100] = 0  # a file starting late
    batch.ivar[0, 300:] = 0  # and ending early
    batch.ivar[0, 200:210] = 0  # a gap inside the coverage
    batch.ivar[1, :] = 0  # no good pixel
    nearest = Normalize()(batch)
    out = Normalize(ends="level")(batch)
    np.testing.assert_array_equal(out.flux[0, :100], 1.0)
    np.testing.assert_array_equal(out.flux[0, 300:], 1.0)
    assert nearest.flux[0, 0] == nearest.flux[0, 100] != 1.0
    np.testing.assert_array_equal(out.flux[0, 100:300], nearest.flux[0, 100:300])
    np.testing.assert_array_equal(out.ivar, nearest.ivar)
    assert (out.flux[1] == 1.0).all()
    centred = Normalize(method="ivar_mean_std", ends="level")(batch)
    np.testing.assert_array_equal(centred.flux[0, :100], 0.0)


def test_normalize_ends_level_on_the_device_matches_numpy() -> None:
    pytest.importorskip("jax")
    batch = spectra(n=2, n_pixels=400)
    batch.ivar[0, :100] = 0
    batch.ivar[1, 350:] = 0
    step = Normalize(ends="level")
    flux, ivar = step.device_function(batch.loglam)(batch.flux, batch.ivar)
    out = step(batch)
    np.testing.assert_allclose(np.asarray(flux), out.flux, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ivar), out.ivar, rtol=1e-5)


def test_clip_removes_a_cosmic_ray_but_keeps_resolved_lines() -> None:
    batch = spectra(n=3)
    wave = batch.wavelength
    near_line = np.abs(wave - 6563.0) < 12  # within 2 sigma of a resolved line
    batch.flux[:, 500] += 200.0
    out = Clip()(batch)
    assert (out.ivar[:, 500] == 0).all()
    assert (np.abs(out.flux[:, 500] - batch.flux[:, 499]) < 5).all()
    assert (out.ivar[:, near_line] > 0).all()
    assert (out.ivar == 0).sum() < 3 * 3, "only the spike (and at most a few noise pixels)"


@pytest.mark.parametrize(
    ("cls", "params", "key"),
    [
        (MovingAverage, {"window": 0}, "moving_average.window"),
        (Clip, {"window": 4}, "clip.window"),
        (Mask, {"bits": [40]}, "mask.bits"),
        (Resample, {"loglam_min": 3.7, "loglam_max": 3.6}, "resample.loglam_max"),
        (Normalize, {"method": "mean"}, "normalize.method"),
        (MovingAverage, {"windw": 3}, "windw"),
    ],
)
def test_bad_options_are_one_line_errors(cls, params: dict, key: str) -> None:
    with pytest.raises(BenchError) as info:
        cls(**params)
    assert key in str(info.value) and "\n" not in str(info.value)
