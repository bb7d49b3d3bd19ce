"""Reading SDSS spectrum files: BOSS/eBOSS/DR18 spec-lite and DR7 spSpec, auto-detected.

Every reader (spec_lite.py, spspec.py) looks HDUs, columns and header cards up by name
(any case) and returns a :class:`RawSpectrum` on the file's own log10-wavelength grid. A
bad file raises :class:`~bench.errors.BenchError` with one line naming the file and the
problem. Plugins import these names from :mod:`bench.readers`, the public module.
"""

from __future__ import annotations

import gzip
import io
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.fits_table import FitsTable, find_table, is_table
from bench.data.raw import RawSpectrum
from bench.data.spec_lite import read_spec_lite
from bench.data.spspec import is_spspec, read_spspec
from bench.errors import BenchError
from bench.spectra import SpectrumBatch, empty_batch, to_grid

__all__ = [
    "SPECTRUM_SUFFIXES",
    "RawSpectrum",
    "find_spectra",
    "object_snr",
    "read_batch",
    "read_spectrum",
    "snr_median",
]

SPECTRUM_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz")
# The most bytes a spectrum file may hold (inflated, for .gz): the largest real ones are
# spec files with every exposure, ~1-10 MB (spec-lite 0.3-0.8 MB); 256 MiB is far above
# any spectrum and far below a decompression bomb (8 MB of gzip can inflate to 8 GiB).
MAX_FILE_BYTES = 256 << 20


def find_spectra(paths: Iterable[Path | str]) -> list[Path]:
    """Spectrum files under ``paths`` (folders searched recursively), sorted, no duplicates."""
    found: dict[Path, None] = {}
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.name.lower().endswith(SPECTRUM_SUFFIXES):
                    found[f] = None
        elif p.is_file():
            found[p] = None
        else:
            raise BenchError(f"{p}: no such file or folder")
    return list(found)


def read_spectrum(path: Path | str) -> RawSpectrum:
    """Read one spectrum file, detecting spec-lite (BOSS, eBOSS, DR18) or DR7 spSpec.

    The file is read once into memory (spectra are ~0.1-1 MB); table columns are
    decoded straight from the bytes by name, which is ~10x faster than building
    astropy's column objects for the 126-236 column SPALL row.
    """
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{path}: no such file")
    try:
        raw = file_bytes(path)
        with warnings.catch_warnings(), fits.open(io.BytesIO(raw)) as hdul:
            warnings.simplefilter("ignore", AstropyUserWarning)  # problems become BenchError
            tables = [FitsTable(hdul, i, raw) for i in range(1, len(hdul)) if is_table(hdul[i])]
            coadd = find_table(tables, ("flux", "loglam"), prefer=("COADD",))
            if coadd is not None:
                spec = read_spec_lite(hdul, tables, coadd, path)
            elif is_spspec(hdul[0]):
                spec = read_spspec(hdul[0], path)
            else:
                raise BenchError(
                    f"{path}: no coadd table with flux and loglam columns and no spSpec "
                    "primary image (COEFF0/COEFF1); not an SDSS spectrum"
                )
    except BenchError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError, ... on bad bytes
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise BenchError(f"{path}: unreadable FITS file ({detail})") from None
    return _validated(spec, path)


def file_bytes(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``, inflated a block at a time when it ends in ``.gz``; a file
    (or what it inflates to) over ``limit`` (:data:`MAX_FILE_BYTES`) is refused before
    more than ``limit`` bytes are in memory."""
    limit = MAX_FILE_BYTES if limit is None else limit
    with gzip.open(path) if path.name.endswith(".gz") else path.open("rb") as fh:
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        inflates = "inflates to" if path.name.endswith(".gz") else "is"
        raise BenchError(
            f"{path}: {inflates} more than {limit / 2**20:g} MiB, more than any spectrum file; "
            "refused (a damaged file or a decompression bomb?)"
        )
    return raw


def _validated(spec: RawSpectrum, path: Path) -> RawSpectrum:
    """Zero the ivar of non-finite pixels; refuse a spectrum with no valid pixel."""
    n = len(spec.flux)
    if n == 0 or len(spec.loglam) != n or len(spec.ivar) != n:
        raise BenchError(f"{path}: empty spectrum or columns of different lengths")
    if not np.all(np.isfinite(spec.loglam)) or np.any(np.diff(spec.loglam) <= 0):
        raise BenchError(f"{path}: loglam is not finite and increasing")
    # SDSS grids are multiples of 1e-4 in log10(lambda); stored as float32 they miss the
    # lattice by up to ~1e-7, enough to push to_grid off its exact path, so snap them.
    snapped = np.round(spec.loglam, 4)
    if np.max(np.abs(snapped - spec.loglam)) < 1e-6 and np.all(np.diff(snapped) > 0):
        spec.loglam = snapped
    bad = ~np.isfinite(spec.flux) | ~np.isfinite(spec.ivar) | (spec.ivar < 0)
    spec.flux[bad] = 0.0
    spec.ivar[bad] = 0.0
    if not np.any(spec.ivar > 0):
        raise BenchError(f"{path}: no valid pixels (every ivar is 0 or flux is not finite)")
    return spec


def object_snr(spec: RawSpectrum, flux: np.ndarray, ivar: np.ndarray) -> float:
    """The file's SN_MEDIAN_ALL when it has a positive one, else :func:`snr_median`."""
    snr = float(spec.meta.get("snr", np.nan))
    return snr if np.isfinite(snr) and snr > 0 else snr_median(flux, ivar)


def snr_median(flux: np.ndarray, ivar: np.ndarray) -> float:
    """Median of flux * sqrt(ivar) over measured pixels (as SDSS SN_MEDIAN_ALL); NaN if none."""
    good = ivar > 0
    return float(np.median(flux[good] * np.sqrt(ivar[good]))) if good.any() else float("nan")


def read_batch(
    paths: Sequence[Path | str], grid: np.ndarray
) -> tuple[SpectrumBatch, list[tuple[Path, str]]]:
    """Read ``paths`` onto ``grid``; return the batch of good files and (path, reason) failures.

    A file with no measured pixel on ``grid`` counts as a failure.
    """
    batch = empty_batch(grid, len(paths))
    meta: dict[str, list[Any]] = {
        k: []
        for k in ("path", "format", "plate", "mjd", "fiber", "zwarning", "subclass", "magnitude")
    }
    failures: list[tuple[Path, str]] = []
    keep: list[int] = []
    for i, p in enumerate(map(Path, paths)):
        try:
            spec = read_spectrum(p)
        except BenchError as exc:
            failures.append((p, str(exc)))
            continue
        flux, ivar, mask = to_grid(spec.loglam, spec.flux, spec.ivar, spec.mask, grid)
        if not np.any(ivar > 0):
            failures.append((p, f"{p}: no valid pixels on the wavelength grid"))
            continue
        batch.flux[i], batch.ivar[i], batch.mask[i] = flux, ivar, mask
        batch.ids[i], batch.labels[i], batch.redshift[i] = spec.id, spec.label, spec.redshift
        batch.snr[i] = object_snr(spec, flux, ivar)
        for key, values in meta.items():
            default = np.nan if key == "magnitude" else ""
            values.append(
                spec.meta.get(key, -1 if key in ("plate", "mjd", "fiber", "zwarning") else default)
            )
        keep.append(i)
    out = batch.take(np.asarray(keep, dtype=np.int64))
    kinds = {"path": object, "format": object, "subclass": object, "magnitude": np.float64}
    out.meta = {k: np.asarray(v, dtype=kinds.get(k, np.int64)) for k, v in meta.items()}
    return out, failures
