"""Reading SDSS spectrum files: BOSS/eBOSS/DR18 spec-lite and DR7 spSpec, auto-detected.

Every reader looks HDUs, columns and header cards up by name (any case) and returns a
:class:`RawSpectrum` on the file's own log10-wavelength grid. A bad file raises
:class:`~bench.errors.BenchError` with one line naming the file and the problem.
"""

from __future__ import annotations

import gzip
import io
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.spectra import SpectrumBatch, empty_batch, to_grid

SPECTRUM_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz")
# DR7 SPEC_CLN: 0 unknown, 1 star, 2 galaxy, 3 QSO, 4 high-z QSO, 5 sky, 6 late star, 7 em. galaxy
SPEC_CLN = {1: "STAR", 2: "GALAXY", 3: "QSO", 4: "QSO", 6: "STAR", 7: "GALAXY"}
SPEC_CLN_NAMES = {
    1: "STAR",
    2: "GALAXY",
    3: "QSO",
    4: "HIZ_QSO",
    5: "SKY",
    6: "STAR_LATE",
    7: "GAL_EM",
}
_SPEC_NAME = re.compile(r"spec-(\d+)-(\d+)-(\d+)", re.IGNORECASE)
_SPSPEC_NAME = re.compile(r"spSpec-(\d+)-(\d+)-(\d+)", re.IGNORECASE)


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
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        with warnings.catch_warnings(), fits.open(io.BytesIO(raw)) as hdul:
            warnings.simplefilter("ignore", AstropyUserWarning)  # problems become BenchError
            tables = [_Table(hdul, i, raw) for i in range(1, len(hdul)) if _is_table(hdul[i])]
            coadd = _find_table(tables, ("flux", "loglam"), prefer=("COADD",))
            if coadd is not None:
                spec = _read_spec_lite(hdul, tables, coadd, path)
            elif _is_spspec(hdul[0]):
                spec = _read_spspec(hdul[0], path)
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


def _is_table(hdu: Any) -> bool:
    return str(hdu.header.get("XTENSION", "")).strip().upper() == "BINTABLE"


class _Table:
    """A binary table HDU whose columns are decoded from the raw bytes by name (any case)."""

    def __init__(self, hdul: Any, index: int, raw: bytes) -> None:
        hdu = hdul[index]
        self.header, self.raw = hdu.header, raw
        self.name = str(self.header.get("EXTNAME", "")).strip().upper()
        self.nrows, self.width = int(self.header["NAXIS2"]), int(self.header["NAXIS1"])
        # _data_offset is fileinfo()["datLoc"] without re-serialising the whole header
        offset = getattr(hdu, "_data_offset", None)
        self.start = int(offset if offset is not None else hdul.fileinfo(index)["datLoc"])
        if self.start + self.width * self.nrows > len(raw):
            raise ValueError(f"table HDU {index} ({self.name or 'unnamed'}) is truncated")
        self.layout: dict[str, tuple[int, str, int, int]] = {}  # name -> (k, code, count, offset)
        at = 0
        for k in range(1, int(self.header["TFIELDS"]) + 1):
            match = _TFORM.match(str(self.header[f"TFORM{k}"]).strip())
            if match is None:
                raise ValueError(f"table HDU {index}: bad TFORM{k}")
            count, code = int(match.group(1) or 1), match.group(2)
            name = str(self.header.get(f"TTYPE{k}", f"col{k}")).strip().lower()
            self.layout.setdefault(name, (k, code, count, at))
            at += (count + 7) // 8 if code == "X" else count * _FITS_TYPES[code][1]

    def has(self, *columns: str) -> bool:
        return all(c.lower() in self.layout for c in columns)

    def column(self, name: str) -> np.ndarray:
        """One column, scaled by TSCALn/TZEROn when the header says so; strings decoded."""
        k, code, count, at = self.layout[name.lower()]
        fmt = f"S{count}" if code == "A" else _FITS_TYPES[code][0]
        if code in "XPQ":
            raise ValueError(f"column {name} has unsupported TFORM {code}")
        shape = "" if count == 1 or code == "A" else f"({count},)"
        dtype = np.dtype(
            {"names": ["c"], "formats": [shape + fmt], "offsets": [at], "itemsize": self.width}
        )
        data = np.frombuffer(self.raw, dtype, count=self.nrows, offset=self.start)["c"]
        scale, zero = self.header.get(f"TSCAL{k}", 1), self.header.get(f"TZERO{k}", 0)
        if data.dtype.kind in "fiu" and (scale != 1 or zero != 0):
            return data * scale + zero
        if data.dtype.kind == "S":
            return np.char.decode(data, "ascii", "replace")
        return data


