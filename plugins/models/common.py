"""What every built-in model shares without importing keras: the flux-vector option, its
check, and reading back the ``model.json`` a model's ``save`` wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.options import Option

FLUX_OPTIONS = (Option("n_pixels", int, 512, "length of the resampled flux vector", ge=2),)


def check_pixels(name: str, n_pixels: int, minimum: int) -> None:
    if n_pixels < minimum:
        raise BenchError(f"model {name}.n_pixels: {n_pixels} is too small; expected >= {minimum}")


def read_meta(directory: Path, name: str) -> dict[str, Any]:
    """The ``model.json`` written by ``save``, checked to belong to model ``name``."""
    path = directory / "model.json"
    if not path.is_file():
        raise BenchError(f"{path}: not found; expected a model directory written by save()")
    meta = json.loads(path.read_text())
    if meta.get("model") != name:
        raise BenchError(f"{path}: holds model {meta.get('model')!r}, expected {name!r}")
    return meta
