"""Cost of the cell cache on a paper-sized dataset (run on demand, not collected by pytest).

    .venv/bin/python tests/perf/bench_cellcache.py [N_SPECTRA]

Times ``data_fingerprint`` (once per dataset per run: metadata, the source's own stamp and
the per-spectrum hashes a cache keeps, hashed; tests/perf/bench_fingerprint.py times
the other ways) and ``RunDir.load_result`` of a cell, and
prints them as a ratio to the stratified split of the same spectra measured in the same
run (a cost every training run already pays): the machine is shared, compare ratios.
The last line is the same figures as JSON.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.data.split import known_label_index, stratified_split
from bench.run.cellkey import data_fingerprint
from bench.spectra import ArraySource, SpectrumBatch
from bench.store.files import atomic_write_text
from bench.store.rundir import RunDir


class IdsOnly(ArraySource):
    """Ids, labels and a grid held in memory; ``read`` makes the spectra asked for (as a
    cache read would give them), ``fingerprint`` stamps per-file sizes and mtimes."""

    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(0)
        self.ids = np.array([f"{3586 + i // 1000}-55181-{i % 1000:04d}" for i in range(n)], object)
        self.labels = rng.choice(np.array(["STAR", "GALAXY", "QSO"], object), n)
        self.redshift = np.zeros(n)
        self.loglam = 3.5523 + 1e-4 * np.arange(4648)
        self._description = {"generator": "perf", "n": n}
        self.sizes = rng.integers(60_000, 90_000, n)
        self.mtimes = rng.integers(1_700_000_000 * 10**9, 1_800_000_000 * 10**9, n)

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, index: np.ndarray) -> SpectrumBatch:
        flux = np.random.default_rng(int(index[0])).normal(size=(len(index), len(self.loglam)))
        return SpectrumBatch(
            ids=self.ids[index], loglam=self.loglam, flux=flux.astype(np.float32),
            ivar=np.ones((len(index), len(self.loglam)), np.float32),
            mask=np.zeros((len(index), len(self.loglam)), np.int32), labels=self.labels[index],
            redshift=self.redshift[index], snr=np.ones(len(index), np.float32),
        )  # fmt: skip

    def fingerprint(self) -> str:
        return hashlib.sha256(self.sizes.tobytes() + self.mtimes.tobytes()).hexdigest()

    def content_hash(self) -> str:
        """As the sdss cache's: the per-spectrum hashes kept since ingest, hashed."""
        rows = "\x1f".join(f"{i:032x}" for i in range(len(self.ids)))
        return hashlib.blake2b(rows.encode(), digest_size=16).hexdigest()


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
source = IdsOnly(n)
usable = known_label_index(source.labels, ["STAR", "GALAXY", "QSO"])
split_s = best_of(lambda: stratified_split(source.ids, source.labels, usable, 0.8, 0, "perf"))
fingerprint_s = best_of(lambda: data_fingerprint(source))
with tempfile.TemporaryDirectory() as tmp:
    cell = Path(tmp) / "cells" / "c"
    (cell / "model").mkdir(parents=True)
    atomic_write_text(cell / "metrics.json", '{"status": "ok", "cache_key": "k"}')
    lookup_s = best_of(lambda: RunDir(Path(tmp)).load_result("c", "k"), repeat=50)
print(f"spectra: {n}")
print(f"stratified split (baseline) {split_s:8.4f} s   1.00")
print(f"data_fingerprint            {fingerprint_s:8.4f} s {fingerprint_s / split_s:6.2f}")
print(f"load_result (one cell)      {lookup_s:8.6f} s {lookup_s / split_s:6.4f}")
figures = {"spectra": n, "split_s": split_s, "fingerprint_s": fingerprint_s}
print(json.dumps({"bench": "cellcache", **figures, "load_result_s": lookup_s}))
