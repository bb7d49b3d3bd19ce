"""Batches prepared ahead of the training step by background threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import numpy as np


class Batches(Protocol):
    """What a prefetcher reads: a :class:`bench.feed.Feed`'s batch order and batches."""

    epoch: int
    kept: bool  # inputs rendered once and kept in memory: nothing to prepare ahead

    def __len__(self) -> int: ...

    def positions(self, i: int) -> np.ndarray: ...

    def batch_at(
        self, positions: np.ndarray, epoch: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


class Prefetcher:
    """Batches of ``feed`` prepared ahead by ``workers`` background threads.

    ``get(i)`` returns ``feed[i]``; it then queues the next ``ahead`` batches of the
    current order. A prepared batch is used only when its positions and epoch still
    match the feed's (a new epoch discards stale ones), and each batch is a pure
    function of them, so the results are bit-identical for any number of workers.
    Threads suit numpy renderers (numpy releases the GIL in its kernels). ``wait_s``
    counts the time ``get`` spent waiting for batches (the data time).
    """

    def __init__(self, feed: Batches, workers: int, ahead: int | None = None) -> None:
        self.feed = feed
        self.workers = max(1, int(workers))
        self.ahead = self.workers * 2 if ahead is None else max(0, int(ahead))
        self.wait_s = 0.0
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[int, tuple[np.ndarray, int, Future]] = {}
        self._lock = threading.Lock()

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        feed = self.feed
        start = time.perf_counter()
        positions, epoch = feed.positions(i), feed.epoch
        if self.workers < 2 or feed.kept:
            result = feed.batch_at(positions, epoch)
        else:
            with self._lock:
                queued = self._pending.pop(i, None)
                if queued is not None and (
                    queued[1] != epoch or not np.array_equal(queued[0], positions)
                ):
                    queued = None  # prepared for another epoch or order
            result = queued[2].result() if queued is not None else feed.batch_at(positions, epoch)
            self._queue(i)
        self.wait_s += time.perf_counter() - start
        return result

    def _queue(self, i: int) -> None:
        feed = self.feed
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="bench-feed")
        with self._lock:
            for j in list(self._pending):
                if not i < j <= i + self.ahead:
                    self._pending.pop(j)[2].cancel()
            for j in range(i + 1, min(i + 1 + self.ahead, len(feed))):
                if j not in self._pending:
                    positions, epoch = feed.positions(j).copy(), feed.epoch
                    future = self._pool.submit(feed.batch_at, positions, epoch)
                    self._pending[j] = (positions, epoch, future)

    def close(self) -> None:
        """Stop the threads (queued batches are dropped)."""
        with self._lock:
            for _, _, future in self._pending.values():
                future.cancel()
            self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
