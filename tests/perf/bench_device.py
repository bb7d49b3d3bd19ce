"""Device throughput of the harness against plain Keras (issue #14; run on demand).

For ResNet50 (finetune and scratch), InceptionV3 frozen feature extraction and the
MNIST CNN, in one run, samples per second of:

- ``plain``: ``model.fit`` (extraction: ``predict``) on pre-rendered arrays already on
  the device (the ceiling);
- ``kept``: the harness with the images rendered once and kept in memory;
- ``stream``: the harness rendering every batch on the host in the training thread
  (what the paper's 300k spectra needed before);
- ``stream_w``: the same with ``workers`` threads rendering ahead, shipped as float32,
  then as ``uint8`` and ``float16`` (``transfer_dtype``);
- ``device``: the harness shipping spectra and drawing the pictures on the device inside
  the compiled step (``device_render = "on"``);
- extraction only: ``disk`` (device render, features streamed to a memory-mapped file).

Each figure is one timed pass after a warm-up pass (compiling is not timed), with the
ratio to ``plain`` and the mean GPU utilisation during the pass where ``nvidia-smi``
exists. The pipeline is the paper's: moving average (5 pixels) then the ``line`` picture
of 4,600-pixel synthetic spectra. ``weights = "none"`` (no download needed).

    .venv/bin/python tests/perf/bench_device.py [--size auto|tiny|full] [--n N]
        [--epochs E] [--workers W] [--cases resnet50_finetune,...]

``--size auto`` is ``full`` (224x224x3, batch 64; MNIST 28x28x1 batch 1024 with 8 steps
per execution) when JAX sees a GPU/TPU, else ``tiny`` (ResNet50 32x32x3, InceptionV3
75x75x3, batch 16; MNIST batch 128), which the output says. Prints a table, then one
line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")

from bench.feed import Feed, Pipeline  # noqa: E402
from bench.spectra import ArraySource, boss_grid, empty_batch  # noqa: E402
from bench_plugins.preprocess import MovingAverage  # noqa: E402
from bench_plugins.render import Line  # noqa: E402

CLASSES = ["STAR", "GALAXY", "QSO"]

# name: (model plugin, its options, kind, image side tiny/full, channels)
CASES: dict[str, tuple[str, dict[str, Any], str, tuple[int, int], int]] = {
    "resnet50_finetune": ("resnet50", {"mode": "finetune"}, "fit", (32, 224), 3),
    "resnet50_scratch": ("resnet50", {"mode": "scratch"}, "fit", (32, 224), 3),
    "inception_v3_frozen": ("inception_v3", {"mode": "frozen"}, "extract", (75, 224), 3),
    "mnist_cnn": ("mnist_cnn", {}, "fit", (28, 28), 1),
}


def spectra(n: int, n_pixels: int = 4600, seed: int = 0) -> ArraySource:
    """Continuum + emission lines + noise with dead pixels at the ends, labels cycling."""
    rng = np.random.default_rng(seed)
    batch = empty_batch(boss_grid()[:n_pixels], n)
    wave = batch.wavelength
    flux = rng.uniform(2, 10, (n, 1)) * (wave / 5000.0) ** rng.uniform(-2, 1, (n, 1))
    for centre in (4861.0, 5007.0, 6563.0, 3727.0):
        flux = flux + rng.uniform(0, 15, (n, 1)) * np.exp(-0.5 * ((wave - centre) / 4.0) ** 2)
    batch.flux[:] = flux + rng.normal(0.0, 0.7, flux.shape)
    batch.ivar[:] = 1 / 0.7**2
    batch.ivar[:, :20] = 0
    batch.ivar[:, -30:] = 0
    batch.labels[:] = np.array(CLASSES, dtype=object)[np.arange(n) % 3]
    batch.ids[:] = [f"s{i}" for i in range(n)]
    return ArraySource(batch)


class GpuSampler:
    """Mean GPU utilisation (%) from ``nvidia-smi`` sampled every 0.2 s; None without it."""

    def __init__(self) -> None:
        self.available = shutil.which("nvidia-smi") is not None
        self.samples: list[float] = []
        self._stop = threading.Event()

    def _run(self) -> None:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(query, capture_output=True, text=True, timeout=2).stdout
                self.samples.append(float(out.split()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
            self._stop.wait(0.2)

    @contextmanager
    def measure(self) -> Iterator[dict[str, float | None]]:
        result: dict[str, float | None] = {"util": None}
        if not self.available:
            yield result
            return
        self.samples, self._stop = [], threading.Event()
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield result
        finally:
            self._stop.set()
            thread.join()
            result["util"] = float(np.mean(self.samples)) if self.samples else None


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_case(name: str, args: argparse.Namespace, full: bool, gpu: GpuSampler) -> list[dict]:
    from bench.plugins.manager import get_registry

    plugin, options, kind, sides, channels = CASES[name]
    side = sides[1] if full else sides[0]
    is_mnist = plugin == "mnist_cnn"
    batch = (1024 if full else 128) if is_mnist else (64 if full else 16)
    n = args.n or ((65536 if full else 1024) if is_mnist else (4096 if full else 64))
    n = max(batch, n - n % batch)  # whole batches: one compiled shape
    params: dict[str, Any] = {
        **options,
        "image_size": [side, side],
        "channels": channels,
        "batch_size": batch,
        "steps_per_execution": 8 if (is_mnist and full) else 1,
    }
    if not is_mnist:
        params["weights"] = "none"
    model = get_registry(third_party=False).create("model", plugin, params, plugin)
    shape = model.input_shape(0)
    model.build(shape, CLASSES, 0)
    source = spectra(n)
    pipeline = Pipeline([MovingAverage()], Line(), shape)
    index = np.arange(n)
    kept = Feed(source, index, pipeline, CLASSES, batch, True, 0, materialize_bytes=1 << 40)
    stream = Feed(source, index, pipeline, CLASSES, batch, True, 0, materialize_bytes=0)
    t_render = timed(kept.inputs)
    import jax

    x_dev, y_dev = jax.device_put(kept.inputs()), jax.device_put(kept.y)
    done = [0]  # epochs trained so far (harness fits continue)

    def harness_fit(feed: Feed, **opts: Any) -> Callable[[int], object]:
        def go(epochs: int) -> object:
            model.params.update(opts)
            out = model.fit(feed, None, epochs=done[0] + epochs, initial_epoch=done[0])
            done[0] += epochs
            return out

        return go

    def features(feed: Feed, **opts: Any) -> Callable[[int], object]:
        def go(epochs: int) -> object:
            model.params.update(opts)
            for _ in range(epochs):
                model._features = []  # noqa: SLF001 - measure extraction, not the cache
                model.features(feed.in_order())
            model._features = []  # noqa: SLF001
            return None

        return go

    w = args.workers
    base = {"workers": 1, "transfer_dtype": "float32", "device_render": "off", "feature_dir": ""}
    if kind == "fit":
        network = model.network

        def plain(epochs: int) -> object:
            return network.fit(x_dev, y_dev, batch_size=batch, epochs=epochs, verbose=0)

        variants: list[tuple[str, Callable[[int], object]]] = [
            ("plain", plain),
            ("kept", harness_fit(kept, **base)),
            ("stream", harness_fit(stream, **base)),
            (f"stream_w{w}", harness_fit(stream, **{**base, "workers": w})),
            (
                f"stream_w{w}_uint8",
                harness_fit(stream, **{**base, "workers": w, "transfer_dtype": "uint8"}),
            ),
            (
                f"stream_w{w}_float16",
                harness_fit(stream, **{**base, "workers": w, "transfer_dtype": "float16"}),
            ),
            ("device", harness_fit(stream, **{**base, "device_render": "on"})),
        ]
        epochs = args.epochs
    else:
        model.params["mode"] = "frozen"
        extractor_input = None

        def plain(epochs: int) -> object:
            nonlocal extractor_input
            if model._extractor is None:  # noqa: SLF001 - built by features()
                model.features(kept.in_order())
                model._features = []  # noqa: SLF001
            extractor_input = model._extractor  # noqa: SLF001
            for _ in range(epochs):
                extractor_input.predict(x_dev, batch_size=batch, verbose=0)
            return None

        folder = tempfile.mkdtemp(prefix="bench-device-")
        variants = [
            ("plain", plain),
            ("kept", features(kept, **base)),
            ("stream", features(stream, **base)),
            (f"stream_w{w}", features(stream, **{**base, "workers": w})),
            (
                f"stream_w{w}_uint8",
                features(stream, **{**base, "workers": w, "transfer_dtype": "uint8"}),
            ),
            (
                f"stream_w{w}_float16",
                features(stream, **{**base, "workers": w, "transfer_dtype": "float16"}),
            ),
            ("device", features(stream, **{**base, "device_render": "on"})),
            (
                "device_disk",
                features(stream, **{**base, "device_render": "on", "feature_dir": folder}),
            ),
        ]
        epochs = 1
    try:
        return measure(variants, model, name, shape, batch, n, epochs, t_render, gpu)
    finally:
        if kind == "extract":
            shutil.rmtree(folder, ignore_errors=True)


def measure(
    variants: list[tuple[str, Callable[[int], object]]],
    model: Any,
    name: str,
    shape: tuple[int, ...],
    batch: int,
    n: int,
    epochs: int,
    t_render: float,
    gpu: GpuSampler,
) -> list[dict]:
    """One warm-up and one timed pass per variant; a row each, printed as it comes."""
    rows: list[dict] = []
    plain_rate = None
    for label, go in variants:
        go(1)  # warm-up: compiles this path
        before = dict(model.timing())
        with gpu.measure() as util:
            seconds = timed(lambda go=go: go(epochs))
        rate = n * epochs / seconds
        plain_rate = plain_rate or rate
        after = model.timing()
        spent = {
            k: round(after.get(k, 0) - before.get(k, 0), 3)
            for k in ("data_s", "step_s", "features_s")
            if k in after and label != "plain"
        }
        rows.append(
            {
                "case": name,
                "variant": label,
                "samples_per_s": round(rate, 1),
                "ratio_to_plain": round(rate / plain_rate, 3),
                "gpu_util_pct": None if util["util"] is None else round(util["util"], 1),
                "seconds": round(seconds, 3),
                "timing": spent,
                "image": "x".join(map(str, shape)),
                "batch": batch,
                "n": n,
                "epochs": epochs,
                "host_render_images_per_s": round(n / t_render, 1),
            }
        )
        shown = "n/a" if util["util"] is None else f"{util['util']:.0f}%"
        print(
            f"{name:20s} {label:20s} {rate:10.1f}/s  x{rate / plain_rate:5.2f}  "
            f"util {shown:>5s}  {spent}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("auto", "tiny", "full"), default="auto")
    parser.add_argument("--n", type=int, default=0, help="spectra (0: by size and model)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per figure")
    parser.add_argument("--workers", type=int, default=4, help="prefetch threads")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    args = parser.parse_args()
    from bench.backend import ensure_jax_backend

    ensure_jax_backend()
    import jax

    backend = jax.default_backend()
    full = args.size == "full" or (args.size == "auto" and backend != "cpu")
    gpu = GpuSampler()
    print(
        f"backend {backend}, devices {[str(d) for d in jax.devices()]}, "
        f"size {'FULL (paper sizes)' if full else 'TINY (CPU-sized stand-ins, not the paper sizes)'}"
        f", nvidia-smi {'yes' if gpu.available else 'absent: no utilisation figures'}",
        flush=True,
    )
    rows: list[dict] = []
    for name in args.cases.split(","):
        rows += run_case(name.strip(), args, full, gpu)
    print(json.dumps({"backend": backend, "full": full, "rows": rows}))


if __name__ == "__main__":
    main()
