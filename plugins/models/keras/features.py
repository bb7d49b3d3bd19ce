"""Frozen-backbone features (``mode = "frozen"`` of the Keras applications): the pooled
backbone output of each :class:`~bench.interfaces.ModelInput` a model has seen, computed
once per input, kept in memory or (``feature_dir``) streamed a chunk of batches at a time
into a memory-mapped ``.npy`` file in a temporary folder removed with the cache."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.interfaces import ModelInput

if TYPE_CHECKING:
    import keras

# Batches predicted per chunk when features go to disk (bounds the host memory).
EXTRACT_CHUNK_BATCHES = 64


class FeatureCache:
    """Features by input (the same object: ``fit``'s training and validation inputs,
    then ``predict_proba`` on one of them); ``feature_dir`` '' keeps them in RAM."""

    def __init__(self, name: str, feature_dir: str) -> None:
        self.name, self.feature_dir = name, feature_dir
        self.known: list[tuple[ModelInput, np.ndarray]] = []
        self.folder: Path | None = None

    def __len__(self) -> int:
        return len(self.known)

    def get(self, inputs: ModelInput) -> np.ndarray | None:
        """The features of ``inputs`` when computed before, else None."""
        for known, x in self.known:
            if known is inputs:
                return x
        return None

    def add(self, inputs: ModelInput, x: np.ndarray) -> None:
        self.known.append((inputs, x))

    def clear(self) -> None:
        self.known = []

    def extract(self, extractor: keras.Model, data: Any, n: int) -> np.ndarray:
        """``extractor``'s float32 outputs over the PyDataset ``data`` (``n`` samples)."""
        if not self.feature_dir:
            return np.asarray(extractor.predict(data, verbose=0), dtype=np.float32)
        return self.to_disk(extractor, data, n)

    def to_disk(self, extractor: keras.Model, data: Any, n: int) -> np.ndarray:
        """Features of ``data`` (n samples) predicted a chunk of batches at a time into a
        memory-mapped float32 ``.npy`` file under ``feature_dir``; returned read-only."""
        from bench_plugins.models.keras.data import batch_range

        if self.folder is None:
            root = Path(self.feature_dir)
            root.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=root))
            weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        path = self.folder / f"features-{len(self.known)}.npy"
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
