"""Streaming spectra out of a :class:`~bench_plugins.sdss.cache.SpectrumCache` with flat memory.

A :class:`CacheSource` sees the cache only as a :class:`RowStore` (its grid, its folder,
where each shard's rows are), so this module does not import the cache that builds it.

Rows are read with ``os.preadv`` into the batch being built, not through ``np.memmap``:
pages of a memory map stay in the process's resident set once touched, so streaming
300,000 spectra through a map would grow RSS towards the cache size. Reads of sorted
rows are merged into one call per run of consecutive rows.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from bench.spectra import SpectrumBatch, SpectrumSource

META_KEYS = ("plate", "mjd", "fiber", "zwarning", "path")


class RowStore(Protocol):
    """What a :class:`CacheSource` reads spectra from (a ``SpectrumCache``)."""

    grid: np.ndarray
    directory: Path

    def row_file(self, shard: int, name: str) -> tuple[str, int]:
        """The file holding column ``name`` of ``shard``, and the byte offset of row 0."""
        ...


class CacheSource(SpectrumSource):
    """Spectra of a cache, by ``table`` rows (id, label, redshift, snr, shard, row, ...);
    ``stamp``: a content stamp of anything else the rows depend on (a labels catalog)."""

    def __init__(
        self,
        cache: RowStore,
        table: Mapping[str, np.ndarray],
        description: Mapping[str, object],
        stamp: str | None = None,
    ) -> None:
        self.cache = cache
        self.stamp = stamp
        self.table = dict(table)
        self.ids = str_column(table["id"])
        self.labels = str_column(table["label"])
        self.redshift = np.asarray(table["redshift"], dtype=np.float64)
        self.loglam = cache.grid
        self._description = dict(description)

    def read(self, index: np.ndarray) -> SpectrumBatch:
        index = np.asarray(index, dtype=np.int64)
        npix = len(self.loglam)
        shards = np.asarray(self.table["shard"])[index]
        rows = np.asarray(self.table["row"])[index]
        out = {
            "flux": np.empty((len(index), npix), np.float32),
            "ivar": np.empty((len(index), npix), np.float32),
            "mask": np.empty((len(index), npix), np.int32),
        }
        for shard in np.unique(shards):
            at = np.flatnonzero(shards == shard)
            at = at[np.argsort(rows[at], kind="stable")]
            for name, arr in out.items():
                path, offset = self.cache.row_file(int(shard), name)
                buf = np.empty((len(at), npix), arr.dtype)
                read_rows(path, offset, rows[at], buf)
                arr[at] = buf
        t = self.table
        return SpectrumBatch(
            ids=self.ids[index],
            loglam=self.loglam,
            labels=self.labels[index],
            redshift=self.redshift[index],
            snr=np.asarray(t["snr"], dtype=np.float32)[index],
            meta={k: str_column(np.asarray(t[k])[index]) for k in META_KEYS if k in t},
            **out,
        )

    def describe(self) -> Mapping[str, object]:
        return self._description

    def fingerprint(self) -> str | None:
        """``stamp`` (a labels catalog), when given."""
        return self.stamp

    def content_hash(self) -> str | None:
        """The hashes of the rows' spectra, kept in the cache index since ingest (nothing
        is read); None when a row has none (an index from before hashes: read them)."""
        column = self.table.get("hash")
        if column is None:
            return None
        hashes = [h.decode() if isinstance(h, bytes) else str(h) for h in column.tolist()]
        if not all(hashes):
            return None
        return hashlib.blake2b("\x1f".join(hashes).encode(), digest_size=16).hexdigest()

    def object_properties(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """S/N from the cache table (no spectrum read); magnitude when the table has it."""
        index = np.asarray(index, dtype=np.int64)
        magnitude = self.table.get("magnitude")
        return {
            "snr": np.asarray(self.table["snr"], dtype=np.float64)[index],
            "magnitude": np.full(len(index), np.nan)
            if magnitude is None
            else np.asarray(magnitude, dtype=np.float64)[index],
        }


def str_column(values: np.ndarray) -> np.ndarray:
    """Object arrays of str for the cache's UTF-8 byte columns; other arrays unchanged."""
    values = np.asarray(values)
    if values.dtype.kind != "S":
        return values
    if len(values) > 64:  # few distinct values (labels): decode each once, share the objects
        distinct, inverse = np.unique(values, return_inverse=True)
        if len(distinct) * 4 < len(values):
            return np.array([v.decode() for v in distinct.tolist()], dtype=object)[inverse]
    return np.array([v.decode() for v in values.tolist()], dtype=object)


def read_rows(path: str, offset: int, rows: np.ndarray, out: np.ndarray) -> None:
    """Read rows ``rows`` (sorted) of a C-order (N, P) array stored at ``offset`` into ``out``."""
    row_bytes = out.shape[1] * out.itemsize
    view = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
    fd = os.open(path, os.O_RDONLY)
    try:
        i = 0
        while i < len(rows):
            j = i
            while j + 1 < len(rows) and rows[j + 1] == rows[j] + 1:
                j += 1
            want = (j - i + 1) * row_bytes
            got = os.preadv(
                fd, [view[i * row_bytes : i * row_bytes + want]], offset + int(rows[i]) * row_bytes
            )
            if got != want:
                raise OSError(f"{path}: short read of rows {rows[i]}..{rows[j]}")
            i = j + 1
    finally:
        os.close(fd)
