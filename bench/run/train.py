"""One training run: build the model and its feeds, train, and at each requested epoch
count evaluate on the test set and write the cell. A failing plugin fails its own cells,
never the matrix."""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bench.feed import Feed, Pipeline
from bench.interfaces import Model
from bench.pipeline import build_pipeline, renderer_for
from bench.plugins.manager import Registry
from bench.results.metrics import compute_metrics
from bench.run.events import Events
from bench.run.plan import Cell, TrainTask
from bench.run.rundir import CellFiles, RunDir, cell_path
from bench.spectra import SpectrumSource


@dataclass
class Trainee:
    """A model built for one training run, with its pipeline and feeds."""

    model: Model
    pipeline: Pipeline
    train: Feed
    test: Feed
    test_source: SpectrumSource
    validation: Feed | None = None
    test_properties: dict[str, np.ndarray] | None = None  # per-object S/N, magnitude
    history: dict[str, list[float]] = field(default_factory=dict)
    fit_s: float = 0.0
    done_epochs: int = 0


def train_run(
    task: TrainTask,
    registry: Registry,
    source: SpectrumSource,
    test_source: SpectrumSource,
    events: Events,
) -> list[dict[str, Any]]:
    """Train ``task``'s model on its split, snapshotting a cell at each epoch count;
    cells already finished with a matching key are kept as they are."""
    run_dir = RunDir(task.run_dir)
    cells = task.cells()
    cached = {} if task.fresh else cached_results(task, run_dir)
    if len(cached) == len(cells):  # every cell finished before: no model is built
        for cell in cells:
            events.cell_finished(cell, cached[cell.id])
        return [cached[cell.id] for cell in cells]
    try:
        trainee = _build(task, registry, source, test_source)
    except Exception as exc:  # noqa: BLE001 - a failing plugin fails its cells, not the run
        return [cached.get(c.id) or failed_result(c, exc, run_dir, events) for c in cells]
    results = []
    for cell in cells:
        try:
            result = cached.get(cell.id)
            _train_to(trainee, cell.epochs)
            if result is None:  # else: trained through it to reach later cells; kept as it was
                result = _evaluate_and_write(trainee, task, cell, run_dir)
        except Exception as exc:  # noqa: BLE001
            results.append(failed_result(cell, exc, run_dir, events))
            continue
        events.cell_finished(cell, result)
        results.append(result)
    return results


def cached_results(task: TrainTask, run_dir: RunDir) -> dict[str, dict[str, Any]]:
    """The finished cells of ``task`` whose cache key matches, by cell id."""
    found = {c.id: run_dir.load_result(c.id, task.keys[c.epochs]) for c in task.cells()}
    return {cell_id: result for cell_id, result in found.items() if result is not None}


def _build(
    task: TrainTask, registry: Registry, source: SpectrumSource, test_source: SpectrumSource
) -> Trainee:
    config, spec = task.config, task.model
    model: Model = registry.create("model", spec.name, spec.params, f"model {spec.label}")
    shape = model.input_shape(len(source.loglam))
    render = renderer_for(model, spec, config.render)
    pipeline = build_pipeline(registry, config.preprocess, render, shape)
    batch_size = model.params.get("batch_size") or config.protocol.batch_size
    classes, split = config.classes, task.split
    train = Feed(source, split.train, pipeline, classes, batch_size, shuffle=True, seed=task.seed)
    test = Feed(test_source, split.test, pipeline, classes, batch_size)
    validation = None
    if len(split.validation):
        validation = Feed(source, split.validation, pipeline, classes, batch_size)
    model.build(shape, classes, task.seed)
    return Trainee(model, pipeline, train, test, test_source, validation)


def _train_to(trainee: Trainee, epochs: int) -> None:
    t0 = time.perf_counter()
    history = trainee.model.fit(
        trainee.train, trainee.validation, epochs=epochs, initial_epoch=trainee.done_epochs
    )
    trainee.fit_s += time.perf_counter() - t0
    trainee.done_epochs = epochs
    for key, values in history.items():
        trainee.history.setdefault(key, []).extend(float(v) for v in values)


