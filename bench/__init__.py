"""specclassbench: a plugin-based benchmark harness for classifying astrophysical spectra."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("bench")

__all__ = ["__version__", "hookimpl"]
