"""Result sinks: what happens with each finished cell and with the finished run.

A sink is a :class:`bench.interfaces.ResultSink` subclass registered through the
``register_result_sinks`` hook (the registry collects them when it is built). The report
writers of the core are ordinary sinks, registered through that hook by this module, an
internal plugin the CLI hands the registry first (``bench.cli.main.INTERNAL_PLUGINS``):
``objects_table`` (the tidy per-object table) and ``report_html`` (``report.html``). A
sink that raises never fails the run: its error is reported in one line and the other
sinks still run. That holds for any exception, ``SystemExit`` and a ``KeyboardInterrupt``
the sink raises itself included; only a real Ctrl-C (a SIGINT delivered while the sink
runs) stops the run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from bench import hookimpl
from bench.interfaces import ResultSink


class HtmlReport(ResultSink):
    name = "report_html"
    description = "report.html: the figures of the run, self-contained"

    def run_finished(self, *, run_dir: Path, report: dict[str, Any]) -> None:
        from bench.results import html

        html.write_html(report, run_dir)


class ObjectsTable(ResultSink):
    name = "objects_table"
    description = "objects.parquet (or .csv): one row per cell x test object"

    def run_finished(self, *, run_dir: Path, report: dict[str, Any]) -> None:
        from bench.results.objects import write_objects_table

        write_objects_table(report, run_dir)


@hookimpl
def register_result_sinks(register: Callable[[type[ResultSink]], None]) -> None:
    """The core's own writers, handed report.json before the plugins' sinks."""
    register(ObjectsTable)
    register(HtmlReport)


def result_sinks(registry: Any) -> list[ResultSink]:
    """An instance of every enabled sink the registry's plugins registered through
    ``register_result_sinks``, in registration order (collected when it was built)."""
    return [cls() for cls in registry.sinks if cls.enabled()]


class SinkEvents:
    """Events forwarded to ``events`` (the runner's :class:`bench.run.events.Events`; cells
    pass through untouched), with each finished cell also handed to the sinks; a sink's
    failure is collected in ``errors``, once per sink."""

    def __init__(self, events: Any, sinks: list[ResultSink], run_dir: Path) -> None:
        self.events, self.sinks, self.run_dir = events, sinks, run_dir
        self.errors: dict[str, str] = {}

    def run_started(self, n_cells: int) -> None:
        self.events.run_started(n_cells)

    def stage(self, cell: Any, text: str) -> None:
        self.events.stage(cell, text)

    def message(self, text: str) -> None:
        self.events.message(text)

    def cell_finished(self, cell: Any, result: dict[str, Any]) -> None:
        self.events.cell_finished(cell, result)
        for sink in self.sinks:
            self._guard(sink, "cell_finished", result=result)

    def run_finished(self, report: dict[str, Any]) -> list[str]:
        """Hand the report to every sink; the one-line errors of the sinks that failed."""
        for sink in self.sinks:
            self._guard(sink, "run_finished", report=report)
        return list(self.errors.values())

    def _guard(self, sink: ResultSink, method: str, **kwargs: Any) -> None:
        if sink.name in self.errors:
            return
        with _watch_sigint() as interrupted:
            try:
                getattr(sink, method)(run_dir=self.run_dir, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - a sink never ends the run
                if isinstance(exc, KeyboardInterrupt) and interrupted():
                    raise  # the user's own Ctrl-C
                message = f": {str(exc).splitlines()[0]}" if str(exc).strip() else ""
                self.errors[sink.name] = f"sink {sink.name}: {type(exc).__name__}{message}"


@contextmanager
def _watch_sigint() -> Iterator[Callable[[], bool]]:
    """Yield a check "did a real SIGINT arrive?" (its handler raises ``KeyboardInterrupt``
    as Python's does). Only the main thread receives signals; elsewhere the answer is no."""
    seen: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        seen.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)
