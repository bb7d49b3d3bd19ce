"""Keras runs on JAX: set KERAS_BACKEND before keras is first imported, never switch later."""

from __future__ import annotations

import os
import sys

from bench.errors import BenchError


def ensure_jax_backend() -> None:
    """Select the JAX backend for Keras, or fail clearly when the user forced another one."""
    chosen = os.environ.setdefault("KERAS_BACKEND", "jax")
    if chosen != "jax":
        raise BenchError(
            f"KERAS_BACKEND={chosen!r} is set, but this harness runs Keras on JAX; "
            "unset it or set KERAS_BACKEND=jax"
        )
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != "jax":
            raise BenchError(
                f"keras was already imported with the {keras.backend.backend()!r} backend; "
                "import bench before keras or set KERAS_BACKEND=jax"
            )
