"""Generation speed and memory of the ``synthetic`` dataset.

Run: .venv/bin/python tests/perf/bench_synthetic.py [--n 10000] [--batch 1000]

Reads ``n`` spectra in batches (as the runner does) and reports spectra per second,
the time per batch, and peak RSS. The baseline, measured in the same run, is a bare
numpy loop drawing the same number of Gaussian pixel vectors (the cost of the noise
alone), so the ratio is comparable across busy machines. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from bench.spectra import BOSS_NPIX
from bench_plugins.synthetic import Synthetic


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def baseline(n: int, seed: int) -> float:
    """Seconds to draw n per-object seeded noise vectors of BOSS length (the floor)."""
    t0 = time.perf_counter()
    for i in range(n):
        np.random.default_rng([seed, i]).standard_normal(BOSS_NPIX, dtype=np.float32)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rss0 = peak_rss_mib()
    t0 = time.perf_counter()
    source = Synthetic(n=args.n, seed=args.seed).open()
    t_open = time.perf_counter() - t0
    source.read(np.arange(8))  # warm-up: cached sky model and forest calibration
    times = []
    for start in range(0, args.n, args.batch):
        t = time.perf_counter()
        source.read(np.arange(start, min(start + args.batch, args.n)))
        times.append(time.perf_counter() - t)
    total = sum(times)
    base = baseline(args.n, args.seed)
    rate = args.n / total
    print(f"open (catalog of {args.n}): {t_open:.2f} s")
    print(
        f"generate {args.n} spectra in batches of {args.batch}: {total:.2f} s, {rate:.0f} spectra/s"
    )
    print(f"per batch: median {np.median(times):.2f} s, max {max(times):.2f} s")
    print(f"baseline (noise draws only): {base:.2f} s; generation / baseline = {total / base:.1f}x")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (at start {rss0:.0f} MiB)")
    print(json.dumps({
        "n": args.n, "batch": args.batch, "seconds": total, "spectra_per_s": rate,
        "open_s": t_open, "baseline_s": base, "ratio_to_baseline": total / base,
        "peak_rss_mib": peak_rss_mib(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
