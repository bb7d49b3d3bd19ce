"""Spectra in memory: a batch on a shared log10-wavelength grid, and the sources datasets return.

Conventions (as in SDSS spec-lite files):
- ``loglam``: log10 of vacuum wavelength in Angstrom, one grid shared by the batch;
- ``flux``: 1e-17 erg/s/cm^2/Angstrom, float32, shape (N, P);
- ``ivar``: inverse variance of flux, float32, 0 where there is no measurement;
- ``mask``: int32 bitmask per pixel (SDSS and_mask), 0 means good;
- ``labels``: class names (``""`` when unknown); ``redshift``/``snr``: NaN when unknown;
- ``meta["magnitude"]`` (optional): an AB magnitude, NaN when unknown.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

# The classes of the SDSS pipeline, in the order reports list them (written only here).
CLASSES: tuple[str, ...] = ("STAR", "GALAXY", "QSO")

# BOSS coadd grid: log10(lambda) from 3.5523 to 4.0171 in steps of 1e-4 (3566-10401 A).
BOSS_LOGLAM0 = 3.5523
BOSS_DLOGLAM = 1e-4
BOSS_NPIX = 4649

# SDSS spectroscopic and_mask bits (``SpectrumBatch.mask``) that plugins set or test
FULLREJECT = 1 << 18  # pixel fully rejected in the extraction
BRIGHTSKY = 1 << 23  # sky much brighter than the object (a flag: the pixel keeps its ivar)
NODATA = 1 << 24  # no data on this pixel
COMBINEREJ = 1 << 25  # rejected when the exposures were combined
# the bits that mean no measurement: the SDSS pipeline leaves these pixels out of its fits
NO_MEASUREMENT = NODATA | FULLREJECT | COMBINEREJ

# The SDSS pipeline's ZWARNING bits (idlspec2d; redrock's ZWARN uses the same numbers), by
# name: the ``zwarning`` column a model may add to its object facts, OR'ed by the core with
# LITTLE_COVERAGE and NODATA measured on the spectrum itself.
ZWARNING_BITS: dict[str, int] = {
    "SKY": 1 << 0, "LITTLE_COVERAGE": 1 << 1, "SMALL_DELTA_CHI2": 1 << 2,
    "NEGATIVE_MODEL": 1 << 3, "MANY_OUTLIERS": 1 << 4, "Z_FITLIMIT": 1 << 5,
    "NEGATIVE_EMISSION": 1 << 6, "UNPLUGGED": 1 << 7, "BAD_TARGET": 1 << 8, "NODATA": 1 << 9,
}  # fmt: skip


def zwarning_names(value: int) -> list[str]:
    """The names of the ZWARNING bits set in ``value``, lowest bit first (``BITk`` for a
    bit the pipeline does not name)."""
    names = {bit: name for name, bit in ZWARNING_BITS.items()}
    return [names.get(1 << k, f"BIT{k}") for k in range(63) if int(value) >> k & 1]


def boss_grid() -> np.ndarray:
    """The BOSS DR12 coadd log10-wavelength grid (4649 pixels)."""
    return BOSS_LOGLAM0 + BOSS_DLOGLAM * np.arange(BOSS_NPIX)


@dataclass
class SpectrumBatch:
    """N spectra on one log10-wavelength grid, with labels and per-object metadata."""

    ids: np.ndarray
    loglam: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    redshift: np.ndarray
    snr: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, p = self.flux.shape
        if self.loglam.shape != (p,) or self.ivar.shape != (n, p) or self.mask.shape != (n, p):
            raise ValueError(
                f"inconsistent batch: flux {self.flux.shape}, ivar {self.ivar.shape}, "
                f"mask {self.mask.shape}, loglam {self.loglam.shape}"
            )
        for name in ("ids", "labels", "redshift", "snr"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"inconsistent batch: {name} has {len(getattr(self, name))} != {n}"
                )

    def __len__(self) -> int:
        return int(self.flux.shape[0])

    @property
    def wavelength(self) -> np.ndarray:
        return np.power(10.0, self.loglam)

    def take(self, index: np.ndarray) -> SpectrumBatch:
        """The rows ``index`` of this batch (a copy)."""
        return replace(
            self,
            ids=self.ids[index],
            flux=self.flux[index],
            ivar=self.ivar[index],
            mask=self.mask[index],
            labels=self.labels[index],
            redshift=self.redshift[index],
            snr=self.snr[index],
            meta={k: v[index] for k, v in self.meta.items()},
        )

    def with_arrays(self, **arrays: np.ndarray) -> SpectrumBatch:
        """A new batch sharing labels and metadata, with some arrays replaced."""
        return replace(self, **arrays)  # type: ignore[arg-type]

    @staticmethod
    def concatenate(batches: list[SpectrumBatch]) -> SpectrumBatch:
        first = batches[0]
        for b in batches[1:]:
            if b.loglam.shape != first.loglam.shape or not np.allclose(b.loglam, first.loglam):
                raise ValueError("cannot concatenate batches on different wavelength grids")
        cat = np.concatenate
        return SpectrumBatch(
            ids=cat([b.ids for b in batches]),
            loglam=first.loglam,
            flux=cat([b.flux for b in batches]),
            ivar=cat([b.ivar for b in batches]),
            mask=cat([b.mask for b in batches]),
            labels=cat([b.labels for b in batches]),
            redshift=cat([b.redshift for b in batches]),
            snr=cat([b.snr for b in batches]),
            meta={k: cat([b.meta[k] for b in batches]) for k in first.meta},
        )


def empty_batch(loglam: np.ndarray, n: int) -> SpectrumBatch:
    """A batch of ``n`` spectra with no measurements (ivar 0), to fill row by row."""
    p = len(loglam)
    return SpectrumBatch(
        ids=np.empty(n, dtype=object),
        loglam=loglam,
        flux=np.zeros((n, p), np.float32),
        ivar=np.zeros((n, p), np.float32),
        mask=np.zeros((n, p), np.int32),
        labels=np.full(n, "", dtype=object),
        redshift=np.full(n, np.nan),
        snr=np.full(n, np.nan, np.float32),
    )


def to_grid(
    loglam: np.ndarray,
    flux: np.ndarray,
    ivar: np.ndarray,
    mask: np.ndarray | None,
    grid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place one spectrum on ``grid``; pixels outside its coverage get ivar 0.

    Grids on the same 1e-4 lattice (all SDSS coadds) are placed by index, exactly.
    Other grids are linearly interpolated (ivar at the nearest pixel; a pixel is
    bad when either neighbour is).
    """
    out_flux = np.zeros(len(grid), np.float32)
    out_ivar = np.zeros(len(grid), np.float32)
    out_mask = np.zeros(len(grid), np.int32)
    if mask is None:
        mask = np.zeros(len(flux), np.int32)
    step = grid[1] - grid[0]
    offset = (loglam[0] - grid[0]) / step
    same_step = len(loglam) < 2 or abs((loglam[1] - loglam[0]) - step) < 1e-3 * step
    if same_step and abs(offset - round(offset)) < 1e-3:
        start = int(round(offset))
        lo, hi = max(start, 0), min(start + len(flux), len(grid))
        if hi > lo:
            src = slice(lo - start, hi - start)
            out_flux[lo:hi] = flux[src]
            out_ivar[lo:hi] = ivar[src]
            out_mask[lo:hi] = mask[src]
        return out_flux, out_ivar, out_mask
    inside = (grid >= loglam[0]) & (grid <= loglam[-1])
    out_flux[inside] = np.interp(grid[inside], loglam, flux)
    pos = np.clip(np.searchsorted(loglam, grid[inside]), 1, len(loglam) - 1)
    good = (ivar[pos - 1] > 0) & (ivar[pos] > 0)
    out_ivar[inside] = np.where(good, np.minimum(ivar[pos - 1], ivar[pos]), 0.0)
    out_mask[inside] = mask[pos - 1] | mask[pos]
    return out_flux, out_ivar, out_mask


