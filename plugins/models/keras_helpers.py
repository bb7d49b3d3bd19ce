"""Keras on demand, and the batch helpers shared by the Keras models: class weights and
padding batches to a multiple of the device count (zero-weight pads)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.options import Option
from bench_plugins.models.augment import AUGMENT_OPTIONS

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

TRAINING_OPTIONS = (
    Option("batch_size", int, 32, "samples per gradient step"),
    Option("optimizer", str, "adam", "optimizer", choices=("adam", "sgd", "rmsprop")),
    Option("learning_rate", float, 1e-3, "optimizer learning rate"),
    Option(
        "class_weight",
        str,
        "none",
        "'balanced' weights each class by n_samples / (n_classes * count) in the loss",
        choices=("none", "balanced"),
    ),
    Option(
        "workers",
        int,
        1,
        "threads rendering batches ahead of training; 1: none (any count gives "
        "bit-identical batches)",
    ),
    Option(
        "device_render",
        str,
        "auto",
        "draw the pictures on the accelerator inside the compiled step when the renderer "
        "has a device version; auto: only when JAX runs on a GPU/TPU (on CPU the numpy "
        "path stays, bit-identical to earlier versions)",
        ("auto", "on", "off"),
    ),
    Option(
        "transfer_dtype",
        str,
        "float32",
        "how host-rendered images travel to the device: float32 (exact), float16 or "
        "uint8 (fewer bytes, pixels rounded; decoded on the device)",
        ("float32", "float16", "uint8"),
    ),
    Option(
        "steps_per_execution",
        int,
        1,
        "training steps per compiled call (raise it for small models on an accelerator)",
    ),
    Option(
        "precision",
        str,
        "float32",
        "float32, or mixed_bfloat16: bfloat16 compute, float32 variables and head",
        ("float32", "mixed_bfloat16"),
    ),
    Option(
        "ensemble",
        int,
        1,
        "members of a seed ensemble, each trained on its own (member seeds derived from "
        "the cell seed: own initialisation, shuffling and augmentation draws); predictions "
        "are the mean of the members' probabilities; 1: a single model, as before",
        ge=1,
    ),
    *AUGMENT_OPTIONS,
)


def import_keras() -> Any:
    """Keras on the JAX backend (imported on first use, never at module import)."""
    from bench.backend import ensure_jax_backend

    ensure_jax_backend()
    import keras

    return keras


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """scikit-learn's 'balanced' class weights; 0 for classes absent from ``y``."""
    counts = np.bincount(y[y >= 0], minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def pad_batch(batch: tuple[np.ndarray, ...], multiple: int) -> tuple[np.ndarray, ...]:
    """``(x, y[, w])`` padded to a multiple of ``multiple`` samples; the pads have weight 0
    (``(x,)`` batches are padded with zeros; drop the extra rows of the predictions)."""
    x = batch[0]
    pad = -len(x) % multiple
    if len(batch) == 1:
        return (np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]),)
    y = batch[1]
    w = batch[2] if len(batch) > 2 else np.ones(len(y), np.float32)
    return (
        np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]),
        np.concatenate([y, np.zeros(pad, y.dtype)]),
        np.concatenate([w, np.zeros(pad, np.float32)]),
    )


def padded(dataset: Any, multiple: int) -> Any:
    """A PyDataset yielding ``dataset``'s batches through :func:`pad_batch`."""
    keras = import_keras()

    class Padded(keras.utils.PyDataset):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.feed = getattr(dataset, "feed", None)  # for Reshuffle

        def __len__(self) -> int:
            return len(dataset)

        def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
            return pad_batch(tuple(dataset[i]), multiple)

    return Padded()
