"""Feeding models: the core's side of :class:`bench.interfaces.ModelInput`.

A :class:`Feed` (``batches.py``) reads spectra by index from a dataset's source, runs them
through a :class:`Pipeline` (``pipeline.py``: preprocessors, then the renderer) batch by
batch, and yields ``(x, y)``; ``device.py`` encodes inputs for the trip to an accelerator
and checks that device versions of steps give the host's numbers; ``prefetch.py`` prepares
batches ahead in threads. Internal to the core: models see only ``ModelInput``.
"""

from __future__ import annotations

from bench.feed.batches import DEFAULT_MATERIALIZE_BYTES, Feed
from bench.feed.device import decode, device_mismatch, encode, step_device_mismatch
from bench.feed.pipeline import Pipeline
from bench.feed.prefetch import Prefetcher
from bench.interfaces import TRANSFER_DTYPES, Augmentation, DeviceStage

__all__ = [
    "DEFAULT_MATERIALIZE_BYTES",
    "TRANSFER_DTYPES",
    "Augmentation",
    "DeviceStage",
    "Feed",
    "Pipeline",
    "Prefetcher",
    "decode",
    "device_mismatch",
    "encode",
    "step_device_mismatch",
]
