"""Cost of a data fingerprint that sees every spectrum (run on demand, not collected by pytest).

    .venv/bin/python tests/perf/bench_fingerprint.py [N ...]   (default: 1000 10000)

For each N, the seconds of ``data_fingerprint`` on:

- ``synthetic``: the generator's source (its content hash is its parameters: nothing is
  generated), and ``synthetic_read``: the core's fallback on the same source, every
  spectrum generated and hashed (what a source without ``content_hash`` costs);
- ``sdss_cache``: a cache holding N spectra (the per-spectrum hashes kept in its index,
  nothing read), and ``sdss_cache_read``: every spectrum read back from the cache and
  hashed (the fallback, and the price of an index from before hashes);
- ``ingest_hash``: the hashing an ingest does per spectrum (BLAKE2b of one stored row).

Each figure is extrapolated linearly to 300,000 spectra. The last line is the figures as JSON.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from bench.run.cellkey import data_fingerprint
from bench.spectra import SpectrumBatch, SpectrumSource, boss_grid, hash_arrays
from bench_plugins.sdss.cache import SpectrumCache
from bench_plugins.synthetic.dataset import Synthetic

PAPER = 300_000


class Fallback(SpectrumSource):
    """``inner`` without its content hash: the core reads and hashes every spectrum."""

    def __init__(self, inner: SpectrumSource) -> None:
        self.inner = inner
        self.ids, self.labels = inner.ids, inner.labels
        self.redshift, self.loglam = inner.redshift, inner.loglam

    def read(self, index: np.ndarray) -> SpectrumBatch:
        return self.inner.read(index)


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def batches(source: SpectrumSource, n: int) -> Iterator[SpectrumBatch]:
    for start in range(0, n, 1024):
        yield source.read(np.arange(start, min(start + 1024, n)))


def measure(n: int, root: Path) -> dict[str, float]:
    synthetic = Synthetic(n=n).open()
    figures = {"synthetic": seconds(lambda: data_fingerprint(synthetic))}
    figures["synthetic_read"] = seconds(lambda: data_fingerprint(Fallback(synthetic)))
    cache = SpectrumCache(root / f"cache-{n}", boss_grid())
    cache.add_batches(batches(synthetic, n), n, key="perf")
    stored = SpectrumCache(root / f"cache-{n}", boss_grid()).source()
    figures["sdss_cache"] = seconds(lambda: data_fingerprint(stored))
    figures["sdss_cache_read"] = seconds(lambda: data_fingerprint(Fallback(stored)))
    flux = np.zeros((n, len(boss_grid())), np.float32)
    mask = np.zeros((n, len(boss_grid())), np.int32)
    figures["ingest_hash"] = seconds(
        lambda: [hash_arrays(flux[i], flux[i], mask[i]) for i in range(n)]
    )
    return figures


def main(sizes: list[int]) -> None:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            results[str(n)] = measure(n, Path(tmp))
    largest = max(sizes)
    print(f"{'':18}" + "".join(f"{n:>12,}" for n in sizes) + f"{'300,000 (est.)':>17}")
    for name in results[str(largest)]:
        row = "".join(f"{results[str(n)][name]:11.3f}s" for n in sizes)
        estimate = results[str(largest)][name] * PAPER / largest
        print(f"{name:18}{row}{estimate:16.1f}s")
    extrapolated = {name: value * PAPER / largest for name, value in results[str(largest)].items()}
    print(json.dumps({"seconds": results, "extrapolated_300k_s": extrapolated}))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
