"""Training-time augmentation (issue #18): each transform does what its option says, an
augmented feed is a pure function of (seed, epoch, positions) on the host and device paths,
validation spectra are never augmented, ``augment = false`` trains exactly as before, and
the options are bounded. Tiny sizes."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli import main
from bench.feed import Feed, Pipeline, Prefetcher
from bench.results.report import load_report
from bench.spectra import ArraySource, SpectrumBatch, boss_grid, empty_batch
from bench_plugins.models import augment as augment_module
from bench_plugins.models.augment import NODATA, AugmentSettings, augment_batch, augmented
from bench_plugins.models.keras.cnn1d import CNN1D
from bench_plugins.preprocess import Mask, MovingAverage
from bench_plugins.render import Line
from tests.test_models import CLASSES, TinyRenderer

OFF = AugmentSettings(scale=0, tilt=0, noise=0, mask=0, trim=0)


def flat(n: int, grid: np.ndarray | None = None, flux: float = 10.0) -> SpectrumBatch:
    """``n`` flat spectra (S/N 10 per pixel) on the BOSS grid, ids ``s<i>``."""
    batch = empty_batch(boss_grid() if grid is None else grid, n)
    batch.flux[:], batch.ivar[:], batch.snr[:] = flux, 1.0, flux
    batch.ids[:] = [f"s{i}" for i in range(n)]
    batch.labels[:] = [CLASSES[i % 3] for i in range(n)]
    return batch


def only(**kw: float) -> AugmentSettings:
    return AugmentSettings(**{**OFF.__dict__, **kw})


def runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in ``row``."""
    edges = np.diff(np.concatenate([[0], row.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def test_all_off_changes_nothing_and_leaves_the_input_alone() -> None:
    batch = flat(4)
    before = batch.flux.copy()
    out = augment_batch(batch, np.random.default_rng(0), OFF)
    np.testing.assert_array_equal(out.flux, batch.flux)
    np.testing.assert_array_equal(out.ivar, batch.ivar)
    out = augment_batch(batch, np.random.default_rng(0), AugmentSettings(mask=1, trim=1))
    np.testing.assert_array_equal(batch.flux, before)  # a new batch; the input is untouched
    assert out.flux.dtype == np.float32 and out.mask.dtype == np.int32
    assert list(out.ids) == list(batch.ids) and list(out.labels) == list(batch.labels)


def test_scale_is_log_normal_in_dex_and_keeps_the_snr() -> None:
    batch = flat(2000, grid=boss_grid()[:50])
    out = augment_batch(batch, np.random.default_rng(1), only(scale=0.3))
    dex = np.log10(out.flux / batch.flux)
    assert np.ptp(dex, axis=1).max() < 1e-5  # one factor per spectrum
    assert abs(dex[:, 0].std() - 0.3) < 0.02 and abs(dex[:, 0].mean()) < 0.03
    np.testing.assert_allclose(out.flux * np.sqrt(out.ivar), batch.flux, rtol=1e-4)


def test_tilt_changes_the_blue_red_ratio_not_the_middle_much() -> None:
    batch = flat(400)
    out = augment_batch(batch, np.random.default_rng(2), only(tilt=0.1))
    dex = np.log10(out.flux / batch.flux)
    assert np.abs(dex).max() <= 0.1 + 1e-5  # never more than the amplitude
    ends = np.abs(dex[:, -1] - dex[:, 0])
    assert np.median(ends) > 0.03 and (ends > 0.01).mean() > 0.7  # blue/red ratio moves
    middle = np.abs(dex[:, dex.shape[1] // 2])
    assert middle.max() <= 0.05 + 1e-5 and np.median(middle) < np.median(ends) / 2
    curved = np.abs(dex[:, 0] + dex[:, -1] - 2 * dex[:, dex.shape[1] // 2])
    assert 0.2 < (curved > 1e-3).mean() < 0.8  # degree 2 for some, 1 for the others
    np.testing.assert_allclose(out.flux * np.sqrt(out.ivar), batch.flux, rtol=1e-4)


def test_noise_adds_the_stated_noise_and_lowers_the_snr() -> None:
    batch = flat(200)
    batch.ivar[:, :100] = 0.0  # no measurement: untouched
    out = augment_batch(batch, np.random.default_rng(3), only(noise=1.0))
    snr_before = np.median((batch.flux * np.sqrt(batch.ivar))[:, 100:])
    snr_after = np.median(out.flux * np.sqrt(out.ivar), axis=1)
    assert (snr_after < snr_before).mean() > 0.95 and snr_after.min() >= snr_before / 2.2
    f = np.sqrt(batch.ivar[:, 100:] / out.ivar[:, 100:])[:, 0]  # the factor per spectrum
    assert f.min() >= 1.0 and f.max() <= 2.0 and f.std() > 0.2
    added = (out.flux - batch.flux)[:, 100:]
    np.testing.assert_allclose(added.std(axis=1), np.sqrt(f**2 - 1), rtol=0.1, atol=0.02)
    np.testing.assert_array_equal(out.flux[:, :100], batch.flux[:, :100])
    np.testing.assert_array_equal(out.ivar[:, :100], 0.0)
    np.testing.assert_allclose(out.snr, batch.snr / f, rtol=1e-5)


def test_masked_stretches_have_ivar_0_flux_0_and_nodata() -> None:
    batch = flat(300)
    out = augment_batch(batch, np.random.default_rng(4), only(mask=1.0))
    lost = out.ivar == 0
    p = batch.flux.shape[1]
    for row in range(len(batch)):
        stretches = runs(lost[row])
        assert 1 <= len(stretches) <= 3
        assert all(b - a >= round(0.01 * p) for a, b in stretches)
        assert lost[row].sum() <= 3 * round(0.10 * p)
    assert (out.flux[lost] == 0).all() and (out.mask[lost] & NODATA == NODATA).all()
    assert (out.mask[~lost] == 0).all() and (out.flux[~lost] == batch.flux[~lost]).all()
    some = augment_batch(batch, np.random.default_rng(5), only(mask=0.3))
    assert 0.2 < (some.ivar == 0).any(axis=1).mean() < 0.4


def test_trim_keeps_one_window_of_the_stated_length() -> None:
    batch = flat(100)
    out = augment_batch(batch, np.random.default_rng(6), only(trim=1.0))
    for row in range(len(batch)):
        ((start, stop),) = runs(out.ivar[row] > 0)
        assert 700 <= stop - start <= 2500
        assert (out.mask[row, :start] & NODATA).all() and (out.flux[row, stop:] == 0).all()
    widths = (out.ivar > 0).sum(axis=1)
    assert widths.std() > 200  # random lengths
    some = augment_batch(batch, np.random.default_rng(7), only(trim=0.1))
    assert 1 <= (some.ivar == 0).any(axis=1).sum() <= 25


def test_trim_blue_windows_start_at_the_first_measured_pixel() -> None:
    batch = flat(200)
    first = np.arange(200) % 5 * 60  # SDSS-I/II files start later on the BOSS grid
    for row, k in enumerate(first):
        batch.ivar[row, :k] = 0.0
    out = augment_batch(batch, np.random.default_rng(3), only(trim=1.0, trim_blue=1.0))
    for row in range(len(batch)):
        ((start, stop),) = runs(out.ivar[row] > 0)
        assert first[row] <= start <= first[row] + augment_module.TRIM_BLUE_OFFSET
        assert 700 <= stop - start <= 2500
    half = augment_batch(batch, np.random.default_rng(3), only(trim=1.0, trim_blue=0.5))
    starts = np.array([runs(half.ivar[row] > 0)[0][0] for row in range(len(batch))])
    near = starts <= first + augment_module.TRIM_BLUE_OFFSET
    assert 0.4 < near.mean() < 0.75  # half at the blue end, a few of the rest by chance


def test_trim_blue_zero_draws_the_windows_it_drew_before() -> None:
    rng = np.random.default_rng(9)  # the draws before augment_trim_blue existed
    hit = rng.random(50) < 0.5
    width = rng.integers(700, 2501, 50)
    start = np.floor(rng.random(50) * (4000 - width + 1)).astype(int)
    pixels = np.arange(4000)
    kept = (pixels >= start[:, None]) & (pixels < (start + width)[:, None])
    blue = augment_module.outside_window(50, 4000, np.random.default_rng(9), 0.5, 0.0)
    assert np.array_equal(blue, hit[:, None] & ~kept) and blue.any()
    ivar = np.ones((3, 10))
    ivar[1, :4], ivar[2] = 0.0, 0.0
    assert augment_module.first_measured(ivar).tolist() == [0, 4, 0]


def source(n: int, prefix: str, n_pixels: int = 200, seed: int = 0) -> ArraySource:
    """Toy classes (rising, falling, a line) with ids ``<prefix><i>``."""
    rng = np.random.default_rng(seed)
    batch = empty_batch(3.6 + 1e-3 * np.arange(n_pixels), n)
    t = np.linspace(-1, 1, n_pixels)
    for i in range(n):
        label = CLASSES[i % 3]
        shape = {"STAR": 2 + t, "GALAXY": 2 - t, "QSO": 2 + 3 * np.exp(-((t / 0.05) ** 2))}
        batch.flux[i] = shape[label] + rng.normal(0, 0.2, n_pixels)
        batch.ivar[i], batch.labels[i], batch.ids[i] = 25.0, label, f"{prefix}{i}"
    return ArraySource(batch)


AUG = AugmentSettings(scale=0.3, tilt=0.1, noise=1.0, mask=0.5, trim=0.0)


def augmented_feed(pipeline: Pipeline | None = None, n: int = 40, **kw: Any) -> Feed:
    pipeline = pipeline or Pipeline([], TinyRenderer(), (32, 1))
    feed = Feed(source(n, "t"), np.arange(n), pipeline, CLASSES, 8, shuffle=True, seed=5, **kw)
    return augmented(
        feed, {"augment": True, **{f"augment_{k}": v for k, v in AUG.__dict__.items()}}
    )


def test_an_augmented_batch_is_a_pure_function_of_seed_epoch_and_positions() -> None:
    feed = augmented_feed()
    assert not feed.kept and feed._x is None  # small, but re-rendered every epoch
    positions = np.array([3, 1, 4, 15])
    x1, y1 = feed.batch_at(positions, epoch=2)
    x2, _ = augmented_feed().batch_at(positions, epoch=2)  # a fresh feed, same seed
    np.testing.assert_array_equal(x1, x2)
    feed.set_epoch(2)
    np.testing.assert_array_equal(feed.batch_at(positions)[0], x1)  # default: current epoch
    assert not np.array_equal(feed.batch_at(positions, epoch=3)[0], x1)
    assert not np.array_equal(feed.batch_at(positions[::-1], epoch=2)[0], x1[::-1])
    plain = Feed(feed.source, feed.index, feed.pipeline, CLASSES, 8, shuffle=True, seed=5)
    assert plain.kept and not np.array_equal(plain.batch_at(positions)[0], x1)
    np.testing.assert_array_equal(y1, plain.y[positions])


def test_an_augmented_feed_reads_its_spectra_once_and_renders_as_if_it_read_each_batch() -> None:
    """The raw spectra of a small augmented feed are read once and shared by its copies
    (a synthetic source would generate them again every epoch); over the budget, or read
    batch by batch, the inputs are the same arrays."""
    reads: list[int] = []

    def counting(feed: Feed) -> Feed:
        read = feed.source.read
        feed.source.read = lambda index: (reads.append(len(index)), read(index))[1]  # type: ignore[method-assign]
        return feed

    kept, streamed = counting(augmented_feed()), augmented_feed(materialize_bytes=0)
    again = kept.rebatched(5)
    for epoch in range(3):
        for positions in (np.array([3, 1, 4, 15]), np.arange(40)):
            x_kept = kept.batch_at(positions, epoch=epoch)[0]
            np.testing.assert_array_equal(x_kept, streamed.batch_at(positions, epoch=epoch)[0])
        again.batch_at(np.array([0, 2]), epoch=epoch)
    assert reads == [40]  # once, in index order, for the feed and its rebatched copy
    assert streamed._raw is None


def test_prefetched_augmented_batches_are_identical_for_any_worker_count() -> None:
    seen: list[list[np.ndarray]] = []
    for workers in (1, 2, 4):
        feed, batches = augmented_feed(), []
        pre = Prefetcher(feed, workers)
        for epoch in range(3):
            feed.set_epoch(epoch)
            batches += [pre.get(i)[0] for i in range(len(feed))]
        pre.close()
        seen.append(batches)
    for other in seen[1:]:
        for a, b in zip(seen[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_batch_prefetched_in_an_earlier_epoch_is_not_used() -> None:
    feed = augmented_feed()
    feed.shuffle = False  # same positions every epoch: only the epoch tells them apart
    pre = Prefetcher(feed, 2)
    pre.get(0)  # queues batches 1.. for epoch 0
    feed.set_epoch(1)
    x, _ = pre.get(1)
    pre.close()
    np.testing.assert_array_equal(x, feed.batch_at(feed.positions(1), epoch=1)[0])


def test_device_feed_ships_the_augmented_spectra() -> None:
    pytest.importorskip("jax")
    pipeline = Pipeline([Mask(bits=[]), MovingAverage(window=3)], Line(), (16, 16, 1))
    feed = augmented_feed(pipeline)
    stage = pipeline.device_stage(feed.source.loglam)
    assert stage is not None
    dev = feed.for_device(stage)
    assert not dev.kept
    positions = np.array([0, 7, 9])
    x, _ = dev.batch_at(positions, epoch=1)
    raw = feed.source.read(feed.index[positions])
    want = pipeline.apply_host(
        augment_batch(raw, feed.augmentation_rng(positions, 1), AUG), stage.n_host
    )
    np.testing.assert_array_equal(x[:, 0], want.flux)
    np.testing.assert_array_equal(x[:, 1], want.ivar)


TINY = {"n_pixels": 32, "filters": [4, 8], "batch_size": 8}


def fit(params: dict[str, Any], epochs: int = 2, validation: Feed | None = None) -> dict:
    model = CNN1D(**{**TINY, **params})
    model.build(model.input_shape(200), CLASSES, 3)
    pipeline = Pipeline([], TinyRenderer(), model.input_shape(200))
    train = Feed(source(32, "t"), np.arange(32), pipeline, CLASSES, 8, shuffle=True, seed=3)
    val = validation or Feed(source(16, "v", seed=1), np.arange(16), pipeline, CLASSES, 8)
    return model.fit(train, val, epochs=epochs)


def test_augment_off_trains_exactly_as_before() -> None:
    feed = augmented_feed()
    assert augmented(feed, {"augment": False, "augment_noise": 5.0}) is feed
    before = fit({})
    assert fit({"augment": False}) == before  # augment_* without augment: an error (below)
    assert fit({"augment": True}) != before


def test_augmented_fit_is_reproducible_for_any_worker_count_and_continued_fits() -> None:
    one = fit({"augment": True}, epochs=3)
    assert fit({"augment": True, "workers": 3}, epochs=3) == one
    model = CNN1D(**TINY, augment=True)
    model.build(model.input_shape(200), CLASSES, 3)
    pipeline = Pipeline([], TinyRenderer(), model.input_shape(200))
    train = Feed(source(32, "t"), np.arange(32), pipeline, CLASSES, 8, shuffle=True, seed=3)
    val = Feed(source(16, "v", seed=1), np.arange(16), pipeline, CLASSES, 8)
    first = model.fit(train, val, epochs=1)
    rest = model.fit(train, val, epochs=3, initial_epoch=1)
    np.testing.assert_allclose(first["loss"] + rest["loss"], one["loss"], rtol=1e-5)


def test_validation_spectra_are_never_augmented(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def spy(batch: SpectrumBatch, rng: np.random.Generator, settings: AugmentSettings):
        seen.extend(str(i) for i in batch.ids)
        return augment_batch(batch, rng, settings)

    monkeypatch.setattr(augment_module, "augment_batch", spy)
    fit({"augment": True}, epochs=2)
    assert len(seen) >= 2 * 32 and all(i.startswith("t") for i in seen), sorted(set(seen))


CONFIG = """
[benchmark]
name = "aug"
[dataset]
name = "synthetic"
n = 90
seed = 1
[[preprocess]]
name = "normalize"
[[models]]
name = "cnn1d"
n_pixels = 64
filters = [4, 8]
augment = true
{extra}
[protocol]
epochs = [1]
batch_size = 16
"""


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("augment_mask = 1.5", ["augment_mask", "1.5", ">= 0.0 and <= 1.0"]),
        ("augment_scale = -0.1", ["augment_scale", "-0.1", ">= 0.0"]),
        ("augment_trim = true", ["augment_trim", "expected number"]),
    ],
)
def test_option_bounds_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, words: list[str]
) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG.format(extra=extra)))
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(word in lines[0] for word in words), lines[0]


def test_bench_run_with_augment_on_cnn1d(tmp_path: Path) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG.format(extra="augment_trim = 0.5")))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    report = load_report(tmp_path / "run" / "report.json")
    (result,) = report["results"]
    assert result["cell"]["model"] == "cnn1d" and 0.0 <= result["metrics"]["accuracy"] <= 1.0


@pytest.mark.slow
def test_frozen_backbone_with_augment_trains_through_the_full_model() -> None:
    from bench_plugins.models.keras.applications import ResNet50

    params = {"image_size": [32, 32], "channels": 1, "weights": "none", "batch_size": 8}
    model = ResNet50(**params, augment=True)
    model.build(model.input_shape(200), CLASSES, 0)
    pipeline = Pipeline([], TinyRenderer(), model.input_shape(200))
    train = Feed(source(16, "t"), np.arange(16), pipeline, CLASSES, 8, shuffle=True, seed=3)
    history = model.fit(train, None, epochs=1)
    assert len(history["loss"]) == 1
    assert len(model.feature_cache) == 0  # features of augmented spectra are never cached


def test_augment_options_without_augment_are_an_error_not_ignored(tmp_path):
    """A tuned augment_* with augment = false would silently do nothing: exit 2, one line."""
    from bench.cli import main

    config = tmp_path / "b.toml"
    config.write_text(
        '[dataset]\nname = "synthetic"\nn = 60\n[[models]]\nname = "cnn1d"\naugment_noise = 2.0\n'
    )
    assert main(["validate", str(config)]) == 2
    config.write_text(config.read_text().replace("augment_noise", "augment = true\naugment_noise"))
    assert main(["validate", str(config)]) == 0
