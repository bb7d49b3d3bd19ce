"""Frozen-backbone features: the pooled backbone output of a feed, computed once per
feed, in memory or (``feature_dir``) streamed chunk by chunk into a memory-mapped file."""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench_plugins.models.keras_helpers import import_keras

if TYPE_CHECKING:
    import keras

    from bench.feed import Feed

# Batches predicted per chunk when features go to disk (bounds the host memory).
EXTRACT_CHUNK_BATCHES = 64


class FeatureExtraction:
    """Mixin of the Keras applications: :meth:`features` of a feed for the frozen head."""

    params: dict[str, Any]
    name: str
    _features: list[tuple[Any, np.ndarray]]
    _extractor: Any
    _feature_folder: Path | None

    def features(self, feed: Feed) -> np.ndarray:
        """Pooled backbone features of ``feed`` in index order, computed once per feed."""
        for known, x in self._features:
            if known is feed:
                return x
        keras = import_keras()
        from bench_plugins.models.keras_parts import InputsOnly, with_batch_size

        start = time.perf_counter()
        if self._extractor is None:  # kept: its compiled predict step is reused
            network = self._network()
            pooled = network.get_layer("head_norm").input  # the backbone output
            self._extractor = keras.Model(network.inputs, pooled)
        shipped = self.shipped(with_batch_size(feed, self.params["batch_size"]))
        extractor = self.wrapped(self._extractor, shipped)
        data = InputsOnly(shipped, workers=self.params["workers"])
        try:
            if self.params["feature_dir"]:
                x = self.features_to_disk(extractor, data, feed.n_samples)
            else:
                x = np.asarray(extractor.predict(data, verbose=0), dtype=np.float32)
        finally:
            data.close()
        self._features.append((feed, x))
        self.add_timing({"features_s": time.perf_counter() - start})
        return x

    def features_to_disk(self, extractor: keras.Model, data: Any, n: int) -> np.ndarray:
        """Features of ``data`` (n samples) predicted a chunk of batches at a time into a
        memory-mapped float32 ``.npy`` file under ``feature_dir``; returned read-only."""
        from bench_plugins.models.keras_parts import batch_range

        if self._feature_folder is None:
            root = Path(self.params["feature_dir"])
            root.mkdir(parents=True, exist_ok=True)
            self._feature_folder = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=root))
            weakref.finalize(self, shutil.rmtree, str(self._feature_folder), True)
        path = self._feature_folder / f"features-{len(self._features)}.npy"
        out: np.ndarray | None = None
        done = 0
        for first in range(0, len(data), EXTRACT_CHUNK_BATCHES):
            chunk = batch_range(data, first, min(first + EXTRACT_CHUNK_BATCHES, len(data)))
            x = np.asarray(extractor.predict(chunk, verbose=0), dtype=np.float32)
            if out is None:
                out = np.lib.format.open_memmap(path, "w+", np.float32, (n, x.shape[1]))
            out[done : done + len(x)] = x
            done += len(x)
        if out is None:
            return np.zeros((0, 0), np.float32)
        out.flush()
        del out
        return np.load(path, mmap_mode="r")
