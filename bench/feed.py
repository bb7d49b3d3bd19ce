"""Feeding models: spectra read by index, preprocessed and rendered batch by batch.

Two ways to the model: the default renders on the host (numpy) and yields images; a
device feed (:meth:`Feed.for_device`) runs only the host part of the pipeline and
yields spectra ``(N, 2, P)`` (flux and ivar) for a :class:`DeviceStage` that draws the
picture on the accelerator inside the model's compiled step. :class:`Prefetcher`
prepares batches ahead in background threads; a batch depends only on its positions
(and, for a feed with training-time augmentation, its epoch), so results are
bit-identical whatever the number of workers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.device import (
    TRANSFER_DTYPES,
    DeviceStage,
    StepFunction,
    decode,
    device_mismatch,
    encode,
    step_device_mismatch,
)
from bench.interfaces import DeviceFunction, Preprocessor, Renderer
from bench.prefetch import Prefetcher
from bench.spectra import SpectrumBatch, SpectrumSource, empty_batch

# Inputs smaller than this are rendered once and kept; larger ones stream every epoch.
DEFAULT_MATERIALIZE_BYTES = 1 << 30

# ``fn(batch, rng) -> batch``: a random change of the raw spectra (training-time augmentation)
Augmentation = Callable[[SpectrumBatch, np.random.Generator], SpectrumBatch]
# tells the augmentation's random numbers from the shuffle's (same seed and epoch)
_AUGMENT_TAG = 0xA0C

__all__ = [
    "DEFAULT_MATERIALIZE_BYTES",
    "Augmentation",
    "TRANSFER_DTYPES",
    "DeviceStage",
    "Feed",
    "Pipeline",
    "Prefetcher",
    "decode",
    "device_mismatch",
    "encode",
    "step_device_mismatch",
]


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

    def apply_host(self, batch: SpectrumBatch, n_host: int) -> SpectrumBatch:
        """``batch`` through the first ``n_host`` preprocessors (the host part)."""
        for step in self.preprocessors[:n_host]:
            batch = step(batch)
        return batch

    def device_stage(
        self, loglam: np.ndarray, step_function: StepFunction | None = None
    ) -> DeviceStage | None:
        """The accelerator part of this pipeline for spectra on ``loglam``, or None when the
        renderer has no device version. The device takes the longest run of trailing
        preprocessors that have one (``step_function(step, grid)``, by default
        ``step.device_function(grid)``) and keep the grid; the host does the rest."""
        find = step_function or (lambda step, grid: step.device_function(grid))
        grids = [np.asarray(loglam, np.float64)]
        probe = empty_batch(grids[0], 1)
        for step in self.preprocessors:  # the grid each step sees (resample changes it)
            probe = step(probe)
            grids.append(np.asarray(probe.loglam, np.float64))
        render = self.renderer.device_function(grids[-1], self.shape)
        if render is None:
            return None
        k = len(self.preprocessors)
        fns: list[DeviceFunction] = []
        while k > 0:
            same_grid = grids[k].shape == grids[k - 1].shape and np.array_equal(
                grids[k], grids[k - 1]
            )
            fn = find(self.preprocessors[k - 1], grids[k - 1]) if same_grid else None
            if fn is None:
                break
            fns.insert(0, fn)
            k -= 1
        steps = tuple(fns)

        def function(flux: Any, ivar: Any) -> Any:
            for fn in steps:
                flux, ivar = fn(flux, ivar)
            return render(flux, ivar)

        names = tuple(p.name for p in self.preprocessors[k:]) + (self.renderer.name,)
        return DeviceStage(k, grids[k], function, names)

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
    :meth:`set_epoch` before each epoch when ``shuffle`` is on or the feed is augmented
    (:meth:`with_augmentation`).
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
        self.epoch = 0
        self.materialize_bytes = materialize_bytes
        self.stage: DeviceStage | None = None
        self.transfer_dtype = "float32"
        self.augmentation: Augmentation | None = None
        self._reset_inputs()

    def _reset_inputs(self) -> None:
        n_bytes = len(self.index) * math.prod(self.input_shape) * self.input_itemsize
        # augmented inputs change every epoch: never kept
        self._keep = self.augmentation is None and n_bytes <= self.materialize_bytes
        self._x: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one yielded input: the pipeline's, or (2, pixels) for a device feed."""
        if self.stage is not None:
            return (2, self.stage.n_pixels)
        return tuple(self.pipeline.shape)

    @property
    def input_itemsize(self) -> int:
        return 4 if self.stage is not None else np.dtype(self.transfer_dtype).itemsize

    def for_device(self, stage: DeviceStage) -> Feed:
        """A copy yielding spectra ``(N, 2, P)`` float32 (flux, ivar after the host part
        of the pipeline) for ``stage`` to render on the device."""
        other = copy.copy(self)
        other.stage = stage
        other._reset_inputs()
        return other

    def with_transfer_dtype(self, dtype: str) -> Feed:
        """A copy yielding images encoded as ``dtype`` (see :func:`encode`); float32 is
        exact, float16 and uint8 round the pixels. Device feeds always yield float32."""
        if dtype not in TRANSFER_DTYPES:
            raise ValueError(f"transfer dtype {dtype!r} is not one of {TRANSFER_DTYPES}")
        if dtype == self.transfer_dtype:
            return self
        other = copy.copy(self)
        other.transfer_dtype = dtype
        other._reset_inputs()
        return other

    def with_augmentation(self, fn: Augmentation) -> Feed:
        """A copy applying ``fn(batch, rng)`` to the raw spectra right after
        ``source.read``, before the pipeline (host and device paths alike). ``rng`` is
        seeded by the feed's seed, the epoch and the batch's positions, so a batch stays a
        pure function of (epoch, positions); inputs are rendered afresh every epoch."""
        other = copy.copy(self)
        other.augmentation = fn
        other._reset_inputs()
        return other

    def augmentation_rng(self, positions: np.ndarray, epoch: int) -> np.random.Generator:
        """The random numbers of the augmentation of the batch at ``positions`` in ``epoch``
        (a hash of seed, epoch and every position: SeedSequence's entropy)."""
        entropy = [_AUGMENT_TAG, self.seed, int(epoch), *np.asarray(positions).tolist()]
        return np.random.default_rng(entropy)

    @property
    def n_samples(self) -> int:
        return len(self.index)

    def __len__(self) -> int:
        return math.ceil(len(self.index) / self.batch_size)

    def rebatched(self, batch_size: int, seed: int | None = None) -> Feed:
        """This feed yielding batches of ``batch_size`` and, given ``seed``, shuffled and
        augmented with that seed instead (a shallow copy sharing kept inputs)."""
        seed = self.seed if seed is None else int(seed)
        if batch_size == self.batch_size and seed == self.seed:
            return self
        if self._keep:
            self.inputs()  # render once now, so the copy shares the kept inputs
        other = copy.copy(self)
        other.batch_size, other.seed = int(batch_size), seed
        return other

    def in_order(self) -> Feed:
        """A shallow copy that never shuffles (for features and predictions)."""
        other = copy.copy(self)
        other.shuffle = False
        other.order = np.arange(self.n_samples)
        return other

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if self.shuffle:
            self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.index))

    def _render(self, positions: np.ndarray, epoch: int | None = None) -> np.ndarray:
        batch = self.source.read(self.index[positions])
        if self.augmentation is not None:
            rng = self.augmentation_rng(positions, self.epoch if epoch is None else epoch)
            batch = self.augmentation(batch, rng)
        if self.stage is None:
            return encode(self.pipeline.apply(batch), self.transfer_dtype)
        batch = self.pipeline.apply_host(batch, self.stage.n_host)
        if batch.flux.shape[1] != self.stage.n_pixels:
            raise ValueError(
                f"host preprocessing gave {batch.flux.shape[1]} pixels; the device stage "
                f"expects {self.stage.n_pixels}"
            )
        return np.stack([batch.flux, batch.ivar], axis=1).astype(np.float32, copy=False)

    def positions(self, i: int) -> np.ndarray:
        """Positions (into ``index``) of the samples of batch ``i`` in the current order."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.order[i * self.batch_size : (i + 1) * self.batch_size]

    def batch_at(
        self, positions: np.ndarray, epoch: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the samples at ``positions``: a pure function of them and, for an
        augmented feed, of ``epoch`` (default: the current one); thread-safe for the
        built-in plugins, which is what makes prefetching reproducible."""
        if self._keep:
            return self.inputs()[positions], self.y[positions]
        return self._render(positions, epoch), self.y[positions]

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batch_at(self.positions(i))

    def inputs(self) -> np.ndarray:
        """All model inputs in index order (rendered once and kept when small enough)."""
        if self._x is not None:
            return self._x
        # chunks of at most ~32 MB of inputs: big fresh allocations cost more than rendering
        per_sample = math.prod(self.input_shape) * self.input_itemsize
        step = max(1, min(self.batch_size * 8, (32 << 20) // per_sample))
        parts = [
            self._render(np.arange(s, min(s + step, len(self.index))))
            for s in range(0, len(self.index), step)
        ]
        dtype = np.float32 if self.stage is not None else np.dtype(self.transfer_dtype)
        x = np.concatenate(parts) if parts else np.zeros((0, *self.input_shape), dtype)
        if self._keep:
            self._x = x
        return x
