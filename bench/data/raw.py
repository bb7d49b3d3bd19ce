"""A spectrum as stored in its file, before it is put on a shared grid; its SDSS id."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class RawSpectrum:
    """One spectrum as stored in its file (see :mod:`bench.spectra` for units)."""

    id: str
    loglam: np.ndarray  # float64
    flux: np.ndarray  # float32
    ivar: np.ndarray  # float32
    mask: np.ndarray  # int32 and_mask, 0 good
    label: str = ""  # STAR / GALAXY / QSO, "" when unknown
    redshift: float = float("nan")
    meta: dict[str, Any] = field(default_factory=dict)


def ids_from(
    spec: RawSpectrum, header: Any, match: re.Match[str] | None, groups: tuple[int, ...]
) -> None:
    """Fill plate/mjd/fiber from the header, then the file name, and set the id."""
    for key, card, group in zip(
        ("plate", "mjd", "fiber"), ("PLATEID", "MJD", "FIBERID"), groups, strict=True
    ):
        if key not in spec.meta:
            if card in header:
                spec.meta[key] = int(header[card])
            elif match:
                spec.meta[key] = int(match.group(group))
    m = spec.meta
    if all(k in m for k in ("plate", "mjd", "fiber")):
        spec.id = f"{m['plate']:04d}-{m['mjd']:05d}-{m['fiber']:04d}"
    else:
        spec.id = Path(m["path"]).name.split(".")[0]
