"""Benchmark: reading SDSS files, ingesting them into the cache, streaming from it.

Figures (all ratios against a baseline timed in the same run, the machine is shared):
1. read rate of ``bench.data.readers.read_spectrum`` vs a plain per-file astropy loop
   (``fits.open`` + ``hdul[1].data`` + the SPALL row, placed on the BOSS grid);
2. cache ingest rate with 1 and ``--workers`` processes, and a re-ingest of unchanged files;
3. reload rate from the cache (shuffled batches) vs the ingest rate;
4. peak RSS while streaming N cached spectra (each N in a fresh process), to show it
   stays flat as N grows. Cached spectra come from the synthetic generator (a pool
   tiled to N) or, if it is unavailable, random spectra on the BOSS grid.

Input files: copies of ../shared/data/sdss (real layouts: 126-236 column SPALL rows)
when present, else small spec-lite files written here. Run:

    .venv/bin/python tests/perf/bench_ingest.py --files 400 --stream 10000,50000,300000

The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.data.readers import find_spectra, read_spectrum  # noqa: E402
from bench.spectra import SpectrumBatch, boss_grid, empty_batch, to_grid  # noqa: E402
from bench_plugins.sdss.cache import SpectrumCache  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "sdss"


def make_files(folder: Path, n: int) -> list[Path]:
    """``n`` spectrum files: the shared real files copied round-robin, or written ones."""
    folder.mkdir(parents=True)
    real = find_spectra([SHARED]) if SHARED.is_dir() else []
    if real:
        for i in range(n):
            src = real[i % len(real)]
            shutil.copyfile(src, folder / f"{i:06d}-{src.name}")
    else:
        from tests.fixtures.sdss_files import write_spec_lite

        for i in range(n):
            write_spec_lite(folder / f"{i:06d}.fits", fiber=i % 1000 + 1, seed=i)
    return find_spectra([folder])


def astropy_loop(files: list[Path], grid: np.ndarray) -> int:
    """The plain way: astropy tables/images per file, then onto the grid."""
    from astropy.io import fits

    n = 0
    for path in files:
        with fits.open(path) as hdul:
            if hdul[0].header.get("NAXIS") == 2:  # DR7 spSpec
                h, data = hdul[0].header, hdul[0].data
                loglam = h["COEFF0"] + h["COEFF1"] * np.arange(data.shape[1])
                flux, err = data[0], data[2]
                ivar = np.where(err > 0, 1 / np.where(err > 0, err, 1) ** 2, 0)
                label = h["SPEC_CLN"]
            else:
                coadd = hdul[1].data
                names = {c.lower(): c for c in coadd.names}
                loglam = coadd[names["loglam"]]
                flux, ivar = coadd[names["flux"]], coadd[names["ivar"]]
                label = hdul[2].data["CLASS"][0]
            to_grid(np.asarray(loglam, float), flux, ivar, None, grid)
            n += bool(label is not None)
    return n


def reader_loop(files: list[Path], grid: np.ndarray) -> int:
    for path in files:
        s = read_spectrum(path)
        to_grid(s.loglam, s.flux, s.ivar, s.mask, grid)
    return len(files)


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def spectra_pool(n: int) -> tuple[SpectrumBatch, str]:
    try:
        from bench_plugins.synthetic import Synthetic

        return Synthetic(n=n, seed=0).open().read(np.arange(n)), "synthetic generator"
    except Exception as exc:  # generator missing or broken: random spectra on the grid
        rng = np.random.default_rng(0)
        batch = empty_batch(boss_grid(), n)
        batch.flux[:] = rng.normal(10, 2, batch.flux.shape)
        batch.ivar[:] = 1.0
        batch.labels[:] = rng.choice(["STAR", "GALAXY", "QSO"], n)
        batch.ids[:] = [f"r{i}" for i in range(n)]
        batch.redshift[:] = rng.uniform(0, 3.5, n)
        return batch, f"random (synthetic unavailable: {exc})"


def build_stream_cache(directory: Path, n: int, pool: SpectrumBatch) -> float:
    """A cache of ``n`` spectra tiled from ``pool``; returns seconds taken."""

    def batches():  # type: ignore[no-untyped-def]
        for start in range(0, n, len(pool)):
            yield pool.take(np.arange(min(len(pool), n - start)))

    t = time.perf_counter()
    SpectrumCache(directory).add_batches(batches(), n, key="pool")
    return time.perf_counter() - t


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (reset at exec, unlike ru_maxrss, which a child
    started by fork+exec inherits from its parent on Linux)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream(directory: str, batch_size: int) -> dict[str, float]:
    """Stream every spectrum of the cache in shuffled batches (run in a fresh process)."""
    base = peak_rss_mb()
    t0 = time.perf_counter()
    source = SpectrumCache(directory).source()
    t_open = time.perf_counter() - t0
    order = np.random.default_rng(0).permutation(len(source))
    checksum = 0.0
    t = time.perf_counter()
    for start in range(0, len(order), batch_size):
        batch = source.read(np.sort(order[start : start + batch_size]))
        checksum += float(batch.flux[:, ::97].sum())
    seconds = time.perf_counter() - t
    peak = peak_rss_mb()
    return {
        "n": len(source), "open_s": t_open, "rate": len(source) / seconds,
        "peak_rss_mb": peak, "rss_before_open_mb": base, "checksum": checksum,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=400, help="files to ingest")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--stream", default="10000,50000", help="comma-separated N to stream")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--_stream", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._stream:
        print(json.dumps(stream(args._stream, args.batch_size)))
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-ingest-"))
    grid = boss_grid()
    results: dict[str, object] = {}
    try:
        files = make_files(work / "files", args.files)
        print(
            f"{len(files)} files ({'copies of shared real files' if SHARED.is_dir() else 'written'})"
        )
        reader_loop(files[:20], grid)  # warm imports and page cache
        astropy_loop(files[:20], grid)
        t_astropy, _ = timed(astropy_loop, files, grid)
        t_reader, _ = timed(reader_loop, files, grid)
        results["astropy_loop_per_s"] = len(files) / t_astropy
        results["reader_per_s"] = len(files) / t_reader
        print(f"read   plain astropy loop {len(files) / t_astropy:8.1f}/s   read_spectrum "
              f"{len(files) / t_reader:8.1f}/s   x{t_astropy / t_reader:.2f}")  # fmt: skip
        for workers in sorted({1, args.workers}):
            t_ingest, report = timed(
                SpectrumCache(work / f"cache{workers}").ingest, files, workers=workers
            )
            results[f"ingest_w{workers}_per_s"] = len(files) / t_ingest
            print(f"ingest workers={workers}: {len(files) / t_ingest:8.1f}/s  (x{t_astropy / t_ingest:.2f} "
                  f"vs astropy loop; problems {len(report.problems)})")  # fmt: skip
        t_again, again = timed(SpectrumCache(work / "cache1").ingest, files)
        results["reingest_unchanged_s"] = t_again
        print(f"re-ingest of {again.unchanged} unchanged files: {t_again * 1000:.0f} ms")
        src = SpectrumCache(work / "cache1").source()
        order = np.random.default_rng(0).permutation(len(src))
        t_reload, _ = timed(
            lambda: [src.read(np.sort(order[i : i + 256])) for i in range(0, len(order), 256)]
        )
        results["reload_per_s"] = len(src) / t_reload
        print(
            f"reload from cache: {len(src) / t_reload:8.1f}/s  (x{t_astropy / t_reload:.0f} vs astropy loop)"
        )
        shutil.rmtree(work / "files")
        pool, kind = spectra_pool(2000)
        print(f"streaming (spectra: {kind}; batch {args.batch_size}, shuffled):")
        results["stream"] = []
        for n in [int(x) for x in args.stream.split(",") if x]:
            need = n * len(grid) * 9 * 1.05
            if shutil.disk_usage(work).free < need:
                print(f"  N={n}: skipped, needs {need / 1e9:.1f} GB free")
                continue
            directory = work / f"stream{n}"
            build_s = build_stream_cache(directory, n, pool)
            cmd = [
                sys.executable,
                __file__,
                "--_stream",
                str(directory),
                "--batch-size",
                str(args.batch_size),
            ]
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            out["build_s"], out["in_memory_mb"] = build_s, n * len(grid) * 9 / 2**20
            results["stream"].append(out)  # type: ignore[attr-defined]
            print(f"  N={n:7d}: peak RSS {out['peak_rss_mb']:7.1f} MB (arrays in memory would be "
                  f"{out['in_memory_mb']:8.0f} MB)  {out['rate']:8.0f} spectra/s  open {out['open_s']:.2f} s")  # fmt: skip
            shutil.rmtree(directory)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
