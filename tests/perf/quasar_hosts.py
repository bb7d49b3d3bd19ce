"""Quasar hosts: the synthetic quasars' host light against real quasars', by redshift.

Run: .venv/bin/python tests/perf/quasar_hosts.py [--n 6000] [--seed 11]
     [--real ../shared/data/sdss ../shared/data/sdss_extra]

Draws ``--n`` synthetic spectra with the sim-to-real preset's dataset options and prints,
for the quasars in redshift bins below z = 0.9 (where they carry a host), the medians of
the realism features that the host's stars set (``d4000``: log10 4000 A break in f_lambda;
equivalent widths in A, negative for absorption: Ca II K, Mg b, Na D, H-beta, H-alpha),
for the synthetic quasars and, with ``--real``, the real ones (catalogue redshifts).
Prints a table and one line of JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench_plugins.synthetic.dataset import Synthetic
from bench_plugins.synthetic.realism_features import feature_names, features

ROOT = Path(__file__).resolve().parents[2]
BINS = [(0.0, 0.15), (0.15, 0.4), (0.4, 0.9)]
COLUMNS = ["d4000", "ew_CaK", "ew_Mgb", "ew_NaD", "ew_Hbeta", "ew_Halpha"]


def medians(x: np.ndarray, z: np.ndarray) -> list[dict]:
    names = feature_names()
    rows = []
    for lo, hi in BINS:
        s = (z >= lo) & (z < hi)
        row = {"z": [lo, hi], "n": int(s.sum())}
        for c in COLUMNS:
            v = x[s, names.index(c)]
            v = v[np.isfinite(v)]
            row[c] = round(float(np.median(v)), 3) if len(v) else None
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--real", nargs="*", default=[])
    args = ap.parse_args()
    import tomllib

    params = tomllib.loads((ROOT / "presets" / "sim_to_real.toml").read_text())["dataset"]
    params.pop("name")
    source = Synthetic(**{**params, "n": args.n, "seed": args.seed}).open()
    rows = np.flatnonzero((source.labels == "QSO") & (source.redshift < 0.9))
    batch = source.read(rows)
    result = {"synthetic": medians(features(batch), np.asarray(batch.redshift))}
    if args.real:
        from bench_plugins.sdss.dataset import SdssDataset

        real = SdssDataset(path=[str(p) for p in args.real]).open()
        keep = np.flatnonzero(
            (np.asarray(real.labels) == "QSO") & (np.asarray(real.redshift) < 0.9)
        )
        rb = real.read(keep)
        result["real"] = medians(features(rb), np.asarray(rb.redshift))
    print(f"{'':10s} {'z':10s} {'n':>4s} " + " ".join(f"{c:>9s}" for c in COLUMNS))
    for side, table in result.items():
        for r in table:
            cells = " ".join(f"{'-' if r[c] is None else r[c]:>9}" for c in COLUMNS)
            print(f"{side:10s} {r['z'][0]:.2f}-{r['z'][1]:.2f} {r['n']:4d} {cells}")
    print(json.dumps({"benchmark": "quasar_hosts", "n": args.n, "seed": args.seed, **result}))


if __name__ == "__main__":
    main()
