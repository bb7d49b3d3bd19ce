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
from bench.plugins.registry import Registry
from bench.results import flags
from bench.results.metrics import compute_metrics
from bench.results.objects import fact_text, model_facts, object_facts, top_mistakes
from bench.run.events import Events, epoch_text, first_fit_stage
from bench.run.guard import CellTimeout, Guard, one_line, orphan_watch
from bench.run.inputrange import training_range
from bench.run.output_checks import check_plugin_output
from bench.run.pipeline import build_pipeline, renderer_for
from bench.run.plan import Cell, TrainTask
from bench.spectra import SpectrumSource
from bench.store.rundir import CellFiles, RunDir, StoredCell, cell_path


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
    test_flags: np.ndarray | None = None  # the core's zwarning bits of the test spectra
    history: dict[str, list[float]] = field(default_factory=dict)
    fit_s: float = 0.0
    done_epochs: int = 0
    input_range: dict[str, Any] | None = None  # of the training spectra, for `bench predict`


def train_run(
    task: TrainTask,
    registry: Registry,
    source: SpectrumSource,
    test_source: SpectrumSource,
    events: Events,
) -> list[dict[str, Any]]:
    """Train ``task``'s model on its split, snapshotting a cell at each epoch count;
    whole cells already finished with a matching key are kept as they are. Whatever the
    plugin raises or calls (``sys.exit`` included) fails its cells; only the user's own
    Ctrl-C stops the run (:mod:`bench.run.guard`)."""
    run_dir = RunDir(task.run_dir)
    cells = task.cells()
    cached = {} if task.fresh else cached_results(task, run_dir, events)
    if len(cached) == len(cells):  # every cell finished before: no model is built
        for cell in cells:
            events.cell_finished(cell, cached[cell.id])
        return [cached[cell.id] for cell in cells]
    with Guard(getattr(task.config.protocol, "cell_timeout_s", None)) as guard:
        if task.owner:
            orphan_watch(task.owner)
        return _train_cells(task, registry, (source, test_source), events, cached, guard)


def _train_cells(
    task: TrainTask,
    registry: Registry,
    sources: tuple[SpectrumSource, SpectrumSource],
    events: Events,
    cached: dict[str, dict[str, Any]],
    guard: Guard,
) -> list[dict[str, Any]]:
    run_dir, cells = RunDir(task.run_dir), task.cells()
    results: list[dict[str, Any]] = []
    trainee: Trainee | None = None
    stopped: BaseException | None = None  # a time limit: the model is mid-fit, unusable
    for cell in cells:
        if stopped is not None:
            results.append(cached.get(cell.id) or failed_result(cell, stopped, run_dir, events))
            continue
        try:
            with guard.limit():
                if trainee is None:
                    events.stage(cell, "loading")
                    trainee = _build(task, registry, *sources)
                result = cached.get(cell.id)
                _train_to(trainee, cell, events)
                if result is None:  # else: trained through it to reach later cells; kept
                    events.stage(cell, "evaluating")
                    result = _evaluate_and_write(trainee, task, cell, run_dir)
        except BaseException as exc:
            if not guard.is_failure(exc):
                raise
            if trainee is None or isinstance(exc, CellTimeout):
                stopped = exc  # no model, or one stopped mid-fit: the later cells fail too
            results.append(cached.get(cell.id) or failed_result(cell, exc, run_dir, events))
            continue
        events.cell_finished(cell, result)
        results.append(result)
    return results


def cached_results(
    task: TrainTask, run_dir: RunDir, events: Events | None = None
) -> dict[str, dict[str, Any]]:
    """The whole finished cells of ``task`` whose cache key matches, by cell id: from this
    run folder, else from the earlier runs of the benchmark (``task.earlier``, linked in).
    A cell found but not reusable is retrained; ``events`` is told why."""
    found = {}
    for cell in task.cells():
        key, n_rows = task.keys[cell.epochs], len(task.split.test)
        stored = run_dir.inspect_cell(cell.id, key, n_rows)
        if stored.result is None:
            stored = _from_earlier(task, run_dir, cell, stored, events)
        if stored.result is not None:
            found[cell.id] = stored.result
        elif stored.reason and events is not None:
            why = _code_change(task, stored.config) or stored.reason
            events.message(f"{cell.id}: retrained: {why}")
    return found


