"""Executors: where the training runs of a matrix execute.

The runner turns the matrix into tasks (one training run each: a model on one split,
giving one cell per epoch count) and hands them to the executor chosen in the config's
``[executor]`` table, else to the one whose class sets ``is_default`` (the built-in
``local`` runs them in this process, in order; ``dask`` sends them to a dask.distributed
cluster). Executors are plugins registered through the ``register_executors`` hook.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, TypeVar, cast

from bench.interfaces import Plugin

T = TypeVar("T")
R = TypeVar("R")


class Executor(Plugin, ABC):
    """Runs ``fn`` on every task and yields the results, in any order.

    ``fn`` and the tasks are picklable (module-level function, plain data); ``fn`` never
    raises for the runner's tasks (a failing cell is a result). An executor that loses a
    task (a worker died) yields the others first, then raises; the runner fails the cells
    of the tasks that never came back, and the next run reuses the finished ones. Use an executor as a context manager: ``close`` releases what it started.
    """

    # True when ``fn`` runs in this process, so it may report progress as it goes.
    in_process: ClassVar[bool] = False
    # True for the executor a config without an ``[executor]`` table runs on (one of them;
    # the built-in ``local``); :meth:`Registry.default_executor` picks it.
    is_default: ClassVar[bool] = False

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


def run_isolated(fn: Callable[[T], R], task: T) -> R:
    """``fn(task)`` in a fresh Python process (``python -m bench.executors``).

    A worker of a threaded engine (dask) runs tasks beside its own threads, which use
    Python's global ``random``; Keras draws its default seeds from it, so training in
    the worker would not repeat. A process of its own trains exactly as ``local`` does,
    and a crash (out of memory) fails this task, not the worker."""
    with tempfile.TemporaryDirectory(prefix="bench-task-") as tmp:
        path = Path(tmp) / "task.pkl"
        path.write_bytes(pickle.dumps((fn, task)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run(
            [sys.executable, "-m", "bench.executors", str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"training process exited with {done.returncode}: {tail[0]}")
        return cast(R, pickle.loads((Path(tmp) / "result.pkl").read_bytes()))


def _main(path: Path) -> None:
    fn, task = pickle.loads(path.read_bytes())
    (path.parent / "result.pkl").write_bytes(pickle.dumps(fn(task)))


if __name__ == "__main__":
    _main(Path(sys.argv[1]))
