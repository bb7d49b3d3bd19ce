"""The SDSS pipeline template files (spEigenStar, spEigenGal, spEigenQSO FITS): where the
package ships them and how they are read. Used by template mode, the galaxies' old stars
and the stars' line forest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.readers import TEMPLATE_PATTERNS, find_template_file, read_template_file

FILES = TEMPLATE_PATTERNS
# the SDSS templates shipped with the package (data folder, shared with template_fit)
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "templates"


@dataclass
class Templates:
    """Rest-frame log10 wavelengths (T,), eigen-spectra or stellar templates (K, T), names."""

    loglam: np.ndarray
    flux: np.ndarray
    names: list[str]


def load(folder: str, classes: list[str]) -> dict[str, Templates]:
    """Read the template file of each class; BenchError naming the folder when one is missing."""
    out = {}
    for label in classes:
        found = read_template_file(
            find_template_file(folder, label, "synthetic.template_dir"), label
        )
        out[label] = Templates(found.loglam, found.flux, list(found.names))
    return out
