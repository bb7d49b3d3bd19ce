"""Result sinks: what happens with each finished cell and with the finished run.

A sink is a :class:`bench.interfaces.ResultSink` subclass registered through the
``register_result_sinks`` hook (the registry collects them when it is built). The report
writers of the core are ordinary sinks, always first: ``objects_table`` (the tidy
per-object table) and ``report_html`` (``report.html``). A sink that raises never fails the run: its error is reported in one
line and the other sinks still run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.interfaces import ResultSink
from bench.run.events import Events
from bench.run.plan import Cell


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


# the core's own writers, handed report.json first; the plugins' sinks follow them
CORE_SINKS: tuple[type[ResultSink], ...] = (ObjectsTable, HtmlReport)


def result_sinks(registry: Any) -> list[ResultSink]:
    """An instance of every enabled sink: the core's writers, then those the registry's
    plugins registered through ``register_result_sinks`` (collected when it was built)."""
    names = {cls.name for cls in CORE_SINKS}
    classes = [*CORE_SINKS, *(cls for cls in registry.sinks if cls.name not in names)]
    return [cls() for cls in classes if cls.enabled()]


class SinkEvents:
    """Events forwarded to ``events``, with each finished cell also handed to the sinks;
    a sink's failure is collected in ``errors``, once per sink."""

    def __init__(self, events: Events, sinks: list[ResultSink], run_dir: Path) -> None:
        self.events, self.sinks, self.run_dir = events, sinks, run_dir
        self.errors: dict[str, str] = {}

    def run_started(self, n_cells: int) -> None:
        self.events.run_started(n_cells)

    def stage(self, cell: Cell, text: str) -> None:
        self.events.stage(cell, text)

    def message(self, text: str) -> None:
        self.events.message(text)

    def cell_finished(self, cell: Cell, result: dict[str, Any]) -> None:
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
        try:
            getattr(sink, method)(run_dir=self.run_dir, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a sink never fails the run
            message = str(exc).splitlines()[0] if str(exc) else ""
            self.errors[sink.name] = f"sink {sink.name}: {type(exc).__name__}: {message}"
