"""Reading spectrum files into rows of a cache shard (runs in worker processes): the
columns of the cache's index table and the arrays of a shard."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.readers import object_snr, read_spectrum
from bench.spectra import hash_arrays, to_grid

KNOWN_CLASSES = ("STAR", "GALAXY", "QSO")
# stored as UTF-8 bytes: compact, no objects; "hash": of a row's flux, ivar and mask
STR_FIELDS = ("path", "id", "label", "problem", "hash")
INT_FIELDS = ("size", "mtime_ns", "ctime_ns", "shard", "row", "plate", "mjd", "fiber", "zwarning")
FLOAT_FIELDS = ("redshift", "snr")
FIELDS = STR_FIELDS + INT_FIELDS + FLOAT_FIELDS
ARRAYS = (("flux", np.float32), ("ivar", np.float32), ("mask", np.int32))


Table = dict[str, np.ndarray]


def encode(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Strings as UTF-8 bytes (compact columns, no Python objects)."""
    return np.array([str(v).encode() for v in values], dtype=bytes)


def columns(rows: Sequence[dict[str, Any]]) -> Table:
    """Columns from per-file dicts (strings encoded)."""
    table = {f: encode([r[f] for r in rows]) for f in STR_FIELDS}
    table |= {f: np.array([r[f] for r in rows], dtype=np.int64) for f in INT_FIELDS}
    table |= {f: np.array([r[f] for r in rows], dtype=np.float64) for f in FLOAT_FIELDS}
    return table


def allocate(path: Path, dtype: type, shape: tuple[int, int]) -> None:
    """Create the ``.npy`` file ``path`` at full size with its disk blocks reserved, so
    that a full disk fails here (OSError ENOSPC), never later as a SIGBUS when a process
    writes into the memory-mapped file."""
    array = np.lib.format.open_memmap(path, "w+", dtype, shape)  # header + a sparse file
    offset = int(array.offset)
    del array
    with open(path, "r+b") as fh:
        reserve(fh, offset, os.fstat(fh.fileno()).st_size)


def reserve(fh: Any, start: int, end: int) -> None:
    """Reserve bytes ``start..end`` of the open file ``fh`` on disk (posix_fallocate;
    where there is none, by writing the zeros out)."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fh.fileno(), start, end - start)
        return
    block = bytes(1 << 20)
    fh.seek(start)
    for at in range(start, end, len(block)):
        fh.write(block[: min(len(block), end - at)])
    fh.flush()
    os.fsync(fh.fileno())


def ingest_chunk(
    shard_dir: str, start: int, paths: list[str], grid: np.ndarray
) -> list[dict[str, Any]]:
    """Read ``paths`` onto ``grid`` into rows ``start...`` of the shard (runs in a worker)."""
    out = {name: np.load(Path(shard_dir) / f"{name}.npy", mmap_mode="r+") for name, _ in ARRAYS}
    results = []
    for row, path in enumerate(paths, start=start):
        entry: dict[str, Any] = dict.fromkeys(FIELDS, -1)
        entry.update(
            path=path,
            row=row,
            slot=row,
            id="",
            label="",
            redshift=math.nan,
            snr=math.nan,
            problem="",
            hash="",
        )
        try:
            spec = read_spectrum(path)
            flux, ivar, mask = to_grid(spec.loglam, spec.flux, spec.ivar, spec.mask, grid)
        except BenchError as exc:
            entry.update(row=-1, problem=str(exc))
            results.append(entry)
            continue
        entry.update(
            id=spec.id, label=spec.label, redshift=spec.redshift, snr=object_snr(spec, flux, ivar)
        )
        entry.update({k: int(spec.meta.get(k, -1)) for k in ("plate", "mjd", "fiber", "zwarning")})
        if not np.any(ivar > 0):
            entry.update(row=-1, problem=f"{path}: no valid pixels on the wavelength grid")
        else:
            out["flux"][row], out["ivar"][row], out["mask"][row] = flux, ivar, mask
            entry["hash"] = row_hash(out, row)  # what is stored, hashed once, here
            if spec.label not in KNOWN_CLASSES:
                entry["problem"] = f"{path}: unknown class {spec.label!r}"
        results.append(entry)
    for arr in out.values():
        arr.flush()
    return results


def row_hash(arrays: dict[str, np.ndarray], row: int) -> str:
    """The content hash of one stored spectrum: its flux, ivar and mask rows."""
    return hash_arrays(*(arrays[name][row] for name, _ in ARRAYS))
