"""Keras pieces shared by the Keras models: streaming datasets over a Feed and the
serialisable input layer. Imports keras at module level: import it lazily, inside methods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.backend import ensure_jax_backend
from bench.feed import Feed, Prefetcher

ensure_jax_backend()

import keras  # noqa: E402


def with_batch_size(feed: Feed, batch_size: int) -> Feed:
    """``feed`` yielding batches of ``batch_size`` (shares the render cache)."""
    return feed.rebatched(batch_size)


def in_index_order(feed: Feed) -> Feed:
    """``feed`` without shuffling (for features and predictions)."""
    return feed.in_order()


class FeedDataset(keras.utils.PyDataset):
    """Streams ``(x, y[, sample_weight])`` batches from a Feed, rendering batch by batch.

    Batches follow ``feed.order``; :class:`Reshuffle` calls ``feed.set_epoch(epoch)`` with
    the absolute epoch number before each epoch, so continued fits see the same orders as
    one long fit (fit with ``shuffle=False``: Keras must not reorder the batches). ``x_of``
    maps batch positions to inputs (default: the feed's rendering; cached features for
    frozen backbones). Samples whose label is outside the classes (y = -1) are left out.

    ``workers`` > 1 renders batches ahead in that many threads (a
    :class:`bench.feed.Prefetcher`, bit-identical to ``workers = 1``); Keras itself sees
    one worker. ``data_s`` counts the seconds the training loop waited for batches.
    """

    def __init__(
        self,
        feed: Feed,
        class_weight: np.ndarray | None = None,
        x_of: Callable[[np.ndarray], np.ndarray] | None = None,
        workers: int = 1,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.feed = feed
        self.class_weight = class_weight
        self.x_of = x_of
        self.prefetcher = Prefetcher(feed, workers) if workers > 1 and x_of is None else None
        self.data_s = 0.0

    def __len__(self) -> int:
        return len(self.feed)

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        start = time.perf_counter()
        feed = self.feed
        if self.prefetcher is not None:
            x, y = self.prefetcher.get(i)
        elif self.x_of is None:
            x, y = feed[i]
        else:
            positions = feed.positions(i)
            x, y = self.x_of(positions), feed.y[positions]
        self.data_s += time.perf_counter() - start
        known = y >= 0
        if not known.all():
            x, y = x[known], y[known]
        if self.class_weight is None:
            return x, y
        return x, y, self.class_weight[y].astype(np.float32)

    def close(self) -> None:
        """Stop the prefetch threads, if any."""
        if self.prefetcher is not None:
            self.prefetcher.close()


def batch_range(dataset: Any, first: int, stop: int) -> keras.utils.PyDataset:
    """Batches ``first`` .. ``stop - 1`` of a PyDataset, as a PyDataset."""

    class Range(keras.utils.PyDataset):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()

        def __len__(self) -> int:
            return stop - first

        def __getitem__(self, i: int) -> Any:
            return dataset[first + i]

    return Range()


class Reshuffle(keras.callbacks.Callback):
    """Calls ``feed.set_epoch(epoch)`` at the start of every epoch (absolute numbers), and
    ``progress(epoch + 1, logs)`` after it when given (the runner's ``Model.progress``)."""

    def __init__(
        self, feed: Feed, progress: Callable[[int, dict[str, float]], None] | None = None
    ) -> None:
        super().__init__()
        self.feed = feed
        self.progress = progress

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.feed.set_epoch(epoch)

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


class DeviceInput(keras.layers.Layer):
    """What the feed ships, turned into the network's float32 inputs on the device:
    spectra ``(N, 2, P)`` through a device stage's ``function(flux, ivar)`` (the picture
    drawn inside the compiled step), or images decoded from uint8 (/255) or float16.
    Used by the training wrappers only, never saved (the saved network takes images)."""

    def __init__(
        self,
        function: Callable[[Any, Any], Any] | None = None,
        output_shape: tuple[int, ...] = (),
        scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(dtype="float32", **kwargs)
        self.function = function
        self.image_shape = tuple(output_shape)
        self.scale = float(scale)

    def call(self, x: Any) -> Any:
        if self.function is not None:
            x = keras.ops.cast(x, "float32")
            return self.function(x[:, 0], x[:, 1])
        x = keras.ops.cast(x, "float32")
        return x * self.scale if self.scale != 1.0 else x

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.function is not None:
            return (input_shape[0], *self.image_shape)
        return tuple(input_shape)


class InputsOnly(keras.utils.PyDataset):
    """Inputs of a Feed in index order, for ``predict`` (labels are not needed);
    ``workers`` > 1 renders ahead in threads (see :class:`bench.feed.Prefetcher`)."""

    def __init__(self, feed: Feed, workers: int = 1) -> None:
        super().__init__()
        self.feed = in_index_order(feed)
        self.prefetcher = Prefetcher(self.feed, workers) if workers > 1 else None

    def __len__(self) -> int:
        return len(self.feed)

    def __getitem__(self, i: int) -> tuple[np.ndarray]:
        if self.prefetcher is not None:
            return (self.prefetcher.get(i)[0],)
        return (self.feed[i][0],)

    def close(self) -> None:
        """Stop the prefetch threads, if any."""
        if self.prefetcher is not None:
            self.prefetcher.close()


@keras.saving.register_keras_serializable(package="specclassbench")
class ImageNetInput(keras.layers.Layer):
    """Renders in [0, 1] to a Keras application's input: 1 channel repeated to 3, scaled to
    0..255, then that family's own ``keras.applications.<family>.preprocess_input``."""

    def __init__(self, family: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.family = family

    def call(self, x: Any) -> Any:
        if x.shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)
        module = getattr(keras.applications, self.family)
        return module.preprocess_input(x * 255.0)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*input_shape[:-1], 3)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "family": self.family}


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam, SGD (momentum 0.9) or RMSprop at ``learning_rate``."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    return keras.optimizers.RMSprop(learning_rate)