def _evaluate_and_write(
    trainee: Trainee, task: TrainTask, cell: Cell, run_dir: RunDir
) -> dict[str, Any]:
    t0 = time.perf_counter()
    proba = np.asarray(trainee.model.predict_proba(trainee.test), dtype=np.float64)
    predict_s = time.perf_counter() - t0
    classes, source, test_index = task.config.classes, trainee.test_source, task.split.test
    check_plugin_output(
        trainee.model.name,
        proba,
        trainee.history,
        (len(test_index), len(classes)),
        cell.epochs,
        validation=trainee.validation is not None,
    )
    if trainee.test_properties is None:  # once per training run, not per epoch count
        trainee.test_properties = source.object_properties(test_index)
    properties = trainee.test_properties
    metrics = compute_metrics(
        trainee.test.y,
        proba,
        classes,
        redshift=source.redshift[test_index],
        snr=properties["snr"],
        seed=cell.seed,
        magnitude=properties["magnitude"],
    )
    key = task.keys[cell.epochs]
    result = {
        "cell": {**asdict(cell), "id": cell.id},
        "status": "ok",
        "history": {k: list(v) for k, v in trainee.history.items()},
        "metrics": metrics,
        "timings": _timings(trainee, predict_s),
        "n_train": len(task.split.train),
        "n_validation": len(task.split.validation),
        "n_test": len(test_index),
        "model_info": dict(trainee.model.describe()),
        "path": cell_path(cell.id),
        "cache_key": key,
        "reused": False,
    }
    files = CellFiles(
        config=_cell_config(trainee, cell, classes, key),
        result=result,
        header=["id", "true", "predicted", *(f"p_{c}" for c in classes)],
        rows=_prediction_rows(source.ids[test_index].astype(str), trainee.test.y, proba, classes),
    )
    run_dir.write_cell(cell.id, trainee.model.save, files)
    return result


HISTORY_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")


class PluginOutputError(ValueError):
    """A model plugin returned something the report cannot hold; fails that cell only."""


def check_plugin_output(
    model: str,
    proba: np.ndarray,
    history: dict[str, list[float]],
    shape: tuple[int, int],
    epochs: int,
    validation: bool = True,
) -> None:
    """Check what a model returned before it is stored: ``proba`` of ``shape`` (test
    spectra x classes), finite, in [0, 1], rows summing to 1; a history with ``loss`` and
    ``accuracy`` (and ``val_*`` when there was a validation set), one value per epoch."""
    if proba.shape != shape:
        raise PluginOutputError(
            f"model {model!r}: predict_proba gave shape {proba.shape}, expected {shape}"
        )
    if not np.all(np.isfinite(proba)):
        raise PluginOutputError(f"model {model!r}: predict_proba gave NaN or infinite values")
    sums = proba.sum(axis=1)
    if proba.min(initial=0.0) < -1e-6 or not np.allclose(sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise PluginOutputError(
            f"model {model!r}: predict_proba rows must be probabilities summing to 1 "
            f"(row {worst} sums to {sums[worst]:.4g})"
        )
    keys = [k for k in HISTORY_KEYS if validation or not k.startswith("val_")]
    missing = [k for k in keys if k not in history]
    if missing:
        raise PluginOutputError(
            f"model {model!r}: fit's history lacks {', '.join(missing)} "
            f"(it must return {', '.join(keys)})"
        )
    for key in keys:
        if len(history[key]) != epochs:
            raise PluginOutputError(
                f"model {model!r}: fit's history[{key!r}] has {len(history[key])} values "
                f"after {epochs} epochs, expected one per epoch"
            )


def _timings(trainee: Trainee, predict_s: float) -> dict[str, float]:
    """Wall time of fit and predict, and where the model says fit's time went (compile,
    data, steps: :meth:`bench.interfaces.Model.timing`, summed since ``build``)."""
    timings = {"fit_s": round(trainee.fit_s, 3), "predict_s": round(predict_s, 3)}
    for key, value in dict(trainee.model.timing()).items():
        if key not in timings and isinstance(value, int | float):
            timings[key] = round(float(value), 3)
    return timings


def _prediction_rows(
    ids: np.ndarray, y: np.ndarray, proba: np.ndarray, classes: list[str]
) -> list[list[Any]]:
    pred = np.argmax(proba, axis=1)
    return [
        [ids[i], classes[y[i]], classes[pred[i]], *(f"{p:.6g}" for p in proba[i])]
        for i in range(len(ids))
    ]


def _cell_config(trainee: Trainee, cell: Cell, classes: list[str], key: str) -> dict[str, Any]:
    """``cell.json``: all that `bench predict` needs to apply the trained model."""
    model, loglam = trainee.model, trainee.test_source.loglam
    return {
        "cell": asdict(cell),
        "cache_key": key,
        "classes": classes,
        "model": {"name": model.name, "params": model.params, "input_kind": model.input_kind},
        "pipeline": trainee.pipeline.to_config(),
        "grid": {
            "loglam0": float(loglam[0]),
            "n_pixels": len(loglam),
            "dloglam": float(loglam[1] - loglam[0]),
        },
    }


def failed_result(
    cell: Cell, exc: BaseException, run_dir: RunDir, events: Events
) -> dict[str, Any]:
    """Log the traceback of a failed cell and return its result."""
    try:
        log: str | None = run_dir.write_log(cell.id, "".join(traceback.format_exception(exc)))
    except OSError:  # a full or read-only disk: the error itself is still reported
        log = None
    result = {
        "cell": {**asdict(cell), "id": cell.id},
        "status": "failed",
        "error": {
            "type": type(exc).__name__,
            "message": str(exc).splitlines()[0] if str(exc) else "",
            "log": log,
        },
    }
    events.cell_finished(cell, result)
    return result
