"""Executors: where the training runs of a matrix execute.

The runner turns the matrix into tasks (one training run each: a model on one split,
giving one cell per epoch count) and hands them to the executor chosen in the config's
``[executor]`` table. ``local`` (the default) runs them in this process, in order;
``dask`` sends them to a dask.distributed cluster. Executors are plugins registered
through the ``register_executors`` hook.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from bench.interfaces import Plugin

T = TypeVar("T")
R = TypeVar("R")


class Executor(Plugin, ABC):
    """Runs ``fn`` on every task and yields the results, in any order.

    ``fn`` and the tasks are picklable (module-level function, plain data); ``fn`` never
    raises for the runner's tasks (a failing cell is a result). An executor that loses a
    task (a worker died) raises; finished cells are already on disk and are reused by the
    next run. Use an executor as a context manager: ``close`` releases what it started.
    """

    # True when ``fn`` runs in this process, so it may report progress as it goes.
    in_process: ClassVar[bool] = False

    @abstractmethod
    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Yield ``fn(task)`` for every task, in any order."""

    def describe(self) -> dict[str, Any]:
        """Facts for the report (where the tasks ran)."""
        return {"name": self.name}

    def close(self) -> None:
        """Release workers or connections started by this executor."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
