"""The core's :class:`bench.interfaces.ModelInput`: spectra read by index, preprocessed
and rendered batch by batch.

Two ways to the model: the default renders on the host (numpy) and yields images; a
device feed (:meth:`Feed.for_device`) runs only the host part of the pipeline and
yields spectra ``(N, 2, P)`` (flux and ivar) for a :class:`DeviceStage` that draws the
picture on the accelerator inside the model's compiled step. :meth:`Feed.prefetched`
prepares batches ahead in background threads; a batch depends only on its positions
(and, for a feed with training-time augmentation, its epoch), so results are
bit-identical whatever the number of workers.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Sequence

import numpy as np

from bench.feed.device import encode
from bench.feed.pipeline import Pipeline
from bench.feed.prefetch import Prefetcher
from bench.interfaces import TRANSFER_DTYPES, Augmentation, DeviceStage
from bench.spectra import SpectrumBatch, SpectrumSource

# Inputs smaller than this are rendered once and kept; larger ones stream every epoch.
DEFAULT_MATERIALIZE_BYTES = 1 << 30

# tells the augmentation's random numbers from the shuffle's (same seed and epoch)
_AUGMENT_TAG = 0xA0C


class _RawSpectra:
    """The raw spectra of an augmented feed, read once in index order and shared by its
    copies (:meth:`Feed.rebatched`...): an augmentation draws from them afresh every
    epoch, and a source gives the same arrays whichever batch reads them."""

    def __init__(self) -> None:
        self.batch: SpectrumBatch | None = None
        self.lock = threading.Lock()


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
        self.kept = self.augmentation is None and n_bytes <= self.materialize_bytes
        self._x: np.ndarray | None = None
        # ... but their raw spectra are, within the same budget (flux, ivar, mask: 12 bytes
        # a pixel): a synthetic source would generate every spectrum again every epoch
        raw_bytes = len(self.index) * len(getattr(self.source, "loglam", ())) * 12
        keep_raw = self.augmentation is not None and 0 < raw_bytes <= self.materialize_bytes
        self._raw = _RawSpectra() if keep_raw else None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one yielded input: the pipeline's, or (2, pixels) for a device feed."""
        if self.stage is not None:
            return (2, self.stage.n_pixels)
        return tuple(self.pipeline.shape)

    @property
    def input_itemsize(self) -> int:
        return 4 if self.stage is not None else np.dtype(self.transfer_dtype).itemsize

    def device_stage(self, shape: tuple[int, ...]) -> DeviceStage | None:
        """The device stage of this feed's pipeline when it draws ``shape`` (None: render
        on the host); made once per pipeline and shared by its copies."""
        if tuple(self.pipeline.shape) != tuple(shape):
            return None
        return self.pipeline.device_stage_for(self.source.loglam)

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

    def spectra(self, positions: np.ndarray, preprocessed: bool = False) -> SpectrumBatch:
        """The spectra at ``positions`` as the source gives them, or through the
        pipeline's preprocessing steps when ``preprocessed`` (never augmented)."""
        batch = self.source.read(self.index[np.asarray(positions, dtype=np.int64)])
        return self.pipeline.preprocess(batch) if preprocessed else batch

    def prefetched(self, workers: int) -> Prefetcher:
        """Batches prepared ahead in ``workers`` threads (bit-identical to ``self[i]``)."""
        return Prefetcher(self, workers)

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
        if self.kept:
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

    def _read(self, positions: np.ndarray) -> SpectrumBatch:
        """The raw spectra at ``positions``: from the once-read copy of an augmented feed
        whose spectra fit ``materialize_bytes``, else from the source."""
        raw = self._raw
        if raw is None:
            return self.source.read(self.index[positions])
        with raw.lock:
            if raw.batch is None:
                raw.batch = self.source.read(self.index)
        return raw.batch.take(positions)

    def _render(self, positions: np.ndarray, epoch: int | None = None) -> np.ndarray:
        batch = self._read(positions)
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
        if self.kept:
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
        if self.kept:
            self._x = x
        return x
