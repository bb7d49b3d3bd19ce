"""What the runner reports while it works; the console draws it, tests may record it.

``stage(cell, text)`` says what a training run is doing now: ``loading``, ``first epoch
(rendering inputs, compiling)`` then ``epoch k of n, loss x`` for a model that reports its
epochs, ``fitting`` for one that does not, ``evaluating``, ``writing``.
"""

from __future__ import annotations

from typing import Any, Protocol

from bench.interfaces import Model
from bench.run.plan import Cell


class Events(Protocol):
    def run_started(self, n_cells: int) -> None: ...
    def stage(self, cell: Cell, text: str) -> None: ...
    def cell_finished(self, cell: Cell, result: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...


class SilentEvents:
    """Events that go nowhere (a task running on a remote worker)."""

    def run_started(self, n_cells: int) -> None:
        pass

    def stage(self, cell: Cell, text: str) -> None:
        pass

    def cell_finished(self, cell: Cell, result: dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        pass


def epoch_text(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    """``epoch 3 of 5, loss 0.412`` (and validation loss when there is one)."""
    text = f"epoch {epoch} of {epochs}"
    if "loss" in logs:
        text += f", loss {float(logs['loss']):.3f}"
    if "val_loss" in logs:
        text += f", val_loss {float(logs['val_loss']):.3f}"
    return text


def first_fit_stage(model: Model) -> str:
    """What the first ``fit`` of a training run does, in the model's own terms: a model
    that reports its epochs renders its inputs and compiles in the first one; any other
    is ``fitting`` (a template fit, a scikit-learn estimator) until ``fit`` returns."""
    return "first epoch (rendering inputs, compiling)" if model.reports_epochs() else "fitting"
