"""Built-in preprocessors: ``mask``, ``clip``, ``moving_average``, ``resample`` and
``normalize``. Each maps a batch to a batch (same spectra, same order), vectorised over
the batch, and never lets NaN or inf through: bad pixels leave with a finite flux
(interpolated from good neighbours) and ivar 0.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import hookimpl
from bench.interfaces import Preprocessor
from bench_plugins.preprocess.cleaning import Clip, Mask
from bench_plugins.preprocess.denoise import MovingAverage
from bench_plugins.preprocess.grid import Resample
from bench_plugins.preprocess.normalize import Normalize

__all__ = ["Clip", "Mask", "MovingAverage", "Normalize", "Resample"]


@hookimpl
def register_preprocessors(register: Callable[[type[Preprocessor]], None]) -> None:
    for cls in (Mask, Clip, MovingAverage, Resample, Normalize):
        register(cls)
