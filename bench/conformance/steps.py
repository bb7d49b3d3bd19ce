"""The checks of each plugin kind, run by :func:`bench.conformance.check`.

Each ``*_checks(plugin, run, registry)`` calls ``run(label, step)`` once per property;
a step raises :class:`bench.conformance.Failed` with a message saying what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.conformance.fixtures import (
    CLASSES,
    IMAGE_SHAPES,
    Failed,
    dirty,
    require,
    source_and_feeds,
    spectra,
    temporary_folder,
)
from bench.errors import BenchError
from bench.feed import Feed
from bench.interfaces import Dataset, Model, Preprocessor, Renderer
from bench.plugins.registry import Registry
from bench.spectra import SpectrumBatch, SpectrumSource

Run = Callable[[str, Callable[[], Any]], Any]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def dataset_checks(dataset: Dataset, run: Run, registry: Registry) -> None:
    source = run("open", lambda: _open(dataset))
    if source is None:
        return
    n = len(source.ids)
    index = np.unique([n - 1, 0, n // 2])[::-1]
    batch = run("read", lambda: _read(source, index))
    if batch is not None:
        run("deterministic read", lambda: _read_again(source, index, batch))
    run("describe", lambda: _json_able(source.describe(), "source.describe()"))


def _open(dataset: Dataset) -> SpectrumSource:
    source = dataset.open()
    require(isinstance(source, SpectrumSource), "open() must return a bench.spectra.SpectrumSource")
    n = len(source.ids)
    require(n > 0, "open() returned no spectra; check the dataset's options (e.g. its path)")
    for field in ("labels", "redshift"):
        require(
            len(getattr(source, field)) == n,
            f"source.{field} has {len(getattr(source, field))} entries for {n} ids: "
            "give one per spectrum",
        )
    loglam = np.asarray(source.loglam)
    require(
        loglam.ndim == 1 and len(loglam) > 1 and bool(np.all(np.diff(loglam) > 0)),
        "source.loglam must be one increasing log10-wavelength grid",
    )
    return source


def _read(source: SpectrumSource, index: np.ndarray) -> SpectrumBatch:
    batch = source.read(index)
    require(isinstance(batch, SpectrumBatch), "read(index) must return a SpectrumBatch")
    require(len(batch) == len(index), f"read() of {len(index)} indices gave {len(batch)} spectra")
    require(
        list(batch.ids) == list(source.ids[index]),
        "read(index) must return the spectra in the order of index (ids differ from source.ids)",
    )
    require(
        list(batch.labels) == list(source.labels[index]),
        "read(index) labels differ from source.labels[index]",
    )
    require(
        _same(np.asarray(batch.loglam), np.asarray(source.loglam)),
        "read() must return spectra on source.loglam (use bench.spectra.to_grid)",
    )
    require(batch.flux.dtype.kind == "f", f"flux must be floating point, got {batch.flux.dtype}")
    return batch


def _read_again(source: SpectrumSource, index: np.ndarray, first: SpectrumBatch) -> None:
    again = source.read(index)
    require(
        _same(first.flux, again.flux) and _same(first.ivar, again.ivar),
        "reading the same index twice gave different flux/ivar: seed any randomness per object",
    )


def preprocessor_checks(step: Preprocessor, run: Run, registry: Registry) -> None:
    batch = dirty(spectra(n=12))
    out = run("same spectra", lambda: _preprocess(step, batch))
    if out is not None:
        run("finite output", lambda: _finite(out))
        run("deterministic", lambda: _same_output(step, batch, out))
        run("device version agrees", lambda: _step_on_device(step, spectra(n=12)))


def _step_on_device(step: Preprocessor, batch: SpectrumBatch) -> None:
    """A preprocessor's ``device_function`` (when it has one) gives its numpy output."""
    from bench.feed.device import step_device_mismatch

    worst = step_device_mismatch(step, batch)
    if worst is not None:
        require(
            worst <= 1e-4,
            f"device_function() differs from __call__() by {worst:.3g} (relative); "
            "expected <= 1e-4",
        )


def _preprocess(step: Preprocessor, batch: SpectrumBatch) -> SpectrumBatch:
    out = step(batch)
    require(isinstance(out, SpectrumBatch), "__call__(batch) must return a SpectrumBatch")
    require(
        list(out.ids) == list(batch.ids) and list(out.labels) == list(batch.labels),
        "the output must hold the same spectra in the same order (ids/labels changed)",
    )
    require(
        out.flux.shape == (len(batch), len(out.loglam)),
        f"flux {out.flux.shape} does not match {len(batch)} spectra x {len(out.loglam)} pixels",
    )
    return out


def _finite(out: SpectrumBatch) -> None:
    for field in ("flux", "ivar"):
        values = getattr(out, field)
        bad = int((~np.isfinite(values)).sum())
        require(
            bad == 0,
            f"{bad} non-finite {field} values out for input with NaN/inf flux and zero ivar: "
            "replace them (e.g. np.nan_to_num) and set ivar 0 there",
        )


def _same_output(step: Preprocessor, batch: SpectrumBatch, first: SpectrumBatch) -> None:
    require(_same(step(batch).flux, first.flux), "the same batch gave different flux twice")


