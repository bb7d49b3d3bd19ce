"""Writers of small SDSS-like FITS files, for tests and benchmarks (astropy imported lazily)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.spectra import boss_grid


def write_spec_lite(
    path: Path,
    *,
    label: str = "QSO",
    redshift: float = 1.0,
    plate: int = 1000,
    mjd: int = 55000,
    fiber: int = 1,
    flux: np.ndarray | None = None,
    ivar: np.ndarray | None = None,
    loglam: np.ndarray | None = None,
    upper_case: bool = False,
    named: bool = True,
    zwarning: int = 0,
    seed: int = 0,
) -> Path:
    """Write a spec-lite file: coadd table (flux, loglam, ivar, and_mask) + one-row SPALL."""
    from astropy.io import fits

    loglam = boss_grid()[100:4000] if loglam is None else loglam
    rng = np.random.default_rng(seed)
    flux = (10 + rng.normal(0, 1, len(loglam))).astype(np.float32) if flux is None else flux
    ivar = np.ones(len(loglam), np.float32) if ivar is None else ivar
    case = str.upper if upper_case else str.lower
    coadd = fits.BinTableHDU.from_columns(
        [
            fits.Column(name=case("flux"), format="E", array=flux),
            fits.Column(name=case("loglam"), format="E", array=loglam.astype(np.float32)),
            fits.Column(name=case("ivar"), format="E", array=ivar),
            fits.Column(name=case("and_mask"), format="J", array=np.zeros(len(loglam), np.int32)),
        ],
        name="COADD" if named else None,
    )
    spall = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="PLATE", format="J", array=[plate]),
            fits.Column(name="MJD", format="J", array=[mjd]),
            fits.Column(name="FIBERID", format="J", array=[fiber]),
            fits.Column(name="CLASS", format="6A", array=[label]),
            fits.Column(name="SUBCLASS", format="5A", array=[""]),
            fits.Column(name="Z", format="E", array=[redshift]),
            fits.Column(name="ZWARNING", format="J", array=[zwarning]),
        ],
        name="SPALL" if named else None,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(), coadd, spall]).writeto(path, overwrite=True)
    return path


def spec_name(plate: int, mjd: int, fiber: int) -> str:
    """The spec-lite file name SDSS uses: ``spec-PLATE-MJD-FIBER.fits``."""
    return f"spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits"
