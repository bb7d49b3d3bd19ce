"""On-disk columnar cache of spectra on one grid, for runs over hundreds of thousands of files.

Layout of a cache folder::

    index.json            grid, shard names, one entry per file (path, size, mtime_ns,
                          shard, row, id, label, redshift, snr, plate, mjd, fiber,
                          zwarning, problem)
    shard-0000/flux.npy   (rows, npix) float32, memory-mapped on read
    shard-0000/ivar.npy   (rows, npix) float32
    shard-0000/mask.npy   (rows, npix) int32

Each :meth:`SpectrumCache.ingest` writes the new or changed files (by path, size and
mtime) into one new shard, in parallel processes that write straight into the
memory-mapped arrays. Shards and the index are written under temporary names, then
renamed, so an interrupted ingest never leaves a half-written cache behind.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bench_plugins.sdss.source import CacheSource

from bench.errors import BenchError
from bench.readers import read_spectrum, snr_median
from bench.spectra import SpectrumBatch, boss_grid, to_grid

CACHE_VERSION = 1
KNOWN_CLASSES = ("STAR", "GALAXY", "QSO")
FIELDS = ("path", "size", "mtime_ns", "shard", "row", "id", "label", "redshift", "snr",
          "plate", "mjd", "fiber", "zwarning", "problem")  # fmt: skip
ARRAYS = (("flux", np.float32), ("ivar", np.float32), ("mask", np.int32))


@dataclass
class IngestReport:
    """What one ingest did: files read now, files skipped as unchanged, and the problems."""

    ingested: int = 0
    unchanged: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


class SpectrumCache:
    """A cache folder (created on first ingest) for spectra on ``grid`` (BOSS by default)."""

    def __init__(self, directory: Path | str, grid: np.ndarray | None = None) -> None:
        self.directory = Path(directory)
        self.grid = boss_grid() if grid is None else np.asarray(grid, dtype=np.float64)
        self.shards: list[str] = []
        self.entries: dict[str, dict[str, Any]] = {}
        index = self.directory / "index.json"
        if index.is_file():
            self._load(index)
        self._mmaps: dict[tuple[str, str], np.ndarray] = {}

    def _load(self, index: Path) -> None:
        try:
            data = json.loads(index.read_text())
            grid = np.asarray(data["grid"], dtype=np.float64)
            columns = data["entries"]
            if data["version"] != CACHE_VERSION:
                raise ValueError(f"version {data['version']}, expected {CACHE_VERSION}")
        except (ValueError, KeyError, TypeError) as exc:
            raise BenchError(f"{index}: not a spectrum cache index ({exc})") from None
        if grid.shape != self.grid.shape or not np.allclose(grid, self.grid):
            raise BenchError(
                f"{index}: cache is on a different wavelength grid; use another cache_dir"
            )
        self.shards = list(data["shards"])
        for values in zip(*(columns[f] for f in FIELDS), strict=True):
            entry = dict(zip(FIELDS, values, strict=True))
            entry["redshift"] = math.nan if entry["redshift"] is None else entry["redshift"]
            entry["snr"] = math.nan if entry["snr"] is None else entry["snr"]
            self.entries[entry["path"]] = entry

    def _save(self) -> None:
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and math.isnan(v) else v

        rows = list(self.entries.values())
        data = {
            "version": CACHE_VERSION,
            "grid": self.grid.tolist(),
            "shards": self.shards,
            "entries": {f: [clean(r[f]) for r in rows] for f in FIELDS},
        }
        tmp = self.directory / "index.json.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.directory / "index.json")

    def ingest(
        self,
        paths: Sequence[Path | str],
        workers: int = 1,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 64,
    ) -> IngestReport:
        """Read new or changed ``paths`` into a new shard; ``progress(done, total)`` per chunk."""
        report = IngestReport()
        todo: list[tuple[str, int, int]] = []
        for p in paths:
            key = str(Path(p).resolve())
            st = os.stat(key)
            old = self.entries.get(key)
            if old is not None and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
                report.unchanged += 1
            else:
                todo.append((key, st.st_size, st.st_mtime_ns))
        if not todo:
            return report
        self.directory.mkdir(parents=True, exist_ok=True)
        shard = f"shard-{len(self.shards):04d}"
        tmp_dir = self.directory / f"{shard}.tmp"
        tmp_dir.mkdir(exist_ok=True)
        for name, dtype in ARRAYS:
            arr = np.lib.format.open_memmap(
                tmp_dir / f"{name}.npy", "w+", dtype, (len(todo), len(self.grid))
            )
            del arr
        jobs = [(str(tmp_dir), start, [t[0] for t in todo[start : start + chunk]], self.grid)
                for start in range(0, len(todo), chunk)]  # fmt: skip
        results: list[dict[str, Any]] = []
        if workers <= 1:
            for done, job in enumerate(jobs, start=1):
                results += _ingest_chunk(*job)
                if progress:
                    progress(min(done * chunk, len(todo)), len(todo))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_ingest_chunk, *job) for job in jobs]
                for done, future in enumerate(as_completed(futures), start=1):
                    results += future.result()
                    if progress:
                        progress(min(done * chunk, len(todo)), len(todo))
        os.replace(tmp_dir, self.directory / shard)
        self.shards.append(shard)
        stats = {t[0]: t for t in todo}
        for r in results:
            _, r["size"], r["mtime_ns"] = stats[r["path"]]
            r["shard"] = len(self.shards) - 1 if r["row"] >= 0 else -1
            self.entries[r["path"]] = r
            if r["problem"]:
                report.problems.append((r["path"], r["problem"]))
        report.ingested = len(todo)
        self._save()
        self._mmaps.clear()
        return report

    def lookup(self, paths: Sequence[Path | str]) -> list[dict[str, Any]]:
        """The index entries of ``paths`` (ingest them first)."""
        try:
            return [self.entries[str(Path(p).resolve())] for p in paths]
        except KeyError as exc:
            raise BenchError(
                f"{self.directory}: {exc.args[0]} is not in the cache; ingest it first"
            ) from None

    def add_batches(self, batches: Iterable[SpectrumBatch], n: int, key: str = "batch") -> int:
        """Store ``n`` spectra from in-memory batches (e.g. synthetic) as one new shard.

        Entries are keyed ``KEY:ROW`` instead of a file path; returns the rows written.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        shard = f"shard-{len(self.shards):04d}"
        tmp_dir = self.directory / f"{shard}.tmp"
        tmp_dir.mkdir(exist_ok=True)
        out = {
            name: np.lib.format.open_memmap(
                tmp_dir / f"{name}.npy", "w+", dtype, (n, len(self.grid))
            )
            for name, dtype in ARRAYS
        }
        row = 0
        for batch in batches:
            if not np.allclose(batch.loglam, self.grid):
                raise BenchError(f"{self.directory}: batch is not on the cache's wavelength grid")
            take = min(len(batch), n - row)
            for name, arr in out.items():
                arr[row : row + take] = getattr(batch, name)[:take]
                arr.flush()  # write out as we go: memory stays bounded
            for i in range(take):
                self.entries[f"{key}:{row + i}"] = {
                    **dict.fromkeys(FIELDS, -1), "path": f"{key}:{row + i}", "shard": len(self.shards),
                    "row": row + i, "id": str(batch.ids[i]), "label": str(batch.labels[i]),
                    "redshift": float(batch.redshift[i]), "snr": float(batch.snr[i]), "problem": "",
                }  # fmt: skip
            row += take
            if row >= n:
                break
        del out
        os.replace(tmp_dir, self.directory / shard)
        self.shards.append(shard)
        self._save()
        return row

    def source(self, keys: Sequence[str] | None = None) -> CacheSource:
        """A source over ``keys`` (paths or ``KEY:ROW``; default: every entry with data)."""
        entries = (
            [self.entries[k] for k in keys] if keys is not None else list(self.entries.values())
        )
        good = [e for e in entries if e["row"] >= 0]
        table = {f: np.array([e[f] for e in good]) for f in FIELDS if f != "problem"}
        return CacheSource(self, table, {"cache_dir": str(self.directory), "spectra": len(good)})

    def row_file(self, shard: int, name: str) -> tuple[str, int]:
        """(file, byte offset of row 0) of array ``name`` in shard number ``shard``."""
        mm = self.array(shard, name)
        return str(self.directory / self.shards[shard] / f"{name}.npy"), int(
            getattr(mm, "offset", 0)
        )

    def array(self, shard: int, name: str) -> np.ndarray:
        """The memory-mapped array ``name`` (flux, ivar or mask) of shard number ``shard``."""
        key = (self.shards[shard], name)
        if key not in self._mmaps:
            self._mmaps[key] = np.load(self.directory / key[0] / f"{name}.npy", mmap_mode="r")
        return self._mmaps[key]


