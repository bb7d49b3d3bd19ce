"""The conformance suite plugin authors run against their plugin (``bench check-plugin``).

``check(kind, name)`` builds the plugin with tiny inputs on a few synthetic-like spectra
and returns one :class:`CheckResult` per property; each failure says what to fix.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.errors import BenchError, closest
from bench.feed import Feed, Pipeline
from bench.interfaces import Dataset, Model, Plugin, Preprocessor, Renderer
from bench.options import Option
from bench.plugins.manager import KINDS, SPECTRUM_KINDS, Registry, get_registry
from bench.spectra import ArraySource, SpectrumBatch, SpectrumSource, boss_grid

CLASSES = ("STAR", "GALAXY", "QSO")
IMAGE_SHAPES = ((28, 28, 1), (32, 32, 3), (20, 36, 1))
OPTION_TYPES = (int, float, str, bool, list)


@dataclass(frozen=True)
class CheckResult:
    """One property of one plugin: passed, or failed with a message saying what to fix."""

    kind: str
    name: str
    check: str
    ok: bool
    message: str = ""


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
            f"option {o.name!r}: type {o.type!r} is not one of int, float, str, bool, list",
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


def resolve_kind(name: str, registry: Registry) -> str:
    """The one kind that has a plugin ``name``; BenchError when none or several do."""
    kinds = [kind for kind in SPECTRUM_KINDS if name in registry.classes[kind]]
    if len(kinds) == 1:
        return kinds[0]
    if kinds:
        raise BenchError(f"plugin {name!r} is a {' and a '.join(kinds)}; give the kind first")
    every = {n for kind in SPECTRUM_KINDS for n in registry.classes[kind]}
    raise BenchError(f"no plugin named {name!r}{closest(name, every)}; see `bench plugins`")


def check(
    kind: str,
    name: str,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> list[CheckResult]:
    """Run the conformance checks of plugin ``name`` of ``kind`` built with ``options``."""
    if kind not in SPECTRUM_KINDS:
        raise BenchError(f"kind {kind!r} is not valid; expected one of {list(SPECTRUM_KINDS)}")
    registry = registry or get_registry()
    cls = registry.get(kind, name)
    results: list[CheckResult] = []

    def run(label: str, step: Callable[[], Any]) -> Any:
        try:
            value = step()
        except Failed as exc:
            results.append(CheckResult(kind, name, label, False, str(exc)))
            return None
        except Exception as exc:  # noqa: BLE001 - a crash is a failed check, not a traceback
            message = f"raised {type(exc).__name__}: {exc}".splitlines()[0]
            if isinstance(exc, BenchError):
                message += " (options the plugin needs: --option key=value, or options={...})"
            results.append(CheckResult(kind, name, label, False, message))
            return None
        results.append(CheckResult(kind, name, label, True))
        return value if value is not None else True

    options = dict(options or {})
    if kind == "model":
        from bench.backend import ensure_jax_backend

        ensure_jax_backend()  # before any Keras model imports keras
        options = {**getattr(cls, "quick_options", {}), **options}
    plugin = run("options", lambda: check_options(cls, options))
    if plugin is None:
        return results
    from bench.conformance import steps

    suites: dict[type[Plugin], Callable[..., None]] = {
        Dataset: steps.dataset_checks,
        Preprocessor: steps.preprocessor_checks,
        Renderer: steps.renderer_checks,
        Model: steps.model_checks,
    }
    suites[KINDS[kind]](plugin, run, registry)
    return results


def source_and_feeds(
    model: Model, registry: Registry, seed: int = 0
) -> tuple[SpectrumSource, Feed, Feed, tuple[int, ...]]:
    """~40 spectra of 3 classes fed the way the runner feeds ``model`` (train 30, test 12)."""
    source = ArraySource(spectra())
    shape = tuple(model.input_shape(len(source.loglam)))
    renderer = "line" if model.input_kind == "image" else "none"
    if renderer not in registry.classes["renderer"]:  # a registry without the built-ins
        registry = get_registry(third_party=False)
    pipeline = Pipeline([], registry.create("renderer", renderer, {}, "render"), shape)
    batch_size = int(model.params.get("batch_size") or 16)
    index = np.arange(len(source))
    train = Feed(source, index[:30], pipeline, CLASSES, batch_size, shuffle=True, seed=seed)
    test = Feed(source, index[30:], pipeline, CLASSES, batch_size)
    return source, train, test, shape


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-check-")