def _from_earlier(
    task: TrainTask, run_dir: RunDir, cell: Cell, stored: StoredCell, events: Events | None
) -> StoredCell:
    """The cell from the newest earlier run that has it whole with this key, linked into
    ``run_dir``; ``stored`` (what this folder holds) when none has it."""
    key, n_rows = task.keys[cell.epochs], len(task.split.test)
    for earlier in task.earlier:
        found = RunDir(earlier).inspect_cell(cell.id, key, n_rows)
        if found.result is None:
            continue
        if task.owner:
            run_dir.check_owner(task.owner)
        try:
            run_dir.adopt_cell(cell.id, RunDir(earlier).cell(cell.id))
        except OSError:  # replaced or removed by its own run meanwhile: try the next
            continue
        mine = run_dir.inspect_cell(cell.id, key, n_rows)
        if mine.result is not None:
            if events is not None:
                events.message(f"{cell.id}: reused from {earlier}")
            return mine
    return stored


def _code_change(task: TrainTask, stored: dict[str, Any] | None) -> str:
    """``the code of model centroid changed`` when a stored cell's plugin code differs."""
    before = stored.get("code") if stored else None
    if not isinstance(before, dict):
        return ""
    changed = [role for role, digest in task.code.items() if before.get(role, digest) != digest]
    return f"the code of {', '.join(changed)} changed" if changed else ""


def _build(
    task: TrainTask, registry: Registry, source: SpectrumSource, test_source: SpectrumSource
) -> Trainee:
    config, spec = task.config, task.model
    model: Model = registry.create("model", spec.name, spec.params, f"model {spec.label}")
    shape = model.input_shape(len(source.loglam))
    render = renderer_for(model, spec, config.render, registry)
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


def _train_to(trainee: Trainee, cell: Cell, events: Events) -> None:
    epochs = cell.epochs
    if trainee.done_epochs == 0:
        events.stage(cell, first_fit_stage(trainee.model))

    def progress(epoch: int, logs: dict[str, float]) -> None:
        events.stage(cell, epoch_text(epoch, epochs, logs))

    trainee.model.progress = progress
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
    facts = _facts(trainee, test_index, properties, classes)
    validation, validation_arrays = _on_validation(trainee, task, cell)
    result = {
        "cell": {**asdict(cell), "id": cell.id},
        "status": "ok",
        "history": {k: list(v) for k, v in trainee.history.items()},
        "metrics": metrics | {"warnings": flags.summary(trainee.test.y, proba, facts["zwarning"])},
        "timings": _timings(trainee, predict_s),
        "n_train": len(task.split.train),
        "n_validation": len(task.split.validation),
        "n_test": len(test_index),
        "model_info": dict(trainee.model.describe()),
        "path": cell_path(cell.id),
        "cache_key": key,
        "reused": False,
        **validation,
    }
    config = _cell_config(trainee, cell, classes, key, task.code)
    config["input_range"] = _input_range(trainee, task, cell)
    files = CellFiles(
        config=config,
        result=result,
        header=["id", "true", "predicted", *(f"p_{c}" for c in classes), *facts],
        rows=_prediction_rows(source.ids[test_index].astype(str), trainee.test.y, proba, classes),
        arrays=_mistakes(trainee, test_index, proba) | validation_arrays,
    )
    for row, *values in zip(files.rows, *facts.values(), strict=True):
        row += [fact_text(v) for v in values]
    if task.owner:
        run_dir.check_owner(task.owner)
    run_dir.write_cell(cell.id, trainee.model.save, files)
    return result


