"""The Keras callbacks of a fit: :class:`Reshuffle` (the input's seeded order and
augmentation draws per absolute epoch, and the runner's progress) and :class:`StepTimer`
(where the fit's time went). Imports keras at module level: import it lazily."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.backend import ensure_jax_backend
from bench.interfaces import ModelInput

ensure_jax_backend()

import keras  # noqa: E402


class Reshuffle(keras.callbacks.Callback):
    """Calls ``inputs.set_epoch(epoch)`` at the start of every epoch (absolute numbers), and
    ``progress(epoch + 1, logs)`` after it when given (the runner's ``Model.progress``)."""

    def __init__(
        self, inputs: ModelInput, progress: Callable[[int, dict[str, float]], None] | None = None
    ) -> None:
        super().__init__()
        self.inputs = inputs
        self.progress = progress

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.inputs.set_epoch(epoch)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.progress is not None:
            self.progress(epoch + 1, {k: float(v) for k, v in (logs or {}).items()})


class StepTimer(keras.callbacks.Callback):
    """Where a fit's time goes, without syncing the device every step (it hooks only
    ``on_train_batch_begin``, which keeps Keras's asynchronous dispatch).

    ``setup_s``: from :meth:`start` to the first epoch (Keras reading a first batch,
    which renders kept-in-memory inputs); ``compile_s``: from the first step's start to
    the second's (tracing, compiling and dispatching the first step), data wait
    excluded, when ``first`` (the network's first fit); ``validation_s``: validation
    passes; ``data_s``: the training loop waiting for batches (``data.data_s``);
    ``step_s``: the rest of the fit (the training steps).
    """

    def __init__(self, data: Any, first: bool) -> None:
        super().__init__()
        self.data = data
        self.first = first
        self.record = {
            "setup_s": 0.0,
            "compile_s": 0.0,
            "data_s": 0.0,
            "step_s": 0.0,
            "validation_s": 0.0,
        }
        self.steps = 0
        self._mark: tuple[float, float] | None = None
        self._called = self._start = self._test = 0.0

    def start(self) -> None:
        """Call right before ``fit``."""
        self._called = time.perf_counter()

    def _data(self) -> float:
        return float(getattr(self.data, "data_s", 0.0))

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._start = time.perf_counter()
        self._data0 = self._data()
        if self._called:
            self.record["setup_s"] = self._start - self._called

    def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        now = time.perf_counter()
        self.steps += 1
        if self.first and self.steps == 1:
            self._mark = (now, self._data())
        elif self.first and self.steps == 2 and self._mark is not None:
            waited = self._data() - self._mark[1]
            self.record["compile_s"] = max(0.0, now - self._mark[0] - waited)

    def on_test_begin(self, logs: dict[str, float] | None = None) -> None:
        self._test = time.perf_counter()

    def on_test_end(self, logs: dict[str, float] | None = None) -> None:
        self.record["validation_s"] += time.perf_counter() - self._test

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        total = time.perf_counter() - self._start
        rec = self.record
        if self.first and self.steps == 1 and self._mark is not None:  # one step in all
            rec["compile_s"] = max(0.0, total - rec["validation_s"])
        rec["data_s"] = self._data() - self._data0
        rec["step_s"] = max(0.0, total - rec["compile_s"] - rec["data_s"] - rec["validation_s"])
