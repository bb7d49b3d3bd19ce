"""The matrix runner: datasets x models x train fractions x seeds, snapshotted at each
epoch count. Each training run trains once and is evaluated at every requested epoch
count (20, 30, 40 -> one run of 40 epochs, three cells), which gives the same cells as
three separate runs because models continue training exactly where they stopped.

Finished cells are reused (see bench.run.cellkey): a training run whose cells are all
cached is skipped without building its model; when only some are cached (a later epoch
count was added, or a run was killed between two snapshots) the run trains again from
scratch and keeps the cached cells as they are, writing only the missing ones."""

from __future__ import annotations

import json
import shutil
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from bench.config import Config, PluginSpec
from bench.data.split import known_label_index, stratified_sample, stratified_split
from bench.errors import BenchError
from bench.executors import Executor
from bench.feed import Feed, Pipeline
from bench.interfaces import Model, Preprocessor, Renderer
from bench.io import atomic_write_text, write_csv
from bench.plugins.manager import Registry, registry_like
from bench.results.metrics import compute_metrics
from bench.run.cellkey import cell_keys, data_fingerprint, load_cached
from bench.spectra import SpectrumSource


@dataclass(frozen=True)
class Cell:
    """One cell of the benchmark matrix."""

    dataset: str
    model: str
    plugin: str
    train_fraction: float
    epochs: int
    seed: int

    @property
    def id(self) -> str:
        return (
            f"{self.dataset}__{self.model}__f{self.train_fraction:g}__e{self.epochs}__s{self.seed}"
        )


