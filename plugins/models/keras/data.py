"""What a Keras model's ``fit`` and ``predict`` read: PyDatasets over a
:class:`~bench.interfaces.ModelInput`, batch by batch.

:class:`TrainingBatches` yields ``(x, y[, sample_weight])`` for ``fit``, :class:`InputsOnly`
yields ``(x,)`` for ``predict``; :class:`Padded` pads batches to a multiple of the device
count with zero-weight samples (data-parallel training); :func:`batch_range` is a slice of
batches (features streamed to disk a chunk at a time). :func:`balanced_weights` are
scikit-learn's class weights. Imports keras at module level: import it lazily.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.backend import ensure_jax_backend
from bench.interfaces import ModelInput

ensure_jax_backend()

import keras  # noqa: E402


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """scikit-learn's 'balanced' class weights; 0 for classes absent from ``y``."""
    counts = np.bincount(y[y >= 0], minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


class TrainingBatches(keras.utils.PyDataset):
    """Streams ``(x, y[, sample_weight])`` batches from a ModelInput, rendering batch by batch.

    Batches follow the input's current order; :class:`~.callbacks.Reshuffle` calls
    ``inputs.set_epoch(epoch)`` with the absolute epoch number before each epoch, so
    continued fits see the same orders as one long fit (fit with ``shuffle=False``: Keras
    must not reorder the batches). ``x_of`` maps batch positions to inputs (default: the
    input's own batches; cached features for frozen backbones). Samples whose label is
    outside the classes (y = -1) are left out.

    ``workers`` > 1 renders batches ahead in that many threads
    (:meth:`ModelInput.prefetched`, bit-identical to ``workers = 1``); Keras itself sees
    one worker. ``data_s`` counts the seconds the training loop waited for batches.
    """

    def __init__(
        self,
        inputs: ModelInput,
        class_weight: np.ndarray | None = None,
        x_of: Callable[[np.ndarray], np.ndarray] | None = None,
        workers: int = 1,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.inputs = inputs
        self.class_weight = class_weight
        self.x_of = x_of
        self.prefetch = inputs.prefetched(workers) if workers > 1 and x_of is None else None
        self.data_s = 0.0

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        start = time.perf_counter()
        inputs = self.inputs
        if self.prefetch is not None:
            x, y = self.prefetch.get(i)
        elif self.x_of is None:
            x, y = inputs[i]
        else:
            positions = inputs.positions(i)
            x, y = self.x_of(positions), inputs.y[positions]
        self.data_s += time.perf_counter() - start
        known = y >= 0
        if not known.all():
            x, y = x[known], y[known]
        if self.class_weight is None:
            return x, y
        return x, y, self.class_weight[y].astype(np.float32)

    def close(self) -> None:
        """Stop the prefetch threads, if any."""
        if self.prefetch is not None:
            self.prefetch.close()


class InputsOnly(keras.utils.PyDataset):
    """Inputs of a ModelInput in position order, for ``predict`` (labels are not needed);
    ``workers`` > 1 renders ahead in threads (:meth:`ModelInput.prefetched`)."""

    def __init__(self, inputs: ModelInput, workers: int = 1) -> None:
        super().__init__()
        self.inputs = inputs.in_order()
        self.prefetch = self.inputs.prefetched(workers) if workers > 1 else None

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[np.ndarray]:
        if self.prefetch is not None:
            return (self.prefetch.get(i)[0],)
        return (self.inputs[i][0],)

    def close(self) -> None:
        """Stop the prefetch threads, if any."""
        if self.prefetch is not None:
            self.prefetch.close()


def pad_batch(batch: tuple[np.ndarray, ...], multiple: int) -> tuple[np.ndarray, ...]:
    """``(x, y[, w])`` padded to a multiple of ``multiple`` samples; the pads have weight 0
    (``(x,)`` batches are padded with zeros; drop the extra rows of the predictions)."""
    x = batch[0]
    pad = -len(x) % multiple
    if len(batch) == 1:
        return (np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]),)
    y = batch[1]
    w = batch[2] if len(batch) > 2 else np.ones(len(y), np.float32)
    return (
        np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]),
        np.concatenate([y, np.zeros(pad, y.dtype)]),
        np.concatenate([w, np.zeros(pad, np.float32)]),
    )


class Padded(keras.utils.PyDataset):
    """``dataset``'s batches through :func:`pad_batch` (data-parallel training)."""

    def __init__(self, dataset: Any, multiple: int) -> None:
        super().__init__()
        self.dataset, self.multiple = dataset, multiple
        self.inputs = getattr(dataset, "inputs", None)  # for Reshuffle

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        return pad_batch(tuple(self.dataset[i]), self.multiple)


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
