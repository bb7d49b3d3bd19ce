"""The SDSS pipeline's template files: spEigenStar (stellar templates), spEigenGal and
spEigenQSO (eigen-spectra), as idlspec2d and redrock's SDSS templates ship them. Each is
one FITS image (templates, pixels) on a rest-frame log10-wavelength grid given by the
header's COEFF0 and COEFF1, its templates named by NAME<i> cards (the stars' spectral
types). :func:`find_template_file` picks a class's file in a folder (the newest by name
when several versions lie there) and :func:`read_template_file` reads it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError

TEMPLATE_PATTERNS = {
    "STAR": "spEigenStar-*.fits",
    "GALAXY": "spEigenGal-*.fits",
    "QSO": "spEigenQSO-*.fits",
}


@dataclass(frozen=True)
class TemplateFile:
    """One template file: ``flux`` (K templates, T pixels), float64, on the rest-frame grid
    ``loglam0 + dloglam * arange(T)`` (log10 Angstrom); ``names`` one per template."""

    path: Path
    loglam0: float
    dloglam: float
    flux: np.ndarray
    names: tuple[str, ...]

    @property
    def loglam(self) -> np.ndarray:
        """The rest-frame log10 wavelength of every pixel (T,)."""
        return self.loglam0 + self.dloglam * np.arange(self.flux.shape[1])


def find_template_file(folder: str | Path, label: str, key: str) -> Path:
    """The template file of class ``label`` (STAR, GALAXY or QSO) in ``folder``, the last
    by name (the newest version); a one-line BenchError naming ``key`` (the option that
    gave the folder) and the folder when there is none."""
    root = Path(folder)
    pattern = TEMPLATE_PATTERNS[label]
    found = sorted(root.glob(pattern))
    if not found:
        raise BenchError(f"{key}: no {pattern} in {root} (needed for {label})")
    return found[-1]


def read_template_file(path: str | Path, label: str) -> TemplateFile:
    """The templates in ``path``; templates without a NAME<i> card are named
    ``<label><i>``. A one-line BenchError naming the file when it is not a readable
    template file (a finite 2-D image with COEFF0 and COEFF1)."""
    from astropy.io import fits

    path = Path(path)
    try:
        with fits.open(path) as hdul:
            header = hdul[0].header
            flux = np.asarray(hdul[0].data, dtype=np.float64)
            loglam0, dloglam = float(header["COEFF0"]), float(header["COEFF1"])
            names = tuple(str(header.get(f"NAME{i}", f"{label}{i}")) for i in range(len(flux)))
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{path}: not a readable SDSS template file ({exc})") from None
    if flux.ndim != 2 or not np.isfinite(flux).all():
        raise BenchError(f"{path}: expected a finite (templates, pixels) image")
    return TemplateFile(path, loglam0, dloglam, flux, names)
