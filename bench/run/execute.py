"""Running a planned matrix on the configured executor; the results come back in matrix
order. In this process the tasks use the datasets the plan opened; on a worker each task
reopens its datasets (once per process) and checks they read the same."""

from __future__ import annotations

import json
from functools import cache, partial
from pathlib import Path
from typing import Any

from bench.config import Config, PluginSpec
from bench.errors import BenchError
from bench.executors import Executor
from bench.plugins.manager import Registry, registry_like
from bench.run.cellkey import data_fingerprint
from bench.run.events import Events, SilentEvents
from bench.run.guard import Guard
from bench.run.plan import Cell, Plan, PluginOrigin, Sources, TrainTask, plan_matrix
from bench.run.train import cached_results, failed_result, train_run
from bench.store.rundir import RunDir

Results = dict[int, list[dict[str, Any]]]


def run_matrix(
    config: Config,
    registry: Registry,
    out_dir: Path,
    events: Events,
    fresh: bool = False,
    plan: Plan | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every cell on the configured executor; return the per-cell results (in matrix
    order) and a summary of each dataset. Cells already finished in ``out_dir`` with a
    matching cache key are reused, unless ``fresh``; ``plan`` when already made."""
    events.run_started(config.n_cells)
    executor = _create_executor(config, registry)
    plan = plan or plan_matrix(config, registry, out_dir, fresh)
    with executor:
        if executor.in_process:
            fn = partial(run_task, events=events, registry=registry, opened=plan.sources)
            by_task = dict(executor.map(fn, plan.tasks))
        else:
            by_task = _run_remote(executor, plan.tasks, events)
    results = [r for i in range(len(plan.tasks)) for r in by_task[i]]
    n_reused = sum(bool(r.get("reused")) for r in results)
    if n_reused:
        events.message(f"reused {n_reused} finished cells (in {out_dir} or earlier runs)")
    return results, plan.summaries


def _create_executor(config: Config, registry: Registry) -> Executor:
    """The configured executor; a plugin that exits or raises while it is created is one
    line (a BenchError), a real Ctrl-C stops the run."""
    spec = config.executor
    with Guard() as guard:
        try:
            executor: Executor = registry.create("executor", spec.name, spec.params, "[executor]")
        except BenchError:
            raise
        except BaseException as exc:  # noqa: BLE001 - sys.exit in a plugin too
            if not guard.is_failure(exc):
                raise
            message = f": {str(exc).splitlines()[0]}" if str(exc).strip() else ""
            raise BenchError(
                f"[executor]: executor {spec.name!r} raised {type(exc).__name__}{message} "
                "while being created"
            ) from None
    return executor


def _run_remote(executor: Executor, tasks: list[TrainTask], events: Events) -> Results:
    """Send the runs that are not finished yet to ``executor``; progress comes from each
    run's results as they come back. A lost worker fails only the unfinished cells."""
    done: Results = {}
    remote = []
    for task in tasks:
        cached = {} if task.fresh else cached_results(task, RunDir(task.run_dir), events)
        if len(cached) < len(task.cells()):
            remote.append(task)
            continue
        done[task.index] = [cached[c.id] for c in task.cells()]
        _report(done[task.index], events)
    try:
        for index, results in executor.map(run_task, remote):
            done[index] = results
            _report(results, events)
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a lost worker fails the unfinished cells
        events.message(f"executor {executor.name!r} failed: {type(exc).__name__}: {exc}")
        for task in remote:
            if task.index not in done:
                run_dir = RunDir(task.run_dir)
                done[task.index] = [failed_result(c, exc, run_dir, events) for c in task.cells()]
    return done


def _report(results: list[dict[str, Any]], events: Events) -> None:
    for result in results:
        events.cell_finished(Cell(**{k: v for k, v in result["cell"].items() if k != "id"}), result)


def run_task(
    task: TrainTask,
    events: Events | None = None,
    registry: Registry | None = None,
    opened: dict[str, Sources] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Run one training run anywhere; return its index and one result per cell. Never
    raises: a failure to rebuild the plugins or reopen the data fails the run's cells."""
    events = events or SilentEvents()
    try:
        with Guard() as guard:
            if registry is None:
                registry = registry_like(task.plugins.extra_modules, task.plugins.third_party)
            if opened is not None and task.dataset.label in opened:
                source, test_source = opened[task.dataset.label]
            else:
                source, test_source = _reopen(task)
    except BaseException as exc:  # a plugin's sys.exit too: fails this run's cells only
        if not guard.is_failure(exc):
            raise
        run_dir = RunDir(task.run_dir)
        return task.index, [failed_result(c, exc, run_dir, events) for c in task.cells()]
    test_from = test_source if task.split.separate_test and test_source is not None else source
    return task.index, train_run(task, registry, source, test_from, events)


def _reopen(task: TrainTask) -> Sources:
    """A worker's copy of the task's datasets, checked to be the data the run was planned on."""
    test = task.config.test_dataset
    key = json.dumps([task.dataset.to_json(), test.to_json() if test else None], default=str)
    source, test_source = _open_sources(key, task.plugins)
    found = {"train": data_fingerprint(source)}
    if test_source is not None:
        found["test"] = data_fingerprint(test_source)
    if found != task.fingerprints:
        raise RuntimeError(
            f"dataset {task.dataset.label!r} reads differently on this worker than where "
            "the run started; every worker must see the same data files"
        )
    return source, test_source


@cache
def _open_sources(key: str, plugins: PluginOrigin) -> Sources:
    """Open a training dataset and the test dataset (once per worker process)."""
    registry = registry_like(plugins.extra_modules, plugins.third_party)
    train, test = json.loads(key)
    spec = PluginSpec(train["name"], train["params"])
    source = registry.create("dataset", spec.name, spec.params, f"dataset {spec.name}").open()
    if test is None:
        return source, None
    test_source = registry.create("dataset", test["name"], test["params"], "[test_dataset]").open()
    return source, test_source
