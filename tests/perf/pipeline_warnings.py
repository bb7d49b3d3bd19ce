"""The pipeline's warnings on synthetic spectra against real ones: ZWARNING bit shares.

Run: .venv/bin/python tests/perf/pipeline_warnings.py [--n 600] [--seed 11]
     [--classes QSO] [--option key=value ...] [--real ../shared/data/sdss ...]

``template_fit`` (the SDSS pipeline's method and templates, numpy backend) fits ``--n``
synthetic spectra (default options, or ``--option``) and, with ``--real``, the real files
of those folders; prints, per class and redshift bin, how many spectra carry each
ZWARNING bit, then one line of JSON. A bit the real spectra of a class never carry but
the synthetic ones often do points at a spectrum the pipeline's templates cannot
describe: the sharp Ly-alpha of 7b57665's parent gave 16 of 306 synthetic quasars at
z 2-2.7 NEGATIVE_MODEL (a negative mean-quasar coefficient) and none of 124 real ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.spectra import CLASSES, ZWARNING_BITS, SpectrumBatch  # noqa: E402
from bench_plugins.models.template_fit import TemplateFit  # noqa: E402
from tests.test_template_fit import feed_of  # noqa: E402

Z_EDGES = (-1.0, 0.01, 0.4, 1.0, 2.0, 2.7, 7.0)


def warnings_of(batch: SpectrumBatch) -> np.ndarray:
    """ZWARNING (N,) of ``template_fit`` on ``batch``, fed as the template-fit tests feed it."""
    model = TemplateFit(backend="numpy")
    model.build((len(batch.loglam), 1), CLASSES, 0)
    return np.asarray(model.object_facts(feed_of(batch))["zwarning"], np.int64)


def table(batch: SpectrumBatch, flags: np.ndarray, classes: Sequence[str]) -> dict:
    """{class: {z bin: {"n": count, bit name: count, ...}}} for the bits that occur."""
    labels, z = np.asarray(batch.labels).astype(str), np.asarray(batch.redshift, float)
    out: dict[str, dict[str, dict[str, int]]] = {}
    for label in classes:
        for lo, hi in zip(Z_EDGES[:-1], Z_EDGES[1:], strict=True):
            rows = (labels == label) & (z >= lo) & (z < hi)
            if not rows.any():
                continue
            cell = {"n": int(rows.sum())}
            for name, bit in ZWARNING_BITS.items():
                hits = int(((flags[rows] & bit) != 0).sum())
                if hits:
                    cell[name] = hits
            out.setdefault(label, {})[f"{max(lo, 0.0):g}-{hi:g}"] = cell
    return out


def main() -> None:
    from bench_plugins.sdss.dataset import SdssDataset
    from bench_plugins.synthetic import Synthetic

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600, help="synthetic spectra")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--classes", default="QSO", help="comma-separated (default: QSO)")
    ap.add_argument("--option", action="append", default=[], help="dataset key=TOML value")
    ap.add_argument("--real", nargs="*", default=[], help="real spectrum folders")
    args = ap.parse_args()
    classes = [c for c in args.classes.split(",") if c]
    options = tomllib.loads("\n".join(args.option))
    synthetic = Synthetic(n=args.n, seed=args.seed, classes=classes, **options).open()
    sets = {"synthetic": synthetic.read(np.arange(len(synthetic)))}
    if args.real:
        real = SdssDataset(path=list(args.real)).open()
        sets["real"] = real.read(np.arange(len(real)))
    report = {name: table(batch, warnings_of(batch), classes) for name, batch in sets.items()}
    for name, per_class in report.items():
        for label, bins in per_class.items():
            for zbin, cell in bins.items():
                bits = ", ".join(f"{k} {v}" for k, v in cell.items() if k != "n") or "none"
                print(f"{name:9s} {label:6s} z {zbin:9s} n {cell['n']:4d}  {bits}")
    print(json.dumps({"n": args.n, "seed": args.seed, "options": args.option, **report}))


if __name__ == "__main__":
    main()
