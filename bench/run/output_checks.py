"""Checking what a model plugin returned before its cell is stored, so one bad plugin
fails its own cells and never the report: probabilities and the fit history."""

from __future__ import annotations

import numpy as np

HISTORY_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")


class PluginOutputError(ValueError):
    """A model plugin returned something the report cannot hold; fails that cell only."""


def check_plugin_output(
    model: str,
    proba: np.ndarray,
    history: dict[str, list[float]],
    shape: tuple[int, int],
    epochs: int,
    validation: bool = True,
) -> None:
    """Check what a model returned before it is stored: ``proba`` of ``shape`` (test
    spectra x classes), finite, in [0, 1], rows summing to 1; a history with ``loss`` and
    ``accuracy`` (and ``val_*`` when there was a validation set), one value per epoch."""
    if proba.shape != shape:
        raise PluginOutputError(
            f"model {model!r}: predict_proba gave shape {proba.shape}, expected {shape}"
        )
    if not np.all(np.isfinite(proba)):
        raise PluginOutputError(f"model {model!r}: predict_proba gave NaN or infinite values")
    sums = proba.sum(axis=1)
    if proba.min(initial=0.0) < -1e-6 or not np.allclose(sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise PluginOutputError(
            f"model {model!r}: predict_proba rows must be probabilities summing to 1 "
            f"(row {worst} sums to {sums[worst]:.4g})"
        )
    keys = [k for k in HISTORY_KEYS if validation or not k.startswith("val_")]
    missing = [k for k in keys if k not in history]
    if missing:
        raise PluginOutputError(
            f"model {model!r}: fit's history lacks {', '.join(missing)} "
            f"(it must return {', '.join(keys)})"
        )
    for key in keys:
        if len(history[key]) != epochs:
            raise PluginOutputError(
                f"model {model!r}: fit's history[{key!r}] has {len(history[key])} values "
                f"after {epochs} epochs, expected one per epoch"
            )
