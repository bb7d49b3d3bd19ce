"""The Keras callbacks of a fit: :class:`Reshuffle` (the input's seeded order and
augmentation draws per absolute epoch, and the runner's progress), :class:`StepTimer`
(where the fit's time went), :class:`WeightAverage` (the mean of the last epochs'
weights) and :func:`cosine_schedule` (a learning-rate curve for Keras's
``LearningRateScheduler``). Imports keras at module level: import it lazily."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

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


class WeightAverage(keras.callbacks.Callback):
    """Stochastic weight averaging (Izmailov et al. 2018, "Averaging weights leads to wider
    optima and better generalization", UAI): the mean of the weights at the ends of the
    fit's last ``epochs`` epochs replaces them when the fit ends, and validation in those
    epochs scores the mean so far. Batch-normalisation statistics are averaged like the
    weights (the paper recomputes them with a pass over the training data); integer
    variables (random seed states) keep their last value. Weights travel as host copies
    (``get_weights``), so no device buffer is shared with the trained ones."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.window = epochs
        self.total: list[np.ndarray] = []
        self.dtypes: list[np.dtype] = []
        self.count, self.epoch, self.counted = 0, 0, -1
        self.stash: list[np.ndarray] | None = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.total, self.count, self.counted = [], 0, -1

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epoch = epoch

    def _add(self, weights: list[np.ndarray]) -> None:
        """Count this epoch's end ``weights`` once, when the epoch is in the window."""
        if self.counted == self.epoch or self.epoch < self.params["epochs"] - self.window:
            return
        if not self.total:
            self.dtypes = [w.dtype for w in weights]
            self.total = [np.array(w, dtype=np.float64 if _floating(w) else w.dtype)
                          for w in weights]  # fmt: skip
        else:
            self.total = [t + w if _floating(w) else np.array(w)
                          for t, w in zip(self.total, weights, strict=True)]  # fmt: skip
        self.count, self.counted = self.count + 1, self.epoch

    def mean(self) -> list[np.ndarray]:
        """The averaged weights (each in its variable's dtype)."""
        return [(t / self.count).astype(d) if np.issubdtype(d, np.floating) else t
                for t, d in zip(self.total, self.dtypes, strict=True)]  # fmt: skip

    def on_test_begin(self, logs: dict[str, float] | None = None) -> None:
        # only a fit's validation reaches this callback: score the mean so far
        weights = self.model.get_weights()
        self._add(weights)
        if self.count:
            self.stash = weights
            self.model.set_weights(self.mean())

    def on_test_end(self, logs: dict[str, float] | None = None) -> None:
        if self.stash is not None:
            self.model.set_weights(self.stash)
            self.stash = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.counted != epoch:  # an epoch without validation
            self._add(self.model.get_weights())

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.count > 1:
            self.model.set_weights(self.mean())


def _floating(array: np.ndarray) -> bool:
    return bool(np.issubdtype(np.asarray(array).dtype, np.floating))


def cosine_schedule(base: float, epochs: int) -> Callable[[int, float], float]:
    """Learning rate of epoch ``epoch`` (0-based) of a fit ending at ``epochs``: ``base``
    at the first, falling along a half cosine (Loshchilov & Hutter 2017, "SGDR") to
    ``base * (1 - cos(pi / epochs)) / 2`` at the last, never 0."""

    def rate(epoch: int, lr: float) -> float:
        return float(base * 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs - 1) / epochs)))

    return rate
