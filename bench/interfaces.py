"""The four plugin kinds, :class:`Command` (a CLI subcommand a plugin adds) and
:class:`ResultSink` (what happens with finished cells and runs). A plugin is a class with a ``name``, declared ``options`` and the
methods below; an instance is built with its resolved options in ``self.params``.

Keep plugin modules free of heavy imports at module level (keras, jax, matplotlib):
``bench plugins`` and ``bench validate`` import every plugin and must start fast.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


# A device implementation: a jit-able JAX function of (flux, ivar), both (N, P) float32.
DeviceFunction = Callable[[Any, Any], Any]


class Preprocessor(Plugin, ABC):
    """Maps a batch of spectra to a batch (same objects, same order)."""

    @abstractmethod
    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch: ...

    def device_function(self, loglam: np.ndarray) -> DeviceFunction | None:
        """Optional: a jit-able JAX ``f(flux, ivar) -> (flux, ivar)`` doing what
        :meth:`__call__` does to spectra on the grid ``loglam`` (float32, same values to
        float32 rounding), or None (the default) when this step only runs in numpy. It
        sees flux and ivar only (no and_mask or metadata) and must keep the grid."""
        return None


class Renderer(Plugin, ABC):
    """Maps a batch to model inputs: images ``(N, height, width, channels)`` float32 in
    [0, 1], or flux vectors ``(N, pixels, 1)`` for 1-D models."""

    # The model input kind ("image" or "flux") this renderer draws when a config names no
    # renderer for such a model; "" (the default): only when named. One per kind.
    default_for: ClassVar[str] = ""

    @abstractmethod
    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray: ...

    def device_function(self, loglam: np.ndarray, shape: tuple[int, ...]) -> DeviceFunction | None:
        """Optional: a jit-able JAX ``f(flux, ivar) -> inputs (N, *shape) float32`` giving
        the pixels of :meth:`render` (to float32 rounding) for spectra on the grid
        ``loglam``, so the picture can be drawn on the accelerator inside the model's
        compiled step; None (the default) when only the numpy :meth:`render` exists.
        Import jax inside it."""
        return None


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

    def timing(self) -> Mapping[str, float]:
        """Optional: where the time of the last :meth:`fit` call went, in seconds, e.g.
        ``compile_s`` (first step: tracing and compiling), ``data_s`` (the training loop
        waiting for input batches), ``step_s`` (training steps after the first),
        ``validation_s``. {} (the default) when the model does not measure it."""
        return {}


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """The default of :attr:`Command.add_arguments`: the command takes no arguments."""


@dataclass(frozen=True)
class Command:
    """A ``bench`` subcommand added through the ``register_commands`` hook.

    ``path`` is the words that call it: ``("data", "sample")`` is ``bench data sample``
    (groups such as ``data`` and ``plot`` are shared with the core). ``add_arguments``
    declares its arguments on an argparse parser; ``run`` gets the parsed arguments and
    returns the exit code. Import heavy modules inside ``run``, not at module level.
    """

    path: tuple[str, ...]
    help: str
    run: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments


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
