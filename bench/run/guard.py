"""What plugin code may not do to a run: end it (``sys.exit``), interrupt it (a
``KeyboardInterrupt`` it raises itself) or hold it forever (``[protocol] cell_timeout_s``).

Inside a :class:`Guard`, every exception a plugin raises is its cell's failure, with one
exception: a ``KeyboardInterrupt`` that follows a real SIGINT (Ctrl-C in the terminal, or
``kill -INT``) delivered to this process while the guard watches, which stops the run as
the user asked. The guard tells the two apart by installing its own SIGINT handler, so it
watches only in a process's main thread (the ``local`` executor, and the fresh process of
an isolated task); elsewhere a ``KeyboardInterrupt`` can only come from code, and is a
failure too. The time limit is a ``SIGALRM`` timer: it stops Python code (a loop, a
``sleep``) but not one call into native code that never returns to the interpreter.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any


class CellTimeout(BaseException):
    """A cell ran past its time limit (a BaseException: a plugin's ``except Exception``
    cannot swallow it)."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class Guard:
    """Watches SIGINT while plugin code runs; :meth:`limit` bounds one cell's time."""

    def __init__(
        self, timeout_s: float | None = None, setting: str = "[protocol] cell_timeout_s"
    ) -> None:
        self.timeout_s = timeout_s
        self.setting = setting  # what the time-limit message names
        self.user_interrupted = False
        self._previous: Any = None
        self._watching = False

    def __enter__(self) -> Guard:
        if _main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._watching = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._watching:
            signal.signal(signal.SIGINT, self._previous)
            self._watching = False

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.user_interrupted = True
        raise KeyboardInterrupt

    def is_failure(self, exc: BaseException) -> bool:
        """True when ``exc`` fails only its cell; False for the user's own Ctrl-C."""
        return not (isinstance(exc, KeyboardInterrupt) and self.user_interrupted)

    @contextmanager
    def limit(self) -> Iterator[None]:
        """Raise :class:`CellTimeout` in this thread after ``timeout_s`` (no limit when
        unset, or outside the main thread, where no signal can be delivered)."""
        if self.timeout_s is None or not _main_thread():
            yield
            return
        seconds, setting = self.timeout_s, self.setting

        def expire(signum: int, frame: FrameType | None) -> None:
            raise CellTimeout(f"ran past {setting} = {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def one_line(exc: BaseException) -> str:
    """``exc`` as the one line a failed cell or check shows: ``sys.exit(0)`` called, the
    time limit, or the exception's first line."""
    if isinstance(exc, SystemExit):
        return f"the plugin called sys.exit({exc.code!r}); a plugin must raise, not exit"
    if isinstance(exc, KeyboardInterrupt):
        return "the plugin raised KeyboardInterrupt itself (no Ctrl-C was pressed)"
    text = str(exc)
    return text.splitlines()[0] if text else ""


def orphan_watch(owner: str, every_s: float = 1.0) -> None:
    """In a process of its own that trains for the run ``owner`` ("PID HOST", a fresh
    process of an isolated task): end this process once that run is gone from this host,
    so a killed ``bench run`` leaves no training behind. Nothing in the run's own process,
    in a worker's thread (a shared dask worker), or for a run on another host."""
    fields = owner.split()
    if len(fields) != 2 or not fields[0].isdigit() or not _main_thread():
        return
    pid, host = int(fields[0]), fields[1]
    if pid == os.getpid() or host != socket.gethostname():
        return

    def watch() -> None:
        while True:
            time.sleep(every_s)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(3)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="bench-orphan-watch", daemon=True).start()
