"""The four plugin kinds, and result sinks. A plugin is a class with a ``name``, declared ``options`` and the
methods below; an instance is built with its resolved options in ``self.params``.

Keep plugin modules free of heavy imports at module level (keras, jax, matplotlib):
``bench plugins`` and ``bench validate`` import every plugin and must start fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.options import Option, resolve_options
from bench.spectra import SpectrumBatch, SpectrumSource

if TYPE_CHECKING:
    from bench.feed import Feed


class Plugin:
    """Base of every plugin: a registered name, declared options, resolved ``params``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    version: ClassVar[str] = "1"

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = resolve_options(self.options, params, self.name or "plugin")


class Dataset(Plugin, ABC):
    """Yields labelled spectra. ``open()`` may read files or generate; it is called once a run."""

    @abstractmethod
    def open(self) -> SpectrumSource:
        """Return the spectra as a :class:`SpectrumSource`."""


class Preprocessor(Plugin, ABC):
    """Maps a batch of spectra to a batch (same objects, same order)."""

    @abstractmethod
    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch: ...


class Renderer(Plugin, ABC):
    """Maps a batch to model inputs: images ``(N, height, width, channels)`` float32 in
    [0, 1], or flux vectors ``(N, pixels, 1)`` for 1-D models."""

    @abstractmethod
    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray: ...


class Model(Plugin, ABC):
    """A classifier: built from an input shape and class list, trained on a :class:`Feed`.

    ``fit`` may be called again with a larger ``epochs`` and ``initial_epoch`` set to the
    previous ``epochs``: it must then continue training where it stopped (the runner
    snapshots one training run at each requested epoch count).
    """

    input_kind: ClassVar[str] = "image"  # "image" or "flux"
    # Set by the runner before ``fit``: a model that supports it calls
    # ``progress(epoch, logs)`` after each epoch (1-based, absolute; logs such as
    # ``{"loss": 0.41, "val_loss": 0.45}``) so the console can show it. Optional.
    progress: Callable[[int, dict[str, float]], None] | None = None
    # Option values for `bench run --quick`: the smallest inputs the model accepts.
    quick_options: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        """The input shape this model wants, from its options (``n_pixels`` for 1-D models)."""

    @abstractmethod
    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None: ...

    @abstractmethod
    def fit(
        self, train: Feed, validation: Feed | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        """Train to ``epochs``; return per-epoch ``loss``, ``accuracy`` and, with validation
        data, ``val_loss``, ``val_accuracy`` for the epochs run in this call."""

    @abstractmethod
    def predict_proba(self, feed: Feed) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` in the order of ``classes``; rows sum to 1."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything needed by :meth:`load` into ``directory``."""

    @abstractmethod
    def load(self, directory: Path) -> None:
        """Restore a model written by :meth:`save` (the instance has the same params)."""

    def describe(self) -> Mapping[str, Any]:
        """Facts for the report (backend, devices, parameter count)."""
        return {}


class ResultSink:
    """Receives finished cells and the finished run. ``enabled()`` decides whether the
    sink takes part in a run (e.g. only when its library is installed and configured)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @classmethod
    def enabled(cls) -> bool:
        return True

    def cell_finished(self, *, run_dir: Path, result: dict[str, Any]) -> None:
        """Called in the main process as each cell finishes (ok, failed or reused)."""

    def run_finished(self, *, run_dir: Path, report: dict[str, Any]) -> None:
        """Called once report.json is written."""
