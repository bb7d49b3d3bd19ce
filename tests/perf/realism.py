"""Realism of the synthetic spectra: per-class AUC of a real-vs-synthetic discriminator.

Run: .venv/bin/python tests/perf/realism.py [--n 3000] [--seed 0] [--option key=value ...]

Generates ``--n`` spectra of the ``synthetic`` dataset (options via ``--option``), reads
the labelled files of ../shared/data/sdss, and prints
``bench_plugins.synthetic.realism.realism_report`` as text and as one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench_plugins.sdss.dataset import SdssDataset
from bench_plugins.synthetic import Synthetic
from bench_plugins.synthetic.commands import format_report
from bench_plugins.synthetic.realism import realism_report

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "sdss"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--option", action="append", default=[], help="synthetic option k=v")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.option)}
    t0 = time.perf_counter()
    synthetic = Synthetic(n=args.n, seed=args.seed, **options).open()
    real = SdssDataset(path=[str(REAL)]).open()
    report = realism_report(synthetic, real, seed=args.seed)
    print(format_report(report))
    print(f"({time.perf_counter() - t0:.1f} s)")
    print(json.dumps({"options": options, "n": args.n, "report": report}))


if __name__ == "__main__":
    main()