def renderer_checks(renderer: Renderer, run: Run, registry: Registry) -> None:
    batch = spectra(n=6)
    try:
        renderer.render(batch, IMAGE_SHAPES[0])
    except BenchError:  # refuses image shapes: a flux renderer
        for length in (len(batch.loglam), 128):
            run(f"shape ({length}, 1)", partial(_render, renderer, batch, (length, 1)))
        return
    except Exception:  # noqa: BLE001,S110 - reported by the shape check below
        pass
    for shape in IMAGE_SHAPES:
        run(f"shape {shape}", partial(_render, renderer, batch, shape, image=True))
    run("device version agrees", partial(_render_on_device, renderer, batch, IMAGE_SHAPES[0]))


def _render_on_device(renderer: Renderer, batch: SpectrumBatch, shape: tuple[int, ...]) -> None:
    """A renderer's ``device_function`` (when it has one) draws its numpy pixels."""
    from bench.feed.device import device_mismatch

    worst = device_mismatch(renderer, batch, shape)
    if worst is not None:
        require(
            worst <= 1e-4,
            f"device_function() pixels differ from render() by {worst:.3g}; expected <= 1e-4",
        )


def _render(
    renderer: Renderer, batch: SpectrumBatch, shape: tuple[int, ...], image: bool = False
) -> None:
    x = np.asarray(renderer.render(batch, shape))
    want = (len(batch), *shape)
    require(x.shape == want, f"render(batch, {shape}) returned shape {x.shape}; return {want}")
    require(x.dtype == np.float32, f"render() returned {x.dtype}; return float32 (x.astype)")
    require(bool(np.isfinite(x).all()), "render() returned NaN/inf values; return finite values")
    if image:
        require(
            float(x.min()) >= 0 and float(x.max()) <= 1,
            f"image values must lie in [0, 1]; got [{x.min():.3g}, {x.max():.3g}]: rescale",
        )


def model_checks(model: Model, run: Run, registry: Registry) -> None:
    fitted = run("build and fit", lambda: _build_fit(model, registry))
    if fitted is None:
        return
    _, train, test, _, history = fitted
    run("fit history", lambda: _history(history, 1, validation=True))
    run("describe", lambda: _json_able(model.describe(), "describe()"))
    raw = run("predict_proba shape", lambda: _predictions(model, test))
    if raw is None:
        return
    run("probabilities", lambda: _proba(raw))
    run("save/load", lambda: _round_trip(model, _fresh(model, registry), test, raw))
    run("deterministic", lambda: _deterministic(_fresh(model, registry), registry, raw))
    run("fit continuation", lambda: _continue(model, train, test))


def _fresh(model: Model, registry: Registry) -> Model:
    """A new instance of ``model``'s class with its params, members made as the core does."""
    fresh = type(model)(**model.params)
    fresh.make_members(registry.model_factory)
    return fresh


def _build_fit(model: Model, registry: Registry) -> tuple[Any, ...]:
    source, train, test, shape = source_and_feeds(model, registry)
    model.build(shape, list(CLASSES), 0)
    history = model.fit(train, test, epochs=1, initial_epoch=0)
    return source, train, test, shape, history


def _history(history: Any, epochs: int, validation: bool = False) -> None:
    require(isinstance(history, dict), "fit() must return a dict of per-epoch lists")
    keys = ("loss", "accuracy", "val_loss", "val_accuracy") if validation else ("loss", "accuracy")
    for key in keys:
        got = len(history.get(key, []))
        with_validation = " given validation data" if key.startswith("val_") else ""
        require(
            got == epochs,
            f"fit(){with_validation} must return history[{key!r}] with one value per epoch "
            f"run in this call; got {got} for {epochs}",
        )


def _json_able(value: Any, what: str) -> None:
    import json

    try:
        json.dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise Failed(
            f"{what} must return a JSON-able mapping (it goes in the report): {exc}"
        ) from None


def _predictions(model: Model, feed: Feed) -> np.ndarray:
    p = np.asarray(model.predict_proba(feed), dtype=np.float64)
    want = (feed.n_samples, len(CLASSES))
    require(p.shape == want, f"predict_proba returned shape {p.shape}; expected {want}")
    return p


def _proba(p: np.ndarray) -> None:
    require(bool(np.isfinite(p).all()), "predict_proba returned NaN/inf probabilities")
    require(float(p.min()) >= 0, f"probabilities must be >= 0; got {p.min():.3g}: apply a softmax")
    sums = p.sum(axis=1)
    require(
        bool(np.allclose(sums, 1.0, atol=1e-4)),
        f"predict_proba rows must sum to 1; got sums in [{sums.min():.3g}, {sums.max():.3g}]: "
        "apply a softmax",
    )


def _round_trip(model: Model, fresh: Model, test: Feed, proba: np.ndarray) -> None:
    with temporary_folder() as folder:
        model.save(Path(folder) / "model")
        fresh.load(Path(folder) / "model")
    again = _predictions(fresh, test)
    diff = float(np.abs(again - proba).max())
    require(
        diff <= 1e-6,
        f"after save() and load() predictions differ by up to {diff:.3g}: "
        "save every weight and setting that predict_proba uses",
    )


def _deterministic(other: Model, registry: Registry, proba: np.ndarray) -> None:
    _, train, test, shape = source_and_feeds(other, registry)
    other.build(shape, list(CLASSES), 0)
    other.fit(train, test, epochs=1, initial_epoch=0)
    again = _predictions(other, test)
    diff = float(np.abs(again - proba).max())
    require(
        diff <= 1e-6,
        f"two builds with seed 0 predict differently (up to {diff:.3g}): "
        "seed every random generator from build()'s seed",
    )


def _continue(model: Model, train: Any, test: Any) -> None:
    _history(model.fit(train, None, epochs=2, initial_epoch=1), 1)
    _predictions(model, test)
