"""Rendering speed: the ``line`` renderer against matplotlib, on one CPU core.

Renders the same batch of 4,600-pixel spectra with ``line`` and with matplotlib (one
reused figure: ``set_ydata`` + ``canvas.draw`` + ``buffer_rgba``, white line on black as
``line`` draws it, converted to the same float32 (N, H, W, C) array in [0, 1]) and
prints images per second. matplotlib is given the y limits for free. The last line is
one JSON object for 224x224x3; the line before it is the same for 28x28x1.

    .venv/bin/python tests/perf/bench_render.py [--spectra 256] [--seconds 2] [--jax]
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
from bench_plugins.render import Line  # noqa: E402

from bench.spectra import SpectrumBatch, boss_grid, empty_batch  # noqa: E402


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


def rate(render: Callable[[], object], n_images: int, seconds: float) -> float:
    """Images per second over at least ``seconds``, after three warm-up calls."""
    for _ in range(3):
        render()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        render()
        done += n_images
    return done / (time.perf_counter() - start)


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


def measure(batch: SpectrumBatch, shape: tuple[int, int, int], seconds: float, jax: bool) -> dict:
    line = Line()
    ours = rate(lambda: line.render(batch, shape), len(batch), seconds)
    few = batch.take(np.arange(min(len(batch), 64)))
    mpl = rate(matplotlib_renderer(few, shape, line.limits(few)), len(few), seconds)
    result = {"size": "x".join(map(str, shape)), "ours_per_s": round(ours, 1)}
    if jax:
        line_jax = Line(backend="jax")
        result["jax_per_s"] = round(
            rate(lambda: line_jax.render(batch, shape), len(batch), seconds), 1
        )
    result |= {"matplotlib_per_s": round(mpl, 1), "ratio": round(ours / mpl, 1)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--jax", action="store_true", help="also time backend='jax' (CPU here)")
    args = parser.parse_args()
    batch = spectra(args.spectra)
    print(json.dumps(measure(batch, (28, 28, 1), args.seconds, args.jax)))
    print(json.dumps(measure(batch, (224, 224, 3), args.seconds, args.jax)))


if __name__ == "__main__":
    main()
