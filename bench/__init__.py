"""specclassbench: a plugin-based benchmark harness for classifying astrophysical spectra.

A plugin, built-in or third-party, imports only the modules in :data:`PUBLIC_API`
(``tests/test_architecture.py`` holds the built-ins to it); everything else in ``bench``
is the core's own and may change without notice.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("bench")

# The public API: the modules a plugin may import (docs/plugins.md, "What a plugin imports").
PUBLIC_API: tuple[str, ...] = (
    "bench",  # hookimpl, __version__
    "bench.hookspecs",  # every hook, documented
    "bench.interfaces",  # the plugin base classes, ModelInput, Command, ResultSink
    "bench.options",  # Option: typed, bounded, declared options
    "bench.spectra",  # SpectrumBatch, SpectrumSource, CLASSES, mask bits, the BOSS grid
    "bench.errors",  # BenchError: the one error a user sees, as one line
    "bench.kernels",  # array kernels written once for numpy and JAX
    "bench.readers",  # reading spectrum files (spec-lite, spSpec, FITS tables)
    "bench.executors",  # Executor: where the training runs of a matrix execute
    "bench.backend",  # ensure_jax_backend(): Keras on JAX, set before keras is imported
)

__all__ = ["PUBLIC_API", "__version__", "hookimpl"]
