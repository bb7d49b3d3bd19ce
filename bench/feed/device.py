"""Running part of a pipeline on the accelerator: how images travel to the device
(``encode``/``decode``) and the conformance checks that a device version gives the
host's numbers. The stage itself is :class:`bench.interfaces.DeviceStage`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.interfaces import TRANSFER_DTYPES, DeviceFunction, Preprocessor, Renderer
from bench.spectra import SpectrumBatch

StepFunction = Callable[[Preprocessor, np.ndarray], DeviceFunction | None]


def encode(x: np.ndarray, dtype: str) -> np.ndarray:
    """Model inputs in [0, 1] as ``dtype`` for the trip to the device (see :func:`decode`)."""
    if dtype == "float32":
        return np.asarray(x, np.float32)
    if dtype == "float16":
        return np.asarray(x, np.float16)
    if dtype == "uint8":
        return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ValueError(f"transfer dtype {dtype!r} is not one of {TRANSFER_DTYPES}")


def decode(x: np.ndarray) -> np.ndarray:
    """:func:`encode`'s inverse on the host (float32); the models do it on the device."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    return np.asarray(x, np.float32)


def device_mismatch(
    renderer: Renderer, batch: SpectrumBatch, shape: tuple[int, ...]
) -> float | None:
    """Largest absolute pixel difference between ``renderer.render`` and its device
    version on ``batch`` (None when it has none): a conformance check, to be under ~1e-4
    (float32 rounding). Imports jax only when there is a device version."""
    fn = renderer.device_function(np.asarray(batch.loglam, np.float64), tuple(shape))
    if fn is None:
        return None
    import jax

    host = np.asarray(renderer.render(batch, shape), np.float32)
    device = np.asarray(jax.jit(fn)(batch.flux.astype(np.float32), batch.ivar.astype(np.float32)))
    if device.shape != host.shape:
        return float("inf")
    return float(np.max(np.abs(device - host))) if host.size else 0.0


def step_device_mismatch(
    step: Preprocessor, batch: SpectrumBatch, step_function: StepFunction | None = None
) -> float | None:
    """Largest flux or ivar difference (relative to the largest value) between a
    preprocessor and its device version on ``batch`` (``step_function(step, grid)``,
    default ``step.device_function(grid)``); None when it has none."""
    find = step_function or (lambda s, grid: s.device_function(grid))
    fn = find(step, np.asarray(batch.loglam, np.float64))
    if fn is None:
        return None
    import jax

    want = step(batch)
    flux, ivar = jax.jit(fn)(batch.flux.astype(np.float32), batch.ivar.astype(np.float32))
    worst = 0.0
    for got, ref in ((np.asarray(flux), want.flux), (np.asarray(ivar), want.ivar)):
        if got.shape != ref.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)
        worst = max(worst, float(np.max(np.abs(got - ref))) / scale if ref.size else 0.0)
    return worst
