"""The synthetic instrument: coadd-correlated noise, sky-subtraction residuals, the
flat-field error the variance leaves out, blue errors, and the red end's missing pixels."""

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


def test_sky_line_pixels_scatter_somewhat_more_than_their_errors_promise():
    """A faint flat spectrum: at the bright [O I] 5577 sky line the sky model's residual,
    which the errors leave out, makes the pixels scatter more than elsewhere in the red,
    as in real BOSS spectra (about 1.5x), not several times more."""
    from bench.spectra import boss_grid

    loglam = np.asarray(boss_grid(), np.float64)
    rng = np.random.default_rng(2)
    b, p = 400, len(loglam)
    model = np.full((b, p), 0.5, np.float32)
    u, n = rng.random((b, 16)), rng.standard_normal((b, 16))
    out, sigma, _ = observe.observe(model, loglam, u, n, 1.0)
    flux = out + sigma * rng.standard_normal((b, p)).astype(np.float32)
    chi2 = (flux - model) ** 2 / sigma**2
    lam = 10**loglam
    near = np.abs(lam - 5578.9) < 2
    red = (lam > 6400) & (lam < 6800)
    assert 1.1 < np.mean(chi2[:, near]) / np.mean(chi2[:, red]) < 2.5


def test_bright_spectra_scatter_more_than_promised_faint_ones_less():
    faint, bright = _source(snr_scale=0.3), _source(snr_scale=20.0)
    ratios = []
    for source in (faint, bright):
        index = np.arange(len(source.ids))
        batch, clean = source.read(index), source.model(index)
        good = batch.ivar > 0
        ratios.append(np.nanmean(np.where(good, (batch.flux - clean) ** 2 * batch.ivar, np.nan)))
    assert ratios[0] < 1.0 < ratios[1]


def test_blue_errors_exceed_red_ones_as_in_boss():
    source = _source(snr_scale=1.0)
    batch = source.read(np.arange(len(source.ids)))
    lam = 10 ** np.asarray(batch.loglam)
    sigma = np.where(batch.ivar > 0, 1 / np.sqrt(np.maximum(batch.ivar, 1e-30)), np.nan)
    blue = np.nanmedian(sigma[:, (lam > 3800) & (lam < 4200)], axis=1)
    red = np.nanmedian(sigma[:, (lam > 7000) & (lam < 8000)], axis=1)
    assert np.median(np.log10(red / blue)) < -0.2


def test_every_spectrum_misses_the_grids_red_end():
    batch = _source().read(np.arange(300))
    last = np.array([np.flatnonzero(row > 0)[-1] for row in batch.ivar])
    from_end = len(batch.loglam) - 1 - last
    assert from_end.min() >= 18 and from_end.max() <= 40
