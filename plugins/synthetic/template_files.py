"""The SDSS pipeline template files (spEigenStar, spEigenGal, spEigenQSO FITS): where the
package ships them and how they are read. Used by template mode, the galaxies' old stars
and the stars' line forest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError

FILES = {"STAR": "spEigenStar-*.fits", "GALAXY": "spEigenGal-*.fits", "QSO": "spEigenQSO-*.fits"}
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
    from astropy.io import fits

    root = Path(folder)
    out = {}
    for label in classes:
        found = sorted(root.glob(FILES[label]))
        if not found:
            raise BenchError(
                f"synthetic.template_dir: no {FILES[label]} in {root} (needed for {label})"
            )
        try:
            with fits.open(found[-1]) as hdul:
                hdu = hdul[0]
                flux = np.asarray(hdu.data, dtype=np.float64)
                c0, c1 = float(hdu.header["COEFF0"]), float(hdu.header["COEFF1"])
                names = [str(hdu.header.get(f"NAME{i}", f"{label}{i}")) for i in range(len(flux))]
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise BenchError(f"{found[-1]}: not a readable SDSS template file ({exc})") from None
        out[label] = Templates(c0 + c1 * np.arange(flux.shape[1]), flux, names)
    return out