def _input_range(trainee: Trainee, task: TrainTask, cell: Cell) -> dict[str, Any]:
    """The training spectra's S/N and flux-scale range (once per training run)."""
    if trainee.input_range is None:
        trainee.input_range = training_range(trainee.train.source, task.split.train, cell.seed)
    return trainee.input_range


def _on_validation(
    trainee: Trainee, task: TrainTask, cell: Cell
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tested on another dataset (real files, say): the model on its validation split too,
    for the report's synthetic-against-real table (:mod:`bench.results.transfer`): the
    result's ``validation_metrics`` and the per-object predictions for ``mistakes.npz``.
    Nothing when the test set is the training dataset's."""
    if not task.split.separate_test or trainee.validation is None:
        return {}, {}
    from bench.results.transfer import validation_arrays, validation_metrics

    feed, classes, t0 = trainee.validation, task.config.classes, time.perf_counter()
    proba = np.asarray(trainee.model.predict_proba(feed), dtype=np.float64)
    figures = validation_metrics(feed.y, proba, classes, cell.seed)
    figures["predict_s"] = round(time.perf_counter() - t0, 3)  # what the table costs
    return {"validation_metrics": figures}, validation_arrays(
        feed.source.ids[feed.index], feed.y, proba
    )


def _facts(
    trainee: Trainee, test_index: np.ndarray, properties: dict[str, np.ndarray], classes: list[str]
) -> dict[str, np.ndarray]:
    """What predictions.csv adds per object: the source's facts, its S/N and magnitude,
    the model's own columns (:func:`bench.results.objects.model_facts`: ``z_<CLASS>``...)
    and ``zwarning``: the core's data bits OR'ed with the model's (:mod:`bench.results.flags`)."""
    facts = object_facts(trainee.test_source, test_index)
    for name in ("snr", "magnitude"):
        if name not in facts and np.isfinite(properties[name]).any():
            facts[name] = properties[name]
    for name, values in model_facts(trainee.model, trainee.test, classes).items():
        facts.setdefault(name, values)
    if trainee.test_flags is None:  # read once per training run
        trainee.test_flags = flags.data_flags(trainee.test_source, test_index)
    facts["zwarning"] = flags.combined(trainee.test_flags, facts.get("zwarning"))
    return facts


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


def _mistakes(trainee: Trainee, test_index: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """The most confident mistakes per (true, predicted) pair, for the report's gallery:
    flux on the grid, the input the model saw, ids, redshift, probabilities."""
    picked = top_mistakes(trainee.test.y, proba, per_pair=2)
    source = trainee.test_source
    index = test_index[picked]
    batch = source.read(index) if len(index) else None
    inputs = trainee.pipeline.apply(batch) if batch is not None else np.zeros((0,))
    return {
        "ids": source.ids[index].astype(str),
        "true": trainee.test.y[picked],
        "proba": proba[picked].astype(np.float32),
        "redshift": np.asarray(source.redshift, dtype=np.float64)[index],
        "loglam": np.asarray(source.loglam, dtype=np.float32),
        "flux": batch.flux.astype(np.float16) if batch is not None else np.zeros((0,)),
        "inputs": _compact(np.asarray(inputs), trainee.model.input_kind),
    }


def _compact(inputs: np.ndarray, input_kind: str) -> np.ndarray:
    """Images in [0, 1] as uint8 (x 255), flux vectors as float16: a few kB per cell."""
    if input_kind == "image":
        return np.round(np.clip(inputs, 0.0, 1.0) * 255).astype(np.uint8)
    return inputs.astype(np.float16)


def _cell_config(
    trainee: Trainee, cell: Cell, classes: list[str], key: str, task_code: dict[str, str]
) -> dict[str, Any]:
    """``cell.json``: all that `bench predict` needs to apply the trained model."""
    model, loglam = trainee.model, trainee.test_source.loglam
    return {
        "cell": asdict(cell),
        "cache_key": key,
        "code": task_code,
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
            "message": one_line(exc),
            "log": log,
        },
    }
    events.cell_finished(cell, result)
    return result
