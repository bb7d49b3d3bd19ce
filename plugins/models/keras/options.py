"""The options every Keras model shares (training, device speed, seed ensemble,
augmentation), declared as data, and the history keys its ``fit`` reports."""

from __future__ import annotations

from bench.options import Option
from bench_plugins.models.augment import AUGMENT_OPTIONS

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

TRAINING_OPTIONS = (
    Option("batch_size", int, 32, "samples per gradient step"),
    Option("optimizer", str, "adam", "optimizer", choices=("adam", "sgd", "rmsprop")),
    Option("learning_rate", float, 1e-3, "optimizer learning rate"),
    Option(
        "lr_schedule",
        str,
        "constant",
        "learning rate over a fit: constant, or cosine (from learning_rate at the first epoch "
        "down a half cosine towards 0 at the fit's last: no late spike is kept; a fit that "
        "continues a trained cell to more epochs restarts the curve from the top)",
        choices=("constant", "cosine"),
    ),
    Option(
        "average_epochs",
        int,
        1,
        "stochastic weight averaging: the mean of the weights at the ends of the last N "
        "epochs of a fit replaces them (validation scores the mean so far); 1: the last "
        "epoch's weights, as before",
        ge=1,
    ),
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
