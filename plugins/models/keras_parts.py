"""Keras pieces shared by the Keras models: streaming datasets over a Feed and the
serialisable input layer. Imports keras at module level: import it lazily, inside methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.backend import ensure_jax_backend
from bench.feed import Feed

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
    """

    def __init__(
        self,
        feed: Feed,
        class_weight: np.ndarray | None = None,
        x_of: Callable[[np.ndarray], np.ndarray] | None = None,
        workers: int = 1,
    ) -> None:
        super().__init__(workers=workers, use_multiprocessing=False)
        self.feed = feed
        self.class_weight = class_weight
        self.x_of = x_of

    def __len__(self) -> int:
        return len(self.feed)

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        feed = self.feed
        if self.x_of is None:
            x, y = feed[i]
        else:
            positions = feed.order[i * feed.batch_size : (i + 1) * feed.batch_size]
            x, y = self.x_of(positions), feed.y[positions]
        known = y >= 0
        if not known.all():
            x, y = x[known], y[known]
        if self.class_weight is None:
            return x, y
        return x, y, self.class_weight[y].astype(np.float32)


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


class InputsOnly(keras.utils.PyDataset):
    """Inputs of a Feed in index order, for ``predict`` (labels are not needed)."""

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.feed = in_index_order(feed)

    def __len__(self) -> int:
        return len(self.feed)

    def __getitem__(self, i: int) -> tuple[np.ndarray]:
        return (self.feed[i][0],)


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
