"""Rendering on the device (issue #14): the device versions give the numpy pixels, the
pipeline splits into host and device parts, device feeds, prefetching that is
bit-identical for any number of workers, transfer dtypes, and the Keras models trained
through the device path give the host path's metrics. Tiny sizes, CPU JAX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.feed import (
    Feed,
    Pipeline,
    Prefetcher,
    decode,
    device_mismatch,
    encode,
    step_device_mismatch,
)
from bench.interfaces import Renderer
from bench.results.metrics import compute_metrics
from bench.spectra import ArraySource, SpectrumBatch, boss_grid, empty_batch
from bench_plugins.preprocess import Mask, MovingAverage, Normalize, Resample
from bench_plugins.render import Area, Line

pytest.importorskip("jax")

CLASSES = ["STAR", "GALAXY", "QSO"]


def spectra(n: int = 12, n_pixels: int = 600, seed: int = 0, noise: float = 0.3) -> SpectrumBatch:
    """Three toy classes (continuum slopes, an emission line) with some damaged pixels."""
    rng = np.random.default_rng(seed)
    batch = empty_batch(boss_grid()[::6][:n_pixels], n)
    t = np.linspace(-1, 1, n_pixels)
    kinds = {"STAR": 3 + t, "GALAXY": 3 - t, "QSO": 3 + 4 * np.exp(-((t / 0.05) ** 2))}
    for i in range(n):
        label = CLASSES[i % 3]
        batch.flux[i] = kinds[label] * rng.uniform(0.5, 2) + rng.normal(0, noise, n_pixels)
        batch.ivar[i], batch.labels[i], batch.ids[i] = 1 / noise**2, label, f"obj{i}"
    batch.flux[1, 50:80] = np.nan
    batch.ivar[2, -40:] = 0
    batch.ivar[4, 10] = np.inf
    return batch


class CurveRenderer(Renderer):
    """A third-party renderer with only a numpy ``render`` (no device version)."""

    name = "curve"

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        grid = np.linspace(0, batch.flux.shape[1] - 1, shape[1])
        flux = np.nan_to_num(batch.flux)
        flux = np.stack([np.interp(grid, np.arange(flux.shape[1]), f) for f in flux])
        lo, hi = flux.min(axis=1, keepdims=True), flux.max(axis=1, keepdims=True)
        flux = (flux - lo) / np.maximum(hi - lo, 1e-6)
        rows = np.linspace(1, 0, shape[0])[None, :, None]
        image = (flux[:, None, :] >= rows).astype(np.float32)
        return np.repeat(image[..., None], shape[2], axis=-1)


PIPELINES = {
    "line": [],
    "moving_average": [MovingAverage()],
    "ma_weighted+median": [MovingAverage(window=7, weighted=True), Normalize()],
    "mask+ma+ivar_std": [Mask(), MovingAverage(), Normalize(method="ivar_mean_std")],
    "mask_ivar_only+ma": [Mask(bits=[]), MovingAverage(window=3)],
}


@pytest.mark.parametrize("steps", list(PIPELINES), ids=str)
@pytest.mark.parametrize(
    ("shape", "params"),
    [((28, 28, 1), {}), ((40, 64, 3), {"line_width": 3.0, "invert": True, "x_axis": "loglam"})],
)
def test_device_stage_gives_the_numpy_pixels(steps: str, shape, params) -> None:
    import jax

    batch = spectra()
    pipeline = Pipeline(PIPELINES[steps], Line(**params), shape)
    stage = pipeline.device_stage(batch.loglam)
    assert stage is not None and stage.device_steps[-1] == "line"
    host_part = pipeline.apply_host(batch, stage.n_host)
    on_device = np.asarray(jax.jit(stage.function)(host_part.flux, host_part.ivar))
    assert on_device.shape == (len(batch), *shape) and on_device.dtype == np.float32
    np.testing.assert_allclose(on_device, pipeline.apply(batch), rtol=0, atol=1e-4)


def test_host_and_device_parts_of_a_pipeline() -> None:
    grid = spectra().loglam
    masked = Pipeline([Mask(), MovingAverage()], Line(), (28, 28, 1)).device_stage(grid)
    assert masked is not None and masked.n_host == 1  # and_mask bits stay on the host
    assert masked.device_steps == ("moving_average", "line")
    resampled = Pipeline([MovingAverage(), Resample(factor=2)], Line(), (28, 28, 1))
    stage = resampled.device_stage(grid)
    assert stage is not None and stage.n_host == 2 and stage.n_pixels == len(grid) // 2
    # the built-in preprocessors carry their own device_function
    assert Pipeline([MovingAverage()], Line(), (28, 28, 1)).device_stage(grid).n_host == 0
    for renderer in (CurveRenderer(), Area()):
        assert Pipeline([], renderer, (28, 28, 1)).device_stage(grid) is None


def test_conformance_helpers_for_device_versions() -> None:
    batch = spectra()
    assert device_mismatch(CurveRenderer(), batch, (28, 28, 1)) is None
    assert device_mismatch(Area(), batch, (28, 28, 1)) is None
    assert device_mismatch(Line(line_width=2.0), batch, (32, 48, 3)) < 1e-4
    assert step_device_mismatch(MovingAverage(), batch) < 1e-5  # its own device_function
    for step in (MovingAverage(window=9), Normalize(), Normalize(method="ivar_mean_std")):
        assert step_device_mismatch(step, batch) < 1e-5
    assert step_device_mismatch(Mask(bits=[]), batch) < 1e-6
    assert step_device_mismatch(Mask(), batch) is None


def feed(pipeline: Pipeline, n: int = 40, keep: bool = False, batch_size: int = 8) -> Feed:
    source = ArraySource(spectra(n))
    limit = 1 << 30 if keep else 0
    return Feed(source, np.arange(n), pipeline, CLASSES, batch_size, True, 3, limit)


def test_device_feed_ships_host_preprocessed_spectra() -> None:
    pipeline = Pipeline([Mask(), MovingAverage()], Line(), (28, 28, 1))
    host = feed(pipeline)
    stage = pipeline.device_stage(host.source.loglam)
    for keep in (False, True):
        dev = feed(pipeline, keep=keep).for_device(stage)
        assert dev.input_shape == (2, stage.n_pixels)
        x, y = dev[1]
        want = pipeline.apply_host(host.source.read(dev.index[dev.positions(1)]), 1)
        assert x.dtype == np.float32 and x.shape == (8, 2, stage.n_pixels)
        np.testing.assert_array_equal(x[:, 0], want.flux)
        np.testing.assert_array_equal(x[:, 1], want.ivar)
        np.testing.assert_array_equal(y, host.y[dev.positions(1)])


@pytest.mark.parametrize("keep", [False, True])
def test_prefetched_batches_are_bit_identical_for_any_worker_count(keep: bool) -> None:
    pipeline = Pipeline([MovingAverage()], Line(), (24, 24, 1))
    runs = []
    for workers in (1, 2, 4):
        f = feed(pipeline, keep=keep)
        pre = Prefetcher(f, workers)
        seen = []
        for epoch in range(3):
            f.set_epoch(epoch)  # reshuffles: batches queued for the old order are dropped
            seen += [pre.get(i) for i in range(len(f))]
        pre.close()
        runs.append(seen)
    for other in runs[1:]:
        for (xa, ya), (xb, yb) in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_transfer_dtypes() -> None:
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    assert np.abs(decode(encode(x, "uint8")) - x).max() <= 0.5 / 255 + 1e-7
    assert np.abs(decode(encode(x, "float16")) - x).max() <= 2**-11
    assert encode(x, "float32") is x or np.array_equal(encode(x, "float32"), x)
    pipeline = Pipeline([], Line(), (16, 16, 1))
    for keep in (False, True):
        small = feed(pipeline, keep=keep).with_transfer_dtype("uint8")
        xb, _ = small[0]
        assert xb.dtype == np.uint8 and small.input_itemsize == 1
    with pytest.raises(ValueError, match="transfer dtype"):
        feed(pipeline).with_transfer_dtype("int4")


# -- the Keras models through the device path --------------------------------------------


def mnist_run(pipeline: Pipeline, seed: int = 0, **params: Any) -> tuple[Any, dict, np.ndarray]:
    from bench_plugins.models.keras.mnist_cnn import MnistCNN

    params = {"batch_size": 8, "image_size": [16, 16], **params}
    model = MnistCNN(**params)
    shape = model.input_shape(0)
    pipeline = Pipeline(pipeline.preprocessors, pipeline.renderer, shape)
    source = ArraySource(spectra(36, seed=seed))
    train = Feed(source, np.arange(24), pipeline, CLASSES, 8, shuffle=True, seed=seed)
    test = Feed(source, np.arange(24, 36), pipeline, CLASSES, 8)
    model.build(shape, CLASSES, seed)
    history = model.fit(train, test, epochs=2)
    return model, history, model.predict_proba(test)


def test_device_and_host_paths_give_the_same_metrics() -> None:
    pipeline = Pipeline([Mask(), MovingAverage()], Line(), (16, 16, 1))
    host, h_host, p_host = mnist_run(pipeline, device_render="off")
    dev, h_dev, p_dev = mnist_run(pipeline, device_render="on")
    assert dev.describe()["device_render"] == ["moving_average", "line"]
    assert "device_render" not in host.describe()
    for key in h_host:
        np.testing.assert_allclose(h_dev[key], h_host[key], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p_dev, p_host, atol=1e-4)
    y = np.arange(24, 36) % 3
    a, b = compute_metrics(y, p_host, CLASSES), compute_metrics(y, p_dev, CLASSES)
    assert a["accuracy"] == b["accuracy"] and a["confusion_matrix"] == b["confusion_matrix"]


def test_numpy_only_renderer_still_trains_with_device_render_on() -> None:
    pipeline = Pipeline([MovingAverage()], CurveRenderer(), (16, 16, 1))
    model, h_on, p_on = mnist_run(pipeline, device_render="on")
    _, h_off, p_off = mnist_run(pipeline, device_render="off")
    assert "device_render" not in model.describe()
    assert h_on == h_off
    np.testing.assert_array_equal(p_on, p_off)


def test_prefetch_workers_and_timing_record() -> None:
    pipeline = Pipeline([MovingAverage()], Line(), (16, 16, 1))
    from bench_plugins.models.keras.mnist_cnn import MnistCNN

    histories = []
    for workers in (1, 3):
        model = MnistCNN(batch_size=8, image_size=[16, 16], workers=workers)
        shape = model.input_shape(0)
        source = ArraySource(spectra(32))
        train = Feed(source, np.arange(32), pipeline, CLASSES, 8, True, 0, materialize_bytes=0)
        model.build(shape, CLASSES, 0)
        histories.append(model.fit(train, None, epochs=2))
        timing = model.timing()
        assert set(timing) >= {"setup_s", "compile_s", "data_s", "step_s", "validation_s"}
        assert all(v >= 0 for v in timing.values()) and timing["steps"] == 8
        assert timing["compile_s"] > 0 and timing["data_s"] > 0
    assert histories[0] == histories[1]


@pytest.mark.parametrize(
    "params",
    [
        {"transfer_dtype": "uint8"},
        {"transfer_dtype": "float16"},
        {"steps_per_execution": 2},
        {"precision": "mixed_bfloat16"},
        {"device_render": "on", "steps_per_execution": 3, "precision": "mixed_bfloat16"},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()),
)
def test_speed_options_train_and_reload(params: dict[str, Any], tmp_path: Path) -> None:
    from bench_plugins.models.keras.mnist_cnn import MnistCNN

    pipeline = Pipeline([MovingAverage()], Line(), (16, 16, 1))
    model, history, proba = mnist_run(pipeline, **params)
    assert all(np.isfinite(v).all() for v in history.values())
    assert proba.shape == (12, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert model.network.output.dtype == "float32"
    model.save(tmp_path)  # the saved network takes float32 images, whatever the path
    again = MnistCNN(batch_size=8, image_size=[16, 16])
    again.load(tmp_path)
    assert again.network.input_shape == (None, 16, 16, 1)


@pytest.mark.slow
def test_frozen_features_streamed_to_disk(tmp_path: Path) -> None:
    from bench_plugins.models.keras.applications import ResNet50

    pipeline = Pipeline([], Line(), (32, 32, 1))
    params = {"image_size": [32, 32], "channels": 1, "weights": "none", "batch_size": 8}
    results = []
    for where in ("", str(tmp_path / "features")):
        model = ResNet50(feature_dir=where, device_render="on", **params)
        shape = model.input_shape(0)
        source = ArraySource(spectra(24))
        train = Feed(source, np.arange(16), pipeline, CLASSES, 8, True, 0)
        test = Feed(source, np.arange(16, 24), pipeline, CLASSES, 8)
        model.build(shape, CLASSES, 0)
        history = model.fit(train, test, epochs=2)
        x = model.features(train)
        assert isinstance(x, np.memmap) == bool(where)
        assert model.timing()["features_s"] > 0
        results.append((history, model.predict_proba(test), np.asarray(x)))
    (h_ram, p_ram, x_ram), (h_disk, p_disk, x_disk) = results
    np.testing.assert_array_equal(x_disk, x_ram)
    np.testing.assert_allclose(p_disk, p_ram, atol=1e-5)
    np.testing.assert_allclose(h_disk["loss"], h_ram["loss"], rtol=1e-4)
    assert list((tmp_path / "features").glob("resnet50-*/features-*.npy"))


def test_kernels_give_the_numpy_values_with_jax() -> None:
    """Each ``bench.kernels`` kernel with an ``xp`` argument, run with jax.numpy, gives
    its numpy values to float32 rounding."""
    import jax.numpy as jnp

    from bench import kernels

    batch = spectra(n=6, n_pixels=300)
    batch.flux[3, :5] = np.nan  # bad at the start of a row
    batch.ivar[5] = 0  # no good pixel
    flux, ivar = batch.flux, batch.ivar
    good = kernels.good_pixels(np, flux, ivar)
    good_ivar = np.where(good, ivar, 0.0).astype(np.float32)
    np.testing.assert_array_equal(kernels.good_pixels(jnp, jnp.asarray(flux), ivar), good)
    jflux, jgood = jnp.asarray(flux), jnp.asarray(good)
    pairs = [
        (kernels.fill_bad(np, flux, good), kernels.fill_bad(jnp, jflux, jgood)),
        (kernels.finish(np, flux, ivar)[1], kernels.finish(jnp, jflux, jnp.asarray(ivar))[1]),
        (kernels.window_sum(np, good_ivar, 7), kernels.window_sum(jnp, jnp.asarray(good_ivar), 7)),
        (kernels.good_median(np, flux, good), kernels.good_median(jnp, jflux, jgood)),
        (
            kernels.robust_range(np, flux, good, 5, 95),
            kernels.robust_range(jnp, jflux, jgood, 5, 95),
        ),
    ]
    for want, got in pairs:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-5)
    assert np.isnan(kernels.good_median(np, flux, good)[5])


def test_kernels_and_the_built_in_steps_import_without_jax() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bench.kernels, bench_plugins.preprocess, bench_plugins.render; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jax'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
