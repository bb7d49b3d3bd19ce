"""Keras runs on JAX: set KERAS_BACKEND before keras is first imported, never switch later."""

from __future__ import annotations

import os
import sys

from bench.errors import BenchError


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "specclassbench", "jax")


def ensure_jax_backend() -> None:
    """Select the JAX backend for Keras, or fail clearly when the user forced another one.

    Also turns on JAX's persistent compilation cache (``~/.cache/specclassbench/jax``
    unless ``JAX_COMPILATION_CACHE_DIR`` is set; ``JAX_COMPILATION_CACHE_DIR=""`` turns it
    off): building and compiling InceptionV3 on a CPU takes about a minute the first time
    and a few seconds once cached. Cached executables are the same programs, so results
    do not change.
    """
    if "jax" not in sys.modules:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _cache_dir())
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
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
