"""Rendering speed: the ``line`` renderer against matplotlib, on one CPU core.

Renders the same batch of 4,600-pixel spectra with ``line`` and with matplotlib (one
reused figure: ``set_ydata`` + ``canvas.draw`` + ``buffer_rgba``, white line on black as
``line`` draws it, converted to the same float32 (N, H, W, C) array in [0, 1]) and
prints images per CPU-second. matplotlib is given the y limits for free. The last line is
one JSON object for 224x224x3; the line before it is the same for 28x28x1.

``line`` renders the spectra ``--batch`` at a time (default 32, the training feed's
batch size). Bigger calls return arrays too large for malloc to reuse (over ~32 MB at
224x224x3, i.e. more than ~50 images), so every call then also pays the kernel for
fresh zeroed pages; ``--batch 256`` shows that case.

    .venv/bin/python tests/perf/bench_render.py [--spectra 256] [--seconds 2] [--batch 32] [--jax]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ.setdefault(
        _var, "1" if _var != "XLA_FLAGS" else "--xla_cpu_multi_thread_eigen=false"
    )
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from bench.spectra import SpectrumBatch, boss_grid, empty_batch  # noqa: E402
from bench_plugins.render import Line  # noqa: E402


def spectra(n: int, n_pixels: int = 4600, seed: int = 0) -> SpectrumBatch:
    """Continuum + emission lines + noise, with a few dead pixels at the ends (as SDSS)."""
    rng = np.random.default_rng(seed)
    batch = empty_batch(boss_grid()[:n_pixels], n)
    wave = batch.wavelength
    flux = rng.uniform(2, 10, (n, 1)) * (wave / 5000.0) ** rng.uniform(-2, 1, (n, 1))
    for centre in (4861.0, 5007.0, 6563.0, 3727.0):
        flux = flux + rng.uniform(0, 15, (n, 1)) * np.exp(-0.5 * ((wave - centre) / 4.0) ** 2)
    flux += rng.normal(0.0, 0.7, flux.shape)
    batch.flux[:] = flux
    batch.ivar[:] = 1 / 0.7**2
    batch.ivar[:, :20] = 0
    batch.ivar[:, -30:] = 0
    return batch


def interleaved_rates(
    renders: dict[str, tuple[Callable[[], object], int]], seconds: float
) -> dict[str, float]:
    """Images per second of each ``name: (render, images per call)``, measured in
    alternating rounds (so both see the same load on a shared machine) until each has
    run ``seconds`` in total; two warm-up calls each, outside the timing. Time is CPU time
    of this process (``time.process_time``): on a shared machine, time spent waiting
    for the core does not count against either renderer."""
    for render, _ in renders.values():
        render()
        render()
    spent = dict.fromkeys(renders, 0.0)
    done = dict.fromkeys(renders, 0)
    while min(spent.values()) < seconds:
        for name, (render, n_images) in renders.items():
            start = time.process_time()
            render()
            spent[name] += time.process_time() - start
            done[name] += n_images
    return {name: done[name] / spent[name] for name in renders}


def matplotlib_renderer(batch: SpectrumBatch, shape: tuple[int, int, int], limits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height, width, channels = shape
    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="black")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    wave = batch.wavelength
    (line,) = ax.plot(wave, batch.flux[0], color="white", lw=72 / dpi, antialiased=True)
    ax.set_xlim(wave[0], wave[-1])
    bottom, top = limits
    scale = np.float32(1 / 255)

    def render() -> np.ndarray:
        out = np.empty((len(batch), height, width, channels), np.float32)
        for i in range(len(batch)):
            line.set_ydata(batch.flux[i])
            ax.set_ylim(bottom[i], top[i])
            fig.canvas.draw()
            rgba = np.asarray(fig.canvas.buffer_rgba())
            np.multiply(rgba[..., :channels], scale, out=out[i])
        return out

    return render


def measure(
    batch: SpectrumBatch, shape: tuple[int, int, int], seconds: float, jax: bool, per_call: int
) -> dict:
    line = Line()
    parts = [
        batch.take(np.arange(s, min(s + per_call, len(batch))))
        for s in range(0, len(batch), per_call)
    ]
    few = batch.take(np.arange(min(len(batch), 16)))

    def ours(renderer: Line = line) -> None:
        for part in parts:  # each batch's images are used and dropped, as in training
            renderer.render(part, shape)

    renders = {
        "ours": (ours, len(batch)),
        "matplotlib": (matplotlib_renderer(few, shape, line.limits(few)), len(few)),
    }
    if jax:
        line_jax = Line(backend="jax")
        renders["jax"] = (lambda: ours(line_jax), len(batch))
    rates = interleaved_rates(renders, seconds)
    result = {"size": "x".join(map(str, shape)), "ours_per_s": round(rates["ours"], 1)}
    if jax:
        result["jax_per_s"] = round(rates["jax"], 1)
    ratio = rates["ours"] / rates["matplotlib"]
    return result | {"matplotlib_per_s": round(rates["matplotlib"], 1), "ratio": round(ratio, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=32, help="spectra per render call")
    parser.add_argument("--jax", action="store_true", help="also time backend='jax' (CPU here)")
    args = parser.parse_args()
    batch = spectra(args.spectra)
    for shape in ((28, 28, 1), (224, 224, 3)):
        print(json.dumps(measure(batch, shape, args.seconds, args.jax, args.batch)))


if __name__ == "__main__":
    main()
