"""A whole benchmark run: the run folder prepared and locked, the matrix run, the report
written. The CLI's `bench run` calls :func:`run_benchmark`; nothing here prints."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.errors import BenchError
from bench.plugins.registry import Registry
from bench.run.events import Events
from bench.run.plan import Plan
from bench.store.rundir import RunDir, earlier_runs


@dataclass
class RunOutcome:
    """The written report, where it is, and the one-line errors of result sinks that
    failed (report.html, the objects table, trackers)."""

    report: dict[str, Any]
    run_dir: RunDir
    sink_errors: list[str] = field(default_factory=list)


class PlannedRunDir(RunDir):
    """A run folder chosen but not made yet: :func:`run_benchmark` plans the run first (a
    mistake found there leaves no folder), then makes, checks and locks it (:meth:`make`)."""

    def __init__(self, root: Path, default: bool, on_takeover: Callable[[str], None]) -> None:
        super().__init__(root)
        self.default = default  # <output>/<name>-<time>: may get a -2 suffix, reuses earlier runs
        self.on_takeover = on_takeover
        self.made = False

    def make(self) -> bool:
        """Create (a fresh default folder: ``-2``... when one of that second exists),
        check writable, lock and recover the folder; whether this call created it."""
        try:
            created = self._create()
            probe = self.root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            where = self.root
            raise BenchError(
                f"{where}: output folder is not writable ({exc.strerror or exc})"
            ) from None
        try:
            self.take_lock(self.on_takeover)
        except OSError as exc:
            raise BenchError(f"{self.lock}: cannot lock ({exc.strerror or exc})") from None
        self.recover()
        self.made = True
        return created

    def _create(self) -> bool:
        if not self.default:
            created = not self.root.exists()
            self.root.mkdir(parents=True, exist_ok=True)
            return created
        parent, stamp = self.root.parent, self.root.name
        parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):  # mkdir is atomic: two runs of one second get two folders
            candidate = parent / (stamp if n == 1 else f"{stamp}-{n}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            self.root = candidate
            return True
        raise BenchError(f"{parent}: no free run folder name for {stamp}")


def prepare_run_dir(
    out: Path | None, config: Config, on_takeover: Callable[[str], None]
) -> tuple[RunDir, bool]:
    """The run folder (``<output>/<name>-<UTC time>`` by default) as an absolute path, so a
    plugin that changes the working directory cannot move it; made and locked by
    :func:`run_benchmark` once the run is planned. Also whether it does not exist yet."""
    default = out is None
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = Path(config.benchmark.output) / f"{config.benchmark.name}-{stamp}"
    root = Path(out).resolve()
    return PlannedRunDir(root, default, on_takeover), not root.exists()


def run_benchmark(
    config: Config,
    registry: Registry,
    run_dir: RunDir,
    created: bool,
    events: Events,
    fresh: bool = False,
) -> RunOutcome:
    """Plan the run (every check `bench validate` makes: a mistake leaves no folder), make
    and lock the run folder, run every cell into it and write report.json, report.md and
    report.html; the lock is released whatever happens."""
    from bench.results.report import build_report, now, write_report
    from bench.results.sinks import SinkEvents, result_sinks
    from bench.run.execute import run_matrix
    from bench.run.plan import plan_matrix

    started = now()
    plan = _planned(lambda: plan_matrix(config, registry, run_dir.root, fresh))
    if isinstance(run_dir, PlannedRunDir) and not run_dir.made:
        created = run_dir.make()
        earlier = tuple(_earlier(config, run_dir)) if run_dir.default and not fresh else ()
        for task in plan.tasks:
            task.run_dir, task.earlier, task.owner = run_dir.root, earlier, run_dir.owner()
    try:
        events = sinks = SinkEvents(events, result_sinks(registry), run_dir.root)
        results, datasets = run_matrix(config, registry, run_dir.root, events, fresh, plan)
    except BenchError:
        # a user mistake found before any cell was written: leave nothing behind
        run_dir.release_lock()
        if created and not run_dir.finished_cells():
            shutil.rmtree(run_dir.root, ignore_errors=True)
        raise
    except BaseException:
        run_dir.release_lock()
        raise
    try:
        report = build_report(config.to_json(), results, datasets, started, config.protocol.seeds)
        write_report(report, run_dir.root)
    except (BenchError, OSError) as exc:  # the finished cells are kept: a rerun reuses them
        run_dir.release_lock()
        n_ok = sum(r["status"] == "ok" for r in results)
        reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        raise BenchError(
            f"{run_dir.report_json}: not written ({reason}); the {n_ok} finished cells are "
            f"kept in {run_dir.root}, rerun with the same --out to reuse them"
        ) from None
    except BaseException:
        run_dir.release_lock()
        raise
    try:  # report.json is complete; sinks (report.html, objects table, trackers) never fail it
        return RunOutcome(report, run_dir, sinks.run_finished(report))
    finally:
        run_dir.release_lock()


def _planned(plan: Callable[[], Plan]) -> Plan:
    """``plan()``, with a plugin's ``sys.exit`` while planning (a dataset's ``open``) as
    one line instead of a silent end of the run."""
    try:
        return plan()
    except SystemExit as exc:
        raise BenchError(
            f"a plugin called sys.exit({exc.code!r}) while the run was planned (opening a "
            "dataset or building a model); a plugin must raise, not exit"
        ) from None


def _earlier(config: Config, run_dir: RunDir) -> list[Path]:
    """Earlier default run folders of this benchmark, whose finished cells this run reuses."""
    output = Path(config.benchmark.output).resolve()
    return earlier_runs(output, config.benchmark.name, run_dir.root)
