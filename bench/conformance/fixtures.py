"""What the conformance checks run on: a few synthetic-like spectra of three classes, a
dirty copy of them, and the feeds a model is trained on; ``Failed`` and ``require``."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.feed import Feed, Pipeline
from bench.interfaces import Model, Plugin
from bench.options import Option
from bench.plugins.manager import get_registry
from bench.plugins.registry import Registry
from bench.spectra import CLASSES, ArraySource, SpectrumBatch, SpectrumSource, boss_grid

IMAGE_SHAPES = ((28, 28, 1), (32, 32, 3), (20, 36, 1))
OPTION_TYPES = (int, float, str, bool, list, dict)


class Failed(Exception):
    """Raised by a check: its message is shown to the plugin author."""


def require(ok: bool, message: str) -> None:
    if not ok:
        raise Failed(message)


def spectra(n: int = 42, n_pixels: int = 400, seed: int = 0) -> SpectrumBatch:
    """``n`` spectra of 3 classes on a slice of the BOSS grid, each class with its own
    feature (a star's absorption dip, a galaxy's narrow line, a quasar's broad line)."""
    rng = np.random.default_rng(seed)
    loglam = boss_grid()[1000 : 1000 + n_pixels]
    x = np.arange(n_pixels)
    labels = np.array([CLASSES[i % 3] for i in range(n)], dtype=object)
    flux = 10 + rng.normal(0, 0.5, (n, n_pixels))
    shapes = {
        "STAR": -4 * np.exp(-0.5 * ((x - 0.3 * n_pixels) / 4) ** 2),
        "GALAXY": 8 * np.exp(-0.5 * ((x - 0.5 * n_pixels) / 2) ** 2),
        "QSO": 6 * np.exp(-0.5 * ((x - 0.7 * n_pixels) / 15) ** 2),
    }
    flux += np.stack([shapes[str(label)] for label in labels])
    return SpectrumBatch(
        ids=np.array([f"check-{i}" for i in range(n)], dtype=object),
        loglam=loglam,
        flux=flux.astype(np.float32),
        ivar=np.full((n, n_pixels), 4.0, np.float32),
        mask=np.zeros((n, n_pixels), np.int32),
        labels=labels,
        redshift=np.where(labels == "STAR", 0.0, np.where(labels == "GALAXY", 0.1, 1.5)),
        snr=np.full(n, 20.0, np.float32),
    )


def dirty(batch: SpectrumBatch) -> SpectrumBatch:
    """A copy with the defects real files have: NaN and inf flux, zero and negative ivar,
    mask bits, one spectrum with no measurement at all."""
    flux, ivar, mask = batch.flux.copy(), batch.ivar.copy(), batch.mask.copy()
    flux[0, 5], flux[1, 7], flux[2, 9] = np.nan, np.inf, -np.inf
    ivar[0, 5] = ivar[1, 7] = ivar[2, 9] = 0
    ivar[3, 20:40] = 0
    ivar[4, 50] = -1
    mask[5, 60:70] = 1 << 23
    ivar[6] = 0
    return batch.with_arrays(flux=flux, ivar=ivar, mask=mask)


def check_options(cls: type[Plugin], options: Mapping[str, Any]) -> Plugin:
    """Declared options are typed Options with a help text and a valid default."""
    seen: set[str] = set()
    for o in cls.options:
        require(isinstance(o, Option), f"options must hold bench.options.Option, got {o!r}")
        require(o.name not in seen, f"option {o.name!r} is declared twice")
        seen.add(o.name)
        require(
            o.type in OPTION_TYPES,
            f"option {o.name!r}: type {o.type!r} is not one of int, float, str, bool, list, dict",
        )
        require(bool(o.help.strip()), f"option {o.name!r}: give it a one-line help text")
        try:
            o.check(o.default, cls.name)
        except BenchError as exc:
            raise Failed(f"option {o.name!r}: default is not valid ({exc}); fix it") from None
    try:
        return cls(**dict(options))
    except BenchError as exc:
        raise Failed(
            f"{cls.__name__}({', '.join(f'{k}=...' for k in options)}) raised: {exc}; "
            "give every option a working default, or pass the required ones "
            "(--option key=value)"
        ) from None


def source_and_feeds(
    model: Model, registry: Registry, seed: int = 0
) -> tuple[SpectrumSource, Feed, Feed, tuple[int, ...]]:
    """~40 spectra of 3 classes fed the way the runner feeds ``model`` (train 30, test 12)."""
    source = ArraySource(spectra())
    shape = tuple(model.input_shape(len(source.loglam)))
    try:
        renderer = registry.default_renderer(model.input_kind)
    except BenchError:  # a registry without the built-ins
        registry = get_registry(third_party=False)
        renderer = registry.default_renderer(model.input_kind)
    pipeline = Pipeline([], registry.create("renderer", renderer, {}, "render"), shape)
    batch_size = int(model.params.get("batch_size") or 16)
    index = np.arange(len(source))
    train = Feed(source, index[:30], pipeline, CLASSES, batch_size, shuffle=True, seed=seed)
    test = Feed(source, index[30:], pipeline, CLASSES, batch_size)
    return source, train, test, shape


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-check-")
