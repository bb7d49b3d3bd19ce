"""What the runner reports while it works; the console draws it, tests may record it."""

from __future__ import annotations

from typing import Any, Protocol

from bench.run.plan import Cell


class Events(Protocol):
    def run_started(self, n_cells: int) -> None: ...
    def cell_finished(self, cell: Cell, result: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...


class SilentEvents:
    """Events that go nowhere (a task running on a remote worker)."""

    def run_started(self, n_cells: int) -> None:
        pass

    def cell_finished(self, cell: Cell, result: dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        pass