_TFORM = re.compile(r"^(\d*)([LXBIJKAEDCMPQ])")
_FITS_TYPES = {
    "L": ("i1", 1),
    "B": ("u1", 1),
    "I": (">i2", 2),
    "J": (">i4", 4),
    "K": (">i8", 8),
    "A": ("S1", 1),
    "E": (">f4", 4),
    "D": (">f8", 8),
    "C": (">c8", 8),
    "M": (">c16", 16),
    "P": ("V1", 8),
    "Q": ("V1", 16),
    "X": ("V1", 1),
}


def _find_table(
    tables: Sequence[_Table], columns: Sequence[str], prefer: Sequence[str]
) -> _Table | None:
    """The first table having all ``columns``, preferring tables named in ``prefer``."""
    for table in sorted(tables, key=lambda t: t.name not in prefer):
        if table.has(*columns):
            return table
    return None


def _is_spspec(primary: Any) -> bool:
    h = primary.header
    return h.get("NAXIS") == 2 and "COEFF0" in h and "COEFF1" in h


def _read_spec_lite(hdul: Any, tables: Sequence[_Table], coadd: _Table, path: Path) -> RawSpectrum:
    if not coadd.has("ivar"):
        raise BenchError(f"{path}: coadd table {coadd.name or '(unnamed)'} has no 'ivar' column")
    n = coadd.nrows
    spec = RawSpectrum(
        id="",
        loglam=coadd.column("loglam").astype(np.float64),
        flux=coadd.column("flux").astype(np.float32),
        ivar=coadd.column("ivar").astype(np.float32),
        mask=coadd.column("and_mask").astype(np.int32)
        if coadd.has("and_mask")
        else np.zeros(n, np.int32),
        meta={"format": "spec-lite", "path": str(path)},
    )
    spall = _find_table(tables, ("CLASS", "Z"), prefer=("SPALL", "SPECOBJ"))
    if spall is not None and spall.nrows >= 1:
        spec.label = str(spall.column("CLASS")[0]).strip().upper()
        spec.redshift = float(spall.column("Z")[0])
        spec.meta["subclass"] = (
            str(spall.column("SUBCLASS")[0]).strip() if spall.has("SUBCLASS") else ""
        )
        spec.meta["zwarning"] = int(spall.column("ZWARNING")[0]) if spall.has("ZWARNING") else -1
        for key, col in (("plate", "PLATE"), ("mjd", "MJD"), ("fiber", "FIBERID")):
            if spall.has(col):
                spec.meta[key] = int(spall.column(col)[0])
        if spall.has("SN_MEDIAN_ALL"):
            spec.meta["snr"] = float(spall.column("SN_MEDIAN_ALL")[0])
        if spall.has("SPECTROSYNFLUX"):  # ugriz nanomaggies: r-band AB magnitude
            r_flux = float(np.ravel(spall.column("SPECTROSYNFLUX")[0])[2])
            spec.meta["magnitude"] = 22.5 - 2.5 * np.log10(r_flux) if r_flux > 0 else np.nan
        if len(tables) > 3:
            spec.meta["format"] = "spec-lite+exposures"
    _ids_from(spec, hdul[0].header, _SPEC_NAME.search(path.name), (1, 2, 3))
    return spec


def _read_spspec(primary: Any, path: Path) -> RawSpectrum:
    h, data = primary.header, primary.data
    if data is None or data.ndim != 2:
        raise BenchError(f"{path}: spSpec primary image is missing or not 2-D")
    rows = {str(h.get(f"ARRAY{i + 1}", "")).strip().upper(): i for i in range(data.shape[0])}
    flux_row, err_row = rows.get("SPECTRUM", 0), rows.get("ERROR", 2)
    mask_row = rows.get("MASK", 3)
    if max(flux_row, err_row) >= data.shape[0]:
        raise BenchError(f"{path}: spSpec image has {data.shape[0]} rows, need flux and error")
    error = np.asarray(data[err_row], dtype=np.float64)
    with np.errstate(divide="ignore"):
        ivar = np.where(error > 0, 1.0 / np.maximum(error, 1e-30) ** 2, 0.0)
    npix = data.shape[1]
    cln = int(h.get("SPEC_CLN", 0))
    spec = RawSpectrum(
        id="",
        loglam=float(h["COEFF0"]) + float(h["COEFF1"]) * np.arange(npix, dtype=np.float64),
        flux=np.array(data[flux_row], dtype=np.float32),
        ivar=ivar.astype(np.float32),
        mask=np.array(data[mask_row], dtype=np.int32)
        if mask_row < data.shape[0]
        else np.zeros(npix, np.int32),
        label=SPEC_CLN.get(cln, ""),
        redshift=float(h.get("Z", np.nan)),
        meta={
            "format": "spSpec",
            "path": str(path),
            "subclass": SPEC_CLN_NAMES.get(cln, "UNKNOWN"),
            "zwarning": int(h.get("Z_WARNIN", -1)),
        },
    )
    m = _SPSPEC_NAME.search(path.name)  # spSpec-MJD-PLATE-FIBER
    _ids_from(spec, h, m, (2, 1, 3))
    return spec


def _ids_from(
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
