"""Feeding models: spectra read by index, preprocessed and rendered batch by batch."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.interfaces import Preprocessor, Renderer
from bench.spectra import SpectrumBatch, SpectrumSource

# Inputs smaller than this are rendered once and kept; larger ones stream every epoch.
DEFAULT_MATERIALIZE_BYTES = 1 << 30


@dataclass
class Pipeline:
    """The preprocessing chain and renderer that turn spectra into model inputs."""

    preprocessors: Sequence[Preprocessor]
    renderer: Renderer
    shape: tuple[int, ...]

    def apply(self, batch: SpectrumBatch) -> np.ndarray:
        for step in self.preprocessors:
            batch = step(batch)
        x = self.renderer.render(batch, self.shape)
        if x.shape[1:] != self.shape:
            raise ValueError(
                f"renderer {self.renderer.name!r} returned shape {x.shape[1:]}, expected {self.shape}"
            )
        return np.asarray(x, dtype=np.float32)

    def to_config(self) -> dict[str, Any]:
        """JSON-able description from which :func:`bench.pipeline.pipeline_from_config` rebuilds it."""
        return {
            "preprocess": [{"name": p.name, "params": p.params} for p in self.preprocessors],
            "renderer": {"name": self.renderer.name, "params": self.renderer.params},
            "shape": list(self.shape),
        }


class Feed:
    """Batches ``(x, y)`` over ``index`` of a source, in a seeded order per epoch.

    ``y`` holds class indices into ``classes`` (-1 for a label outside them). Call
    :meth:`set_epoch` before each epoch when ``shuffle`` is on.
    """

    def __init__(
        self,
        source: SpectrumSource,
        index: np.ndarray,
        pipeline: Pipeline,
        classes: Sequence[str],
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int = 0,
        materialize_bytes: int = DEFAULT_MATERIALIZE_BYTES,
    ) -> None:
        self.source = source
        self.index = np.asarray(index, dtype=np.int64)
        self.pipeline = pipeline
        self.classes = list(classes)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        lookup = {c: i for i, c in enumerate(self.classes)}
        self.y = np.array([lookup.get(str(lab), -1) for lab in source.labels[self.index]], np.int32)
        self.order = np.arange(len(self.index))
        n_bytes = len(self.index) * math.prod(pipeline.shape) * 4
        self._keep = n_bytes <= materialize_bytes
        self._x: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return len(self.index)

    def __len__(self) -> int:
        return math.ceil(len(self.index) / self.batch_size)

    def rebatched(self, batch_size: int) -> Feed:
        """This feed yielding batches of ``batch_size`` (a shallow copy sharing kept inputs)."""
        if batch_size == self.batch_size:
            return self
        if self._keep:
            self.inputs()  # render once now, so the copy shares the kept inputs
        other = copy.copy(self)
        other.batch_size = int(batch_size)
        return other

    def in_order(self) -> Feed:
        """A shallow copy that never shuffles (for features and predictions)."""
        other = copy.copy(self)
        other.shuffle = False
        other.order = np.arange(self.n_samples)
        return other

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle:
            self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.index))

    def _render(self, positions: np.ndarray) -> np.ndarray:
        return self.pipeline.apply(self.source.read(self.index[positions]))

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        positions = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        if self._keep:
            return self.inputs()[positions], self.y[positions]
        return self._render(positions), self.y[positions]

    def inputs(self) -> np.ndarray:
        """All model inputs in index order (rendered once and kept when small enough)."""
        if self._x is not None:
            return self._x
        # chunks of at most ~32 MB of inputs: big fresh allocations cost more than rendering
        step = max(1, min(self.batch_size * 8, (32 << 20) // (math.prod(self.pipeline.shape) * 4)))
        parts = [
            self._render(np.arange(s, min(s + step, len(self.index))))
            for s in range(0, len(self.index), step)
        ]
        x = np.concatenate(parts) if parts else np.zeros((0, *self.pipeline.shape), np.float32)
        if self._keep:
            self._x = x
        return x
