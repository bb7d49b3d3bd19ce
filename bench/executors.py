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
import shutil
import subprocess
import sys
import tempfile
import threading
import time
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


TASK_PREFIX = "bench-task-"  # + the pid of the process that made it + "-"
WATCH_S = 0.5  # how often an isolated process checks that its parent is still there


def run_isolated(fn: Callable[[T], R], task: T) -> R:
    """``fn(task)`` in a fresh Python process (``python -m bench.executors``).

    A worker of a threaded engine (dask) runs tasks beside its own threads, which use
    Python's global ``random``; Keras draws its default seeds from it, so training in
    the worker would not repeat. A process of its own trains exactly as ``local`` does,
    and a crash (out of memory) fails this task, not the worker.

    The temporary ``bench-task-PID-*`` folder goes whatever ends this call: an exception
    (the process is killed first), or this process's death by SIGTERM or SIGKILL (the
    isolated process sees its parent gone within ``WATCH_S``, removes the folder and
    exits, so it never writes cells after the run was killed). When both die at once by
    SIGKILL nothing can run; the next call on the machine removes folders whose pid is
    gone (:func:`sweep_task_folders`)."""
    sweep_task_folders()
    tmp = Path(tempfile.mkdtemp(prefix=f"{TASK_PREFIX}{os.getpid()}-"))
    try:
        path = tmp / "task.pkl"
        path.write_bytes(pickle.dumps((fn, task)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        command = [sys.executable, "-m", "bench.executors", str(path), str(os.getpid())]
        with subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as process:
            try:
                _, stderr = process.communicate()
            except BaseException:
                process.kill()  # this call is ending: the training process goes with it
                raise
        if process.returncode != 0:
            tail = stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"training process exited with {process.returncode}: {tail[0]}")
        return cast(R, pickle.loads((tmp / "result.pkl").read_bytes()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sweep_task_folders(root: Path | None = None) -> list[Path]:
    """Remove the ``bench-task-PID-*`` folders under ``root`` (the temporary folder) whose
    process is gone (killed by SIGKILL with its isolated process); return them."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{TASK_PREFIX}*-*"):
        pid = folder.name[len(TASK_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _watch_parent(parent: int, folder: Path) -> None:
    """In the isolated process: when ``parent`` is gone (killed), remove ``folder`` and
    exit at once, from a daemon thread (the training itself is never waited for)."""
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(3)


def _main(path: Path, parent: int | None = None) -> None:
    if parent is not None:
        watch = threading.Thread(target=_watch_parent, args=(parent, path.parent), daemon=True)
        watch.start()
    fn, task = pickle.loads(path.read_bytes())
    (path.parent / "result.pkl").write_bytes(pickle.dumps(fn(task)))


if __name__ == "__main__":
    _main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
