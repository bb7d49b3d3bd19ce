"""On-disk columnar cache of spectra on one grid, for runs over hundreds of thousands of files.

Layout of a cache folder::

    index.json            version, grid, shard names, name of the current table file
    index-NNNN.npz        the index table, one row per file, sorted by path: path, size,
                          mtime_ns, ctime_ns, shard, row, id, label, redshift, snr, plate,
                          mjd, fiber, zwarning, problem (row -1: no spectrum stored), hash
                          (BLAKE2b of the stored flux, ivar and mask rows)
    shard-0000/flux.npy   (rows, npix) float32
    shard-0000/ivar.npy   (rows, npix) float32
    shard-0000/mask.npy   (rows, npix) int32

Each :meth:`SpectrumCache.ingest` writes the new or changed files (by path, size, mtime
and ctime: rewriting a file's bytes and setting its mtime back still moves its ctime)
into one new shard, hashing each stored spectrum as it is written, so the cell cache's
fingerprint of a run's data reads the hashes, never the spectra (:meth:`CacheSource.
content_hash`), in parallel processes that write straight into the
memory-mapped arrays. Shards and the index are written under temporary names, then
renamed, so an interrupted ingest never leaves a half-written cache behind. A shard's
disk space is reserved before any process maps it (``posix_fallocate``), so a full disk
is one error naming the cache folder, with the new shard removed, never a SIGBUS.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.spectra import SpectrumBatch, boss_grid
from bench_plugins.sdss.pool import process_pool
from bench_plugins.sdss.shard import (
    ARRAYS,
    FIELDS,
    STR_FIELDS,
    Table,
    allocate,
    columns,
    encode,
    ingest_chunk,
    row_hash,
)
from bench_plugins.sdss.source import CacheSource

CACHE_VERSION = 3
NEW_FIELDS = ("ctime_ns", "hash")  # added in version 3
READABLE_VERSIONS = (2, 3)  # a version-2 index has no ctime_ns, hash: its files re-ingest


@dataclass
class IngestReport:
    """What one ingest did: files read now, files skipped as unchanged, and the problems."""

    ingested: int = 0
    unchanged: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


class SpectrumCache:
    """A cache folder (created on first ingest) for spectra on ``grid`` (BOSS by default).

    The index is held as numpy columns sorted by path (no per-file Python objects), so
    opening a 300,000-spectrum cache costs tens of MB, not hundreds.
    """

    def __init__(self, directory: Path | str, grid: np.ndarray | None = None) -> None:
        self.directory = Path(directory)
        self.grid = boss_grid() if grid is None else np.asarray(grid, dtype=np.float64)
        self.shards: list[str] = []
        self.table: Table = columns([])
        self._mmaps: dict[tuple[str, str], np.ndarray] = {}
        index = self.directory / "index.json"
        if index.is_file():
            self._load(index)

    def __len__(self) -> int:
        return len(self.table["path"])

    def _load(self, index: Path) -> None:
        try:
            data = json.loads(index.read_text())
            if data["version"] not in READABLE_VERSIONS:
                raise ValueError(f"version {data['version']}, expected {CACHE_VERSION}")
            grid = np.asarray(data["grid"], dtype=np.float64)
            with np.load(self.directory / data["table"], allow_pickle=False) as npz:
                table = {f: npz[f] for f in FIELDS if f in npz.files or f not in NEW_FIELDS}
            n = len(table["path"])
            table.setdefault("ctime_ns", np.full(n, -1, dtype=np.int64))  # never matches
            table.setdefault("hash", encode([""] * n))
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise BenchError(f"{index}: not a readable spectrum cache index ({reason})") from None
        if grid.shape != self.grid.shape or not np.allclose(grid, self.grid):
            raise BenchError(
                f"{index}: cache is on a different wavelength grid; use another cache_dir"
            )
        self.shards, self.table = list(data["shards"]), table

    def _save(self) -> None:
        """Write the table under a new name, then point index.json at it (atomic renames)."""
        generation = len(self.shards)
        name = f"index-{generation:04d}.npz"
        tmp = self.directory / f"{name}.tmp.npz"
        np.savez(tmp, **self.table)
        os.replace(tmp, self.directory / name)
        data = {
            "version": CACHE_VERSION,
            "grid": self.grid.tolist(),
            "shards": self.shards,
            "table": name,
        }
        tmp_json = self.directory / "index.json.tmp"
        tmp_json.write_text(json.dumps(data))
        os.replace(tmp_json, self.directory / "index.json")
        for old in self.directory.glob("index-*.npz"):
            if old.name != name:
                old.unlink()

    def _merge(self, new: Table) -> None:
        """Add the rows of ``new`` to the table, replacing rows of the same path; keep it sorted."""
        keep = ~np.isin(self.table["path"], new["path"])
        merged = {f: np.concatenate([self.table[f][keep], new[f]]) for f in FIELDS}
        order = np.argsort(merged["path"], kind="stable")
        self.table = {f: v[order] for f, v in merged.items()}

    def positions(self, keys: Sequence[Path | str], resolve: bool = True) -> np.ndarray:
        """Table positions of ``keys`` (file paths, resolved; or ``KEY:ROW`` of add_batches)."""
        wanted = encode([str(Path(k).resolve()) if resolve else str(k) for k in keys])
        paths = self.table["path"]
        pos = np.searchsorted(paths, wanted)
        found = pos < len(paths)
        found[found] = paths[pos[found]] == wanted[found]
        if not found.all():
            missing = wanted[~found][0].decode()
            raise BenchError(f"{self.directory}: {missing} is not in the cache; ingest it first")
        return pos

    def entry(self, key: Path | str, resolve: bool = True) -> dict[str, Any]:
        """One index row as a dict (strings decoded)."""
        [pos] = self.positions([key], resolve)
        return {
            f: (v[pos].decode() if f in STR_FIELDS else v[pos].item())
            for f, v in self.table.items()
        }

    def ingest(
        self,
        paths: Sequence[Path | str],
        workers: int = 1,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 64,
    ) -> IngestReport:
        """Read new or changed ``paths`` into a new shard; ``progress(done, total)`` per chunk."""
        report = IngestReport()
        keys = [str(Path(p).resolve()) for p in paths]
        stats = [os.stat(k) for k in keys]
        size = np.array([st.st_size for st in stats], dtype=np.int64)
        mtime = np.array([st.st_mtime_ns for st in stats], dtype=np.int64)
        ctime = np.array([st.st_ctime_ns for st in stats], dtype=np.int64)
        wanted, cached = encode(keys), self.table["path"]
        pos = np.minimum(np.searchsorted(cached, wanted), max(len(cached) - 1, 0))
        same = np.zeros(len(keys), bool)
        if len(cached):
            same = (
                (cached[pos] == wanted)
                & (self.table["size"][pos] == size)
                & (self.table["mtime_ns"][pos] == mtime)
                & (self.table["ctime_ns"][pos] == ctime)
            )
        report.unchanged = int(same.sum())
        todo = [
            (keys[i], int(size[i]), int(mtime[i]), int(ctime[i])) for i in np.flatnonzero(~same)
        ]
        if not todo:
            return report
        with self._undo_on_failure():
            self._ingest_new(todo, workers, progress, chunk, report)
        return report

    @contextmanager
    def _undo_on_failure(self) -> Iterator[None]:
        """A read-only or full disk, or a worker that died: one line naming the cache
        folder. Whatever fails, a shard the index on disk does not list is removed with
        the temporary index files, and this object goes back to the index on disk."""
        first = len(self.shards)
        try:
            yield
        except BaseException as exc:
            self._roll_back(first)
            if not isinstance(exc, (OSError, BrokenProcessPool)):
                raise
            reason = (
                "a worker process died; is the disk full?"
                if isinstance(exc, BrokenProcessPool)
                else exc.strerror or " ".join(str(exc).split())
            )
            raise BenchError(
                f"{self.directory}: cannot write the spectrum cache ({reason}); nothing was "
                "added to it"
            ) from None

    def _roll_back(self, first: int) -> None:
        """Remove shard ``first`` unless the index on disk lists it; reload that index."""
        index = self.directory / "index.json"
        self.shards, self.table = [], columns([])
        if index.is_file():
            self._load(index)
        shard = self.directory / f"shard-{first:04d}"
        shutil.rmtree(shard.with_name(shard.name + ".tmp"), ignore_errors=True)
        if shard.name not in self.shards:
            shutil.rmtree(shard, ignore_errors=True)
        for tmp in (*self.directory.glob("index-*.tmp.npz"), self.directory / "index.json.tmp"):
            tmp.unlink(missing_ok=True)

    def _ingest_new(
        self,
        todo: list[tuple[str, int, int, int]],
        workers: int,
        progress: Callable[[int, int], None] | None,
        chunk: int,
        report: IngestReport,
    ) -> None:
        """Read ``todo`` (path, size, mtime, ctime) into one new shard, then save the index."""
        self.directory.mkdir(parents=True, exist_ok=True)
        shard = f"shard-{len(self.shards):04d}"
        tmp_dir = self.directory / f"{shard}.tmp"
        tmp_dir.mkdir(exist_ok=True)
        for name, dtype in ARRAYS:  # created at full size, on disk; the workers fill rows
            allocate(tmp_dir / f"{name}.npy", dtype, (len(todo), len(self.grid)))
        jobs = [(str(tmp_dir), start, [t[0] for t in todo[start : start + chunk]], self.grid)
                for start in range(0, len(todo), chunk)]  # fmt: skip
        shard_no, parts = len(self.shards), []
        sizes = np.array([t[1] for t in todo], dtype=np.int64)
        mtimes = np.array([t[2] for t in todo], dtype=np.int64)
        ctimes = np.array([t[3] for t in todo], dtype=np.int64)

        def collect(rows: list[dict[str, Any]]) -> None:
            """Per-file dicts of one chunk -> columns at once (memory stays per chunk)."""
            for r in rows:
                slot = r.pop("slot")
                r["size"], r["mtime_ns"] = int(sizes[slot]), int(mtimes[slot])
                r["ctime_ns"] = int(ctimes[slot])
                r["shard"] = shard_no if r["row"] >= 0 else -1
                if r["problem"]:
                    report.problems.append((r["path"], r["problem"]))
            parts.append(columns(rows))

        with process_pool(workers) if workers > 1 else nullcontext() as pool:
            chunks = (
                (f.result() for f in as_completed([pool.submit(ingest_chunk, *j) for j in jobs]))
                if pool is not None
                else (ingest_chunk(*j) for j in jobs)
            )
            for done, rows in enumerate(chunks, start=1):
                collect(rows)
                if progress:
                    progress(min(done * chunk, len(todo)), len(todo))
        os.replace(tmp_dir, self.directory / shard)
        self.shards.append(shard)
        self._merge({f: np.concatenate([part[f] for part in parts]) for f in FIELDS})
        report.ingested = len(todo)
        self._save()

    def add_batches(self, batches: Iterable[SpectrumBatch], n: int, key: str = "batch") -> int:
        """Store ``n`` spectra from in-memory batches (e.g. synthetic) as one new shard.

        Entries are keyed ``KEY:ROW`` instead of a file path; returns the rows written.
        """
        with self._undo_on_failure():
            return self._add_batches(batches, n, key)

    def _add_batches(self, batches: Iterable[SpectrumBatch], n: int, key: str) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        shard = f"shard-{len(self.shards):04d}"
        tmp_dir = self.directory / f"{shard}.tmp"
        tmp_dir.mkdir(exist_ok=True)
        for name, dtype in ARRAYS:
            allocate(tmp_dir / f"{name}.npy", dtype, (n, len(self.grid)))
        out = {name: np.load(tmp_dir / f"{name}.npy", mmap_mode="r+") for name, _ in ARRAYS}
        row, rows = 0, []
        for batch in batches:
            if not np.allclose(batch.loglam, self.grid):
                raise BenchError(f"{self.directory}: batch is not on the cache's wavelength grid")
            take = min(len(batch), n - row)
            for name, arr in out.items():
                arr[row : row + take] = getattr(batch, name)[:take]
                arr.flush()  # written out as we go: memory stays bounded
            for i in range(take):
                rows.append({
                    **dict.fromkeys(FIELDS, -1), "path": f"{key}:{row + i}", "shard": len(self.shards),
                    "row": row + i, "id": str(batch.ids[i]), "label": str(batch.labels[i]),
                    "redshift": float(batch.redshift[i]), "snr": float(batch.snr[i]), "problem": "",
                    "hash": row_hash(out, row + i),
                })  # fmt: skip
            row += take
            if row >= n:
                break
        del out
        os.replace(tmp_dir, self.directory / shard)
        self.shards.append(shard)
        self._merge(columns(rows))
        self._save()
        return row

    def source(
        self, positions: np.ndarray | None = None, description: dict[str, Any] | None = None
    ) -> CacheSource:
        """A source over table ``positions`` that hold data (default: every such row)."""
        pos = np.arange(len(self)) if positions is None else np.asarray(positions, dtype=np.int64)
        pos = pos[self.table["row"][pos] >= 0]
        table = {
            f: v[pos]
            for f, v in self.table.items()
            if f not in ("size", "mtime_ns", "ctime_ns", "problem")
        }
        info = {"cache_dir": str(self.directory), "spectra": len(pos)} | (description or {})
        return CacheSource(self, table, info)

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
