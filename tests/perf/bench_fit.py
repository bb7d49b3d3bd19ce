"""Training throughput of the model plugins (run on demand, not collected by pytest).

1. The harness's streaming path (a keras PyDataset over a Feed) against a plain
   ``model.fit`` on the same in-memory arrays: same network, seed and batch size, in one
   run, the warm-up (compiling) epoch excluded; best of ``--repeats`` interleaved runs.
2. Frozen-backbone training on cached features against training the frozen full model,
   for ``--epochs`` epochs, with the one-off feature extraction counted.

    .venv/bin/python tests/perf/bench_fit.py [--n 2048] [--epochs 3] [--repeats 3]
        [--part all|harness|frozen]

Prints the figures, then one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")

from bench.feed import DEFAULT_MATERIALIZE_BYTES, Feed, Pipeline  # noqa: E402
from bench.interfaces import Renderer  # noqa: E402
from bench.spectra import ArraySource, SpectrumBatch, empty_batch  # noqa: E402
from bench_plugins.models.keras.applications import ResNet50  # noqa: E402
from bench_plugins.models.keras.mnist_cnn import MnistCNN  # noqa: E402

CLASSES = ["STAR", "GALAXY", "QSO"]


class CurveRenderer(Renderer):
    """The flux, min-max normalised, drawn as a filled curve over the image rows."""

    name = "curve"

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        grid = np.linspace(0, batch.flux.shape[1] - 1, shape[1])
        flux = np.stack([np.interp(grid, np.arange(batch.flux.shape[1]), f) for f in batch.flux])
        lo, hi = flux.min(axis=1, keepdims=True), flux.max(axis=1, keepdims=True)
        flux = (flux - lo) / np.maximum(hi - lo, 1e-6)
        rows = np.linspace(1, 0, shape[0])[None, :, None]
        image = (flux[:, None, :] >= rows).astype(np.float32)
        return np.repeat(image[..., None], shape[2], axis=-1)


def source(n: int) -> ArraySource:
    rng = np.random.default_rng(0)
    t = np.linspace(-1, 1, 400)
    batch = empty_batch(3.6 + 1e-3 * np.arange(400), n)
    shapes = {"STAR": 1 + t, "GALAXY": 1 - t, "QSO": 1 + 3 * np.exp(-((t / 0.05) ** 2))}
    for i in range(n):
        label = CLASSES[i % 3]
        batch.flux[i] = shapes[label] + rng.normal(0, 0.3, 400)
        batch.ivar[i], batch.labels[i], batch.ids[i] = 1.0, label, f"obj{i}"
    return ArraySource(batch)


def feed(src: ArraySource, shape: tuple[int, ...], batch: int, keep: bool = True) -> Feed:
    pipeline = Pipeline([], CurveRenderer(), shape)
    limit = DEFAULT_MATERIALIZE_BYTES if keep else 0
    return Feed(src, np.arange(len(src)), pipeline, CLASSES, batch, True, 0, limit)


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def harness_vs_plain(n: int, epochs: int, repeats: int, batch: int = 32) -> dict[str, float]:
    """Samples/s of the harness fit and of a plain fit on arrays (mnist_cnn, 28x28x1)."""
    src = source(n)
    harness, plain, streaming = MnistCNN(batch_size=batch), MnistCNN(batch_size=batch), None
    shape = harness.input_shape(0)
    train = feed(src, shape, batch)
    harness.build(shape, CLASSES, 0)
    plain.build(shape, CLASSES, 0)
    x, y = train.inputs(), train.y
    streaming = MnistCNN(batch_size=batch)
    streaming.build(shape, CLASSES, 0)
    stream_feed = feed(src, shape, batch, keep=False)
    harness.fit(train, None, epochs=1)  # warm-up: compiles the train step
    plain.network.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    streaming.fit(stream_feed, None, epochs=1)
    done, t_h, t_p, t_s = 1, [], [], []
    for _ in range(repeats):
        t_h.append(timed(lambda d=done: harness.fit(train, None, d + epochs, initial_epoch=d)))
        t_p.append(timed(lambda: plain.network.fit(x, y, batch, epochs, verbose=0)))
        t_s.append(timed(lambda d=done: streaming.fit(stream_feed, None, d + epochs, d)))
        done += epochs
    rate = {k: n * epochs / min(v) for k, v in (("h", t_h), ("p", t_p), ("s", t_s))}
    return {
        "harness_samples_per_s": rate["h"],
        "plain_fit_samples_per_s": rate["p"],
        "ratio_harness_over_plain": rate["h"] / rate["p"],
        "streaming_render_samples_per_s": rate["s"],
        "ratio_streaming_over_plain": rate["s"] / rate["p"],
    }


def frozen_speedup(n: int, epochs: int, batch: int = 32) -> dict[str, float]:
    """Frozen ResNet50 (32x32, random weights): cached-feature head vs full frozen model."""
    src = source(n)
    params = {"image_size": [32, 32], "weights": "none", "batch_size": batch}
    cached, full = ResNet50(**params), ResNet50(cache_features=False, **params)
    shape = cached.input_shape(0)
    cached.build(shape, CLASSES, 0)
    full.build(shape, CLASSES, 0)
    warm = feed(src, shape, batch)
    cached.fit(warm, None, epochs=1)  # warm-up: compiles extractor and head step
    full.fit(warm, None, epochs=1)
    train = feed(src, shape, batch)  # a new feed: its features are not cached yet
    train.inputs()
    t_extract = timed(lambda: cached.features(train))
    t_cached = timed(lambda: cached.fit(train, None, 1 + epochs, initial_epoch=1))
    t_full = timed(lambda: full.fit(train, None, 1 + epochs, initial_epoch=1))
    return {
        "frozen_full_s": t_full,
        "frozen_cached_extract_s": t_extract,
        "frozen_cached_epochs_s": t_cached,
        "frozen_speedup_per_epoch": t_full / t_cached,
        "frozen_speedup_end_to_end": t_full / (t_extract + t_cached),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048, help="training spectra")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (best kept)")
    parser.add_argument("--part", choices=("all", "harness", "frozen"), default="all")
    args = parser.parse_args()
    result: dict[str, Any] = {"n": args.n, "epochs": args.epochs, "backend": "jax"}
    if args.part in ("all", "harness"):
        result.update(harness_vs_plain(args.n, args.epochs, args.repeats))
    if args.part in ("all", "frozen"):
        result["frozen_n"] = args.n // 4
        result.update(frozen_speedup(args.n // 4, args.epochs))
    for key, value in result.items():
        print(f"{key:34s} {value:.3f}" if isinstance(value, float) else f"{key:34s} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