class Events(Protocol):
    """What the runner reports while it works (the console draws it)."""

    def run_started(self, n_cells: int) -> None: ...
    def cell_finished(self, cell: Cell, result: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...


class SilentEvents:
    def run_started(self, n_cells: int) -> None:
        pass

    def cell_finished(self, cell: Cell, result: dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        pass


@dataclass
class Split:
    """Positions of the training and test spectra, and where the test ones come from."""

    train: np.ndarray
    test: np.ndarray
    test_source: SpectrumSource


def count_cells(config: Config) -> int:
    p = config.protocol
    return (
        len(config.datasets)
        * len(config.models)
        * len(p["train_fractions"])
        * len(p["epochs"])
        * len(p["seeds"])
    )


def build_pipeline(
    registry: Registry, preprocess: Sequence[PluginSpec], render: PluginSpec, shape: tuple[int, ...]
) -> Pipeline:
    steps: list[Preprocessor] = [
        registry.create("preprocessor", p.name, p.params, "preprocess") for p in preprocess
    ]
    renderer: Renderer = registry.create("renderer", render.name, render.params, "render")
    return Pipeline(steps, renderer, tuple(shape))


def pipeline_from_config(registry: Registry, cfg: dict[str, Any]) -> Pipeline:
    """Rebuild a pipeline from :meth:`Pipeline.to_config` output (a cell's ``cell.json``)."""
    pre = [PluginSpec(p["name"], p["params"]) for p in cfg["preprocess"]]
    render = PluginSpec(cfg["renderer"]["name"], cfg["renderer"]["params"])
    return build_pipeline(registry, pre, render, tuple(cfg["shape"]))


def renderer_for(model: Model | type[Model], spec: PluginSpec, config: Config) -> PluginSpec:
    if spec.render is not None:
        return spec.render
    return config.render if model.input_kind == "image" else PluginSpec("none", {})


@dataclass
class TrainTask:
    """One training run, self-contained and picklable: a worker reopens the dataset from
    its spec (datasets are deterministic) and rebuilds the registry from module names."""

    index: int
    config: Config
    dataset: PluginSpec
    fingerprints: dict[str, str]
    train: np.ndarray
    test: np.ndarray
    separate_test: bool
    model: PluginSpec
    fraction: float
    seed: int
    out_dir: Path
    keys: dict[int, str]
    fresh: bool
    extra_modules: tuple[str, ...] = ()
    entry_points: bool = True


def run_matrix(
    config: Config, registry: Registry, out_dir: Path, events: Events, fresh: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every cell on the configured executor; return the per-cell results (in matrix
    order) and a summary of each dataset.

    Cells already finished in ``out_dir`` with a matching cache key are reused, unless
    ``fresh``."""
    classes = config.benchmark["classes"]
    protocol = config.protocol
    events.run_started(count_cells(config))
    test_source = None
    if config.test_dataset is not None:
        test_source = registry.create(
            "dataset", config.test_dataset.name, config.test_dataset.params, "[test_dataset]"
        ).open()
    executor: Executor = registry.create(
        "executor", config.executor.name, config.executor.params, "[executor]"
    )
    summaries: dict[str, Any] = {}
    fingerprints = {"test": data_fingerprint(test_source)} if test_source is not None else {}
    test_usable = None
    if test_source is not None:
        test_usable = _usable(test_source, classes, protocol, "[test_dataset]")
        summaries["test"] = _summarize(test_source, test_usable, classes)
    tasks: list[TrainTask] = []
    opened: dict[str, tuple[SpectrumSource, SpectrumSource | None]] = {}
    for spec in config.datasets:
        source = registry.create("dataset", spec.name, spec.params, f"dataset {spec.name}").open()
        opened[spec.label] = (source, test_source)
        fingerprints["train"] = data_fingerprint(source)
        usable = _usable(source, classes, protocol, f"dataset {spec.label!r}")
        summaries[spec.label] = _summarize(source, usable, classes)
        for seed in protocol["seeds"]:
            for fraction in protocol["train_fractions"]:
                split = _split(source, usable, test_source, test_usable, fraction, seed, spec.label)
                for model_spec in config.models:
                    model_cls = cast(type[Model], registry.get("model", model_spec.name))
                    render = renderer_for(model_cls, model_spec, config)
                    keys = cell_keys(
                        config, registry, spec, model_spec, render, fraction, seed, fingerprints
                    )
                    task = TrainTask(
                        len(tasks),
                        config,
                        spec,
                        dict(fingerprints),
                        split.train,
                        split.test,
                        test_source is not None,
                        model_spec,
                        fraction,
                        seed,
                        out_dir.resolve(),
                        keys,
                        fresh,
                        registry.extra_modules,
                        registry.entry_points,
                    )
                    tasks.append(task)
    by_task = _execute(executor, tasks, registry, opened, events)
    results = [r for i in range(len(tasks)) for r in by_task[i]]
    n_reused = sum(bool(r.get("reused")) for r in results)
    if n_reused:
        events.message(f"reused {n_reused} finished cells from {out_dir}")
    return results, summaries


def _execute(
    executor: Executor,
    tasks: list[TrainTask],
    registry: Registry,
    opened: dict[str, tuple[SpectrumSource, SpectrumSource | None]],
    events: Events,
) -> dict[int, list[dict[str, Any]]]:
    """Hand the tasks to ``executor``; progress comes from the tasks themselves when they
    run in this process, else from each training run's results as they come back."""
    done: dict[int, list[dict[str, Any]]] = {}
    with executor:
        if executor.in_process:
            fn = partial(run_task, events=events, registry=registry, opened=opened)
            for index, results in executor.map(fn, tasks):
                done[index] = results
            return done
        remote = []
        for task in tasks:
            cached = _all_cached(task)
            if cached is None:
                remote.append(task)
                continue
            done[task.index] = cached
            for result in cached:
                events.cell_finished(_cell_of(result), result)
        try:
            for index, results in executor.map(run_task, remote):
                done[index] = results
                for result in results:
                    events.cell_finished(_cell_of(result), result)
        except BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a lost worker fails the unfinished cells
            events.message(f"executor {executor.name!r} failed: {type(exc).__name__}: {exc}")
            for task in remote:
                if task.index not in done:
                    cells = _task_cells(task)
                    done[task.index] = [_failed(c, exc, task.out_dir, events) for c in cells]
    return done


def _cell_of(result: dict[str, Any]) -> Cell:
    return Cell(**{k: v for k, v in result["cell"].items() if k != "id"})


def _task_cells(task: TrainTask) -> list[Cell]:
    spec = task.model
    return [
        Cell(task.dataset.label, spec.label, spec.name, task.fraction, e, task.seed)
        for e in sorted(task.config.protocol["epochs"])
    ]


def _all_cached(task: TrainTask) -> list[dict[str, Any]] | None:
    if task.fresh:
        return None
    cells = _task_cells(task)
    cached = _cached(cells, task.keys, task.out_dir)
    return [cached[c.id] for c in cells] if len(cached) == len(cells) else None


_sources: dict[str, tuple[SpectrumSource, SpectrumSource | None]] = {}


def _reopen(task: TrainTask, registry: Registry) -> tuple[SpectrumSource, SpectrumSource | None]:
    """A worker's copy of the task's datasets (opened once per process), checked to be
    the data the run was planned on."""
    key = json.dumps([task.dataset.to_json(), task.config.to_json()["test_dataset"]], default=str)
    if key not in _sources:
        spec, test = task.dataset, task.config.test_dataset
        source = registry.create("dataset", spec.name, spec.params, f"dataset {spec.name}").open()
        test_source = None
        if test is not None:
            test_source = registry.create("dataset", test.name, test.params, "[test_dataset]")
            test_source = test_source.open()
        _sources[key] = (source, test_source)
    source, test_source = _sources[key]
    found = {"train": data_fingerprint(source)}
    if test_source is not None:
        found["test"] = data_fingerprint(test_source)
    if found != task.fingerprints:
        raise RuntimeError(
            f"dataset {task.dataset.label!r} reads differently on this worker than where "
            "the run started; every worker must see the same data files"
        )
    return source, test_source


def run_task(
    task: TrainTask,
    events: Events | None = None,
    registry: Registry | None = None,
    opened: dict[str, tuple[SpectrumSource, SpectrumSource | None]] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Run one training run anywhere; return its index and one result per cell. Never
    raises: a failure to rebuild the plugins or reopen the data fails the run's cells."""
    events = events or SilentEvents()
    try:
        if registry is None:
            registry = registry_like(task.extra_modules, task.entry_points)
        if opened is not None and task.dataset.label in opened:
            source, test_source = opened[task.dataset.label]
        else:
            source, test_source = _reopen(task, registry)
    except Exception as exc:  # noqa: BLE001 - fails this run's cells, not the matrix
        return task.index, [_failed(c, exc, task.out_dir, events) for c in _task_cells(task)]
    test_from = test_source if task.separate_test and test_source is not None else source
    split = Split(task.train, task.test, test_from)
    results = _train_run(
        task.config,
        registry,
        task.dataset.label,
        source,
        split,
        task.model,
        task.fraction,
        task.seed,
        task.out_dir,
        events,
        task.keys,
        task.fresh,
    )
    return task.index, results


def _usable(
    source: SpectrumSource, classes: list[str], protocol: dict[str, Any], where: str
) -> np.ndarray:
    if len(source) == 0:
        raise BenchError(f"{where}: the dataset is empty{_why_empty(source)}")
    index = known_label_index(source.labels, classes)
    if len(index) == 0:
        found = sorted(set(map(str, source.labels)))[:5]
        raise BenchError(f"{where}: no spectrum has a label in {classes}; found {found}")
    if protocol["max_spectra"] is not None:
        index = stratified_sample(
            source.labels, index, protocol["max_spectra"], protocol["seeds"][0]
        )
    return index


def _why_empty(source: SpectrumSource) -> str:
    """Name the first unreadable file when every file of a dataset failed (sdss records them)."""
    failures = source.describe().get("failures")
    if not isinstance(failures, list) or not failures:
        return ""
    first = failures[0]
    reason = first.get("reason", "") if isinstance(first, dict) else str(first)
    path = first.get("path", "") if isinstance(first, dict) else ""
    if path and not reason.startswith(path):
        reason = f"{path}: {reason}"
    n = len(failures)
    return f"; {n} file{'s' if n > 1 else ''} failed to read, e.g. {reason}"


def _summarize(source: SpectrumSource, usable: np.ndarray, classes: list[str]) -> dict[str, Any]:
    labels = source.labels[usable].astype(str)
    return {
        "n_total": len(source),
        "n_used": len(usable),
        "n_unknown_label": int(len(source) - np.isin(source.labels.astype(str), classes).sum()),
        "class_counts": {c: int((labels == c).sum()) for c in classes},
        "n_pixels": len(source.loglam),
        "source": dict(source.describe()),
    }


def _split(source, usable, test_source, test_usable, fraction, seed, name) -> Split:
    train, test = stratified_split(
        source.ids, source.labels, usable, fraction, seed, f"dataset {name!r}"
    )
    if test_source is None:
        return Split(train, test, source)
    overlap = np.isin(test_source.ids[test_usable].astype(str), source.ids[train].astype(str))
    return Split(train, test_usable[~overlap], test_source)


def _train_run(
    config: Config,
    registry: Registry,
    dataset: str,
    source: SpectrumSource,
    split: Split,
    spec: PluginSpec,
    fraction: float,
    seed: int,
    out_dir: Path,
    events: Events,
    keys: dict[int, str],
    fresh: bool = False,
) -> list[dict[str, Any]]:
    """Train one model on one split, snapshotting a cell at each epoch count."""
    classes = config.benchmark["classes"]
    cells = [
        Cell(dataset, spec.label, spec.name, fraction, e, seed)
        for e in sorted(config.protocol["epochs"])
    ]
    cached = {} if fresh else _cached(cells, keys, out_dir)
    if len(cached) == len(cells):  # every cell finished before: no model is built
        for cell in cells:
            events.cell_finished(cell, cached[cell.id])
        return [cached[cell.id] for cell in cells]
    results: list[dict[str, Any]] = []
    history: dict[str, list[float]] = {}
    fit_s = 0.0
    done_epochs = 0
    try:
        model: Model = registry.create("model", spec.name, spec.params, f"model {spec.label}")
        shape = model.input_shape(len(source.loglam))
        pipeline = build_pipeline(
            registry, config.preprocess, renderer_for(model, spec, config), shape
        )
        batch_size = model.params.get("batch_size") or config.protocol["batch_size"]
        train = Feed(source, split.train, pipeline, classes, batch_size, shuffle=True, seed=seed)
        test = Feed(split.test_source, split.test, pipeline, classes, batch_size)
        model.build(shape, classes, seed)
    except Exception as exc:  # noqa: BLE001 - a failing plugin fails its cells, not the run
        return [cached.get(c.id) or _failed(c, exc, out_dir, events) for c in cells]
    for cell in cells:
        try:
            t0 = time.perf_counter()
            run_history = model.fit(train, test, epochs=cell.epochs, initial_epoch=done_epochs)
            fit_s += time.perf_counter() - t0
            done_epochs = cell.epochs
            for key, values in run_history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
            if cell.id in cached:  # trained through again to reach later cells; kept as it was
                events.cell_finished(cell, cached[cell.id])
                results.append(cached[cell.id])
                continue
            t0 = time.perf_counter()
            proba = np.asarray(model.predict_proba(test), dtype=np.float64)
            predict_s = time.perf_counter() - t0
            result = _finish_cell(
                cell,
                model,
                pipeline,
                split,
                test,
                proba,
                history,
                fit_s,
                predict_s,
                out_dir,
                config,
                keys[cell.epochs],
            )
        except Exception as exc:  # noqa: BLE001
            result = _failed(cell, exc, out_dir, events)
            results.append(result)
            continue
        events.cell_finished(cell, result)
        results.append(result)
    return results


def _cached(cells: list[Cell], keys: dict[int, str], out_dir: Path) -> dict[str, dict[str, Any]]:
    found = {c.id: load_cached(out_dir, c.id, keys[c.epochs]) for c in cells}
    return {cell_id: result for cell_id, result in found.items() if result is not None}


def _finish_cell(
    cell, model, pipeline, split, test, proba, history, fit_s, predict_s, out_dir, config, key
) -> dict[str, Any]:
    classes = config.benchmark["classes"]
    source = split.test_source
    snr = getattr(source, "snr", None)
    metrics = compute_metrics(
        test.y,
        proba,
        classes,
        redshift=source.redshift[split.test],
        snr=None if snr is None else np.asarray(snr)[split.test],
        seed=cell.seed,
    )
    final = out_dir / "cells" / cell.id
    tmp = out_dir / "cells" / f".tmp-{cell.id}"
    if tmp.exists():  # left by a run that was killed while writing this cell
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save(tmp / "model")
    ids = source.ids[split.test].astype(str)
    pred = np.argmax(proba, axis=1)
    rows = [
        [ids[i], classes[test.y[i]], classes[pred[i]], *(f"{p:.6g}" for p in proba[i])]
        for i in range(len(ids))
    ]
    write_csv(
        tmp / "predictions.csv", ["id", "true", "predicted", *(f"p_{c}" for c in classes)], rows
    )
    cell_config = {
        "cell": asdict(cell),
        "cache_key": key,
        "classes": classes,
        "model": {"name": model.name, "params": model.params, "input_kind": model.input_kind},
        "pipeline": pipeline.to_config(),
        "grid": {
            "loglam0": float(source.loglam[0]),
            "n_pixels": len(source.loglam),
            "dloglam": float(source.loglam[1] - source.loglam[0]),
        },
    }
    atomic_write_text(tmp / "cell.json", json.dumps(cell_config, indent=2))
    result = {
        "cell": {**asdict(cell), "id": cell.id},
        "status": "ok",
        "history": {k: list(v) for k, v in history.items()},
        "metrics": metrics,
        "timings": {"fit_s": round(fit_s, 3), "predict_s": round(predict_s, 3)},
        "n_train": len(split.train),
        "n_test": len(split.test),
        "model_info": dict(model.describe()),
        "path": f"cells/{cell.id}",
        "cache_key": key,
        "reused": False,
    }
    atomic_write_text(tmp / "metrics.json", json.dumps(result, indent=2))
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return result


def _failed(cell: Cell, exc: BaseException, out_dir: Path, events: Events) -> dict[str, Any]:
    log = out_dir / "logs" / f"{cell.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(log, "".join(traceback.format_exception(exc)))
    result = {
        "cell": {**asdict(cell), "id": cell.id},
        "status": "failed",
        "error": {
            "type": type(exc).__name__,
            "message": str(exc).splitlines()[0] if str(exc) else "",
            "log": f"logs/{cell.id}.log",
        },
    }
    events.cell_finished(cell, result)
    return result