class SpectrumSource(ABC):
    """What a dataset opens: per-object metadata up front, spectra read by index.

    ``ids``, ``labels`` and ``redshift`` are known for all objects without reading
    the spectra, so the runner can split and stratify before any flux is loaded.
    """

    ids: np.ndarray
    labels: np.ndarray
    redshift: np.ndarray
    loglam: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @abstractmethod
    def read(self, index: np.ndarray) -> SpectrumBatch:
        """Return the spectra at positions ``index`` (in that order)."""

    def describe(self) -> Mapping[str, object]:
        """A JSON-able summary recorded in the report (file paths, generator settings)."""
        return {}

    def fingerprint(self) -> str | None:
        """Optional: a stamp of anything besides the spectra that decides the data (a
        labels catalog, where files lie); the cell cache adds it to its key. ``None``: no
        stamp of its own."""
        return None

    def content_hash(self) -> str | None:
        """Optional: a hash that changes whenever any spectrum's flux, ivar or mask does
        (e.g. per-file hashes kept since the files were read), trusted by the cell cache
        in place of reading the data. ``None`` (the default): the cell cache reads and
        hashes every spectrum (:func:`hash_spectra`)."""
        return None

    def object_properties(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """Per-object ``snr`` (median S/N per pixel) and ``magnitude`` of ``index``, NaN
        where unknown. The default reads the spectra in chunks (the readers and the
        generator compute S/N) and takes ``meta["magnitude"]`` when a batch has it."""
        index = np.asarray(index, dtype=np.int64)
        out = {"snr": np.full(len(index), np.nan), "magnitude": np.full(len(index), np.nan)}
        for start in range(0, len(index), 512):
            batch = self.read(index[start : start + 512])
            out["snr"][start : start + len(batch)] = batch.snr
            if "magnitude" in batch.meta:
                out["magnitude"][start : start + len(batch)] = batch.meta["magnitude"]
        return out


class ArraySource(SpectrumSource):
    """A source over a batch held in memory (``fingerprint``: a stamp of where it came from)."""

    def __init__(
        self,
        batch: SpectrumBatch,
        description: Mapping[str, object] | None = None,
        fingerprint: str | None = None,
    ):
        self.batch = batch
        self.ids = batch.ids
        self.labels = batch.labels
        self.redshift = batch.redshift
        self.loglam = batch.loglam
        self._description = dict(description or {})
        self._fingerprint = fingerprint

    def read(self, index: np.ndarray) -> SpectrumBatch:
        return self.batch.take(np.asarray(index))

    def describe(self) -> Mapping[str, object]:
        return self._description

    def fingerprint(self) -> str | None:
        return getattr(self, "_fingerprint", None)

    def content_hash(self) -> str | None:
        """Every spectrum in memory hashed (about 1 GB/s; no copy)."""
        return hash_arrays(self.batch.flux, self.batch.ivar, self.batch.mask)

    def object_properties(self, index: np.ndarray) -> dict[str, np.ndarray]:
        index = np.asarray(index, dtype=np.int64)
        magnitude = self.batch.meta.get("magnitude")
        return {
            "snr": np.asarray(self.batch.snr, dtype=np.float64)[index],
            "magnitude": np.full(len(index), np.nan)
            if magnitude is None
            else np.asarray(magnitude, dtype=np.float64)[index],
        }


HASH_CHUNK = 1024  # spectra read at once by hash_spectra


def hash_arrays(*arrays: np.ndarray) -> str:
    """BLAKE2b of the arrays' shapes, dtypes and bytes, in order."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)  # contiguous: hashed in place
    return digest.hexdigest()


def hash_spectra(source: SpectrumSource) -> str:
    """The content hash of ``source``: its own :meth:`~SpectrumSource.content_hash`, else
    a hash of every spectrum's flux, ivar and mask, read ``HASH_CHUNK`` at a time."""
    own_hash = getattr(source, "content_hash", None)  # a duck-typed source may lack it
    own = own_hash() if callable(own_hash) else None
    if own is not None:
        return f"own:{own}"
    digest = hashlib.blake2b(digest_size=16)
    for start in range(0, len(source), HASH_CHUNK):
        batch = source.read(np.arange(start, min(start + HASH_CHUNK, len(source))))
        digest.update(hash_arrays(batch.flux, batch.ivar, batch.mask).encode())
    return f"read:{digest.hexdigest()}"