def _ingest_chunk(
    shard_dir: str, start: int, paths: list[str], grid: np.ndarray
) -> list[dict[str, Any]]:
    """Read ``paths`` onto ``grid`` into rows ``start...`` of the shard (runs in a worker)."""
    out = {name: np.load(Path(shard_dir) / f"{name}.npy", mmap_mode="r+") for name, _ in ARRAYS}
    results = []
    for row, path in enumerate(paths, start=start):
        entry: dict[str, Any] = dict.fromkeys(FIELDS, -1)
        entry.update(
            path=path, row=row, id="", label="", redshift=math.nan, snr=math.nan, problem=""
        )
        try:
            spec = read_spectrum(path)
            flux, ivar, mask = to_grid(spec.loglam, spec.flux, spec.ivar, spec.mask, grid)
        except BenchError as exc:
            entry.update(row=-1, problem=str(exc))
            results.append(entry)
            continue
        entry.update(
            id=spec.id, label=spec.label, redshift=spec.redshift, snr=snr_median(flux, ivar)
        )
        entry.update({k: int(spec.meta.get(k, -1)) for k in ("plate", "mjd", "fiber", "zwarning")})
        if not np.any(ivar > 0):
            entry.update(row=-1, problem=f"{path}: no valid pixels on the wavelength grid")
        else:
            out["flux"][row], out["ivar"][row], out["mask"][row] = flux, ivar, mask
            if spec.label not in KNOWN_CLASSES:
                entry["problem"] = f"{path}: unknown class {spec.label!r}"
        results.append(entry)
    for arr in out.values():
        arr.flush()
    return results
