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
from bench.plugins.manager import Registry
from bench.run.events import Events
from bench.store.rundir import RunDir


@dataclass
class RunOutcome:
    """The written report, where it is, and the one-line errors of result sinks that
    failed (report.html, the objects table, trackers)."""

    report: dict[str, Any]
    run_dir: RunDir
    sink_errors: list[str] = field(default_factory=list)


def prepare_run_dir(
    out: Path | None, config: Config, on_takeover: Callable[[str], None]
) -> tuple[RunDir, bool]:
    """The run folder (``<output>/<name>-<UTC time>`` by default), checked writable and
    locked; also whether this call created it."""
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = Path(config.benchmark.output) / f"{config.benchmark.name}-{stamp}"
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BenchError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
    run_dir = RunDir(out)
    try:
        run_dir.take_lock(on_takeover)
    except OSError as exc:
        raise BenchError(f"{run_dir.lock}: cannot lock ({exc.strerror or exc})") from None
    run_dir.recover()
    return run_dir, created


def run_benchmark(
    config: Config,
    registry: Registry,
    run_dir: RunDir,
    created: bool,
    events: Events,
    fresh: bool = False,
) -> RunOutcome:
    """Run every cell into ``run_dir`` and write report.json, report.md and report.html;
    the lock is released whatever happens."""
    from bench.results.report import build_report, now, write_report
    from bench.results.sinks import SinkEvents, result_sinks
    from bench.run.execute import run_matrix

    try:
        started = now()
        events = sinks = SinkEvents(events, result_sinks(registry), run_dir.root)
        results, datasets = run_matrix(config, registry, run_dir.root, events, fresh)
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
