"""Built-in preprocessors, one module each: ``mask``, ``clip``, ``moving_average``,
``resample`` and ``normalize``. Each maps a batch to a batch (same spectra, same order),
vectorised over the batch, and never lets NaN or inf through: bad pixels leave with a
finite flux (interpolated from good neighbours) and ivar 0. ``mask`` (by ivar),
``moving_average`` and ``normalize`` also run on the device: one kernel, written for
numpy and jax.numpy, serves both paths.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import hookimpl
from bench.interfaces import Preprocessor
from bench_plugins.preprocess.clip import Clip
from bench_plugins.preprocess.mask import Mask
from bench_plugins.preprocess.moving_average import MovingAverage
from bench_plugins.preprocess.normalize import Normalize
from bench_plugins.preprocess.resample import Resample

__all__ = ["Clip", "Mask", "MovingAverage", "Normalize", "Resample"]


@hookimpl
def register_preprocessors(register: Callable[[type[Preprocessor]], None]) -> None:
    for cls in (Mask, Clip, MovingAverage, Resample, Normalize):
        register(cls)
