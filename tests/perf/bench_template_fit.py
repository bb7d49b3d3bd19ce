"""template_fit on real SDSS spectra: accuracy, per-class recall, redshift error, speed.

Run: .venv/bin/python tests/perf/bench_template_fit.py [--backend numpy|jax] [--batch 32]
     [--synthetic N] [--option key=value ...]

Reads the labelled files of ../shared/data/sdss (the ``sdss`` dataset plugin, BOSS grid),
fits every spectrum with ``template_fit`` (no training: temperature 1) and prints the
accuracy, the recall of each class, the confusion matrix, |dz|/(1+z) against the files'
pipeline Z (median, and the fraction above 0.01 among correctly classified spectra and
among all), the spectra per second of the fit (batched, after a warm-up batch), and a
last line of JSON. ``--synthetic N`` also measures N spectra of the ``synthetic`` dataset.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.spectra import SpectrumSource
from bench_plugins.models.template_fit import TemplateFit
from bench_plugins.models.template_fit.prepare import prepare
from bench_plugins.models.template_fit.redshift import fit_spectra
from bench_plugins.models.template_fit.templates import FIT_CLASSES

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sdss"


def parse(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def measure(source: SpectrumSource, model: TemplateFit, batch: int) -> dict[str, Any]:
    """Fit all spectra of ``source``; figures against its labels and redshifts."""
    n = len(source)
    templates, settings = model.templates(), model.settings()
    # warm-up (template resampling, jit compilation) on one batch, not timed
    loglam0, step, f, w = prepare(source.read(np.arange(min(batch, n))))
    fit_spectra(loglam0, step, f, w, templates, settings)
    chi2, z, fit_s = [], [], 0.0
    for start in range(0, n, batch):
        loglam0, step, f, w = prepare(source.read(np.arange(start, min(start + batch, n))))
        t0 = time.perf_counter()
        out = fit_spectra(loglam0, step, f, w, templates, settings)
        fit_s += time.perf_counter() - t0
        chi2.append(out["chi2"])
        z.append(out["z"])
    chi2_all, z_all = np.concatenate(chi2), np.concatenate(z)
    pred = chi2_all.argmin(axis=1)
    truth = np.array([FIT_CLASSES.index(str(c)) for c in source.labels])
    recall = {
        c: float((pred[truth == k] == k).mean()) if (truth == k).any() else None
        for k, c in enumerate(FIT_CLASSES)
    }
    confusion = [[int(((truth == i) & (pred == j)).sum()) for j in range(3)] for i in range(3)]
    z_true = np.asarray(source.redshift, np.float64)
    z_pred = z_all[np.arange(n), pred]
    dz = np.abs(z_pred - z_true) / (1 + z_true)
    right = pred == truth
    per_class_dz = {
        c: float(np.median(dz[right & (truth == k)])) if (right & (truth == k)).any() else None
        for k, c in enumerate(FIT_CLASSES)
    }
    return {
        "n": n,
        "accuracy": float(right.mean()),
        "recall": recall,
        "confusion": confusion,
        "dz_median": float(np.median(dz[right])) if right.any() else None,
        "dz_median_by_class": per_class_dz,
        "catastrophic_correct": float((dz[right] > 0.01).mean()) if right.any() else None,
        "catastrophic_all": float((dz > 0.01).mean()),
        "spectra_per_s": n / fit_s,
        "backend": settings.backend,
    }


def show(name: str, r: dict[str, Any]) -> None:
    rec = " ".join(f"{c}={v:.2f}" if v is not None else f"{c}=-" for c, v in r["recall"].items())
    print(f"{name}: {r['n']} spectra, accuracy {r['accuracy']:.3f}  recall {rec}")
    print(f"  confusion (rows true S,G,Q; columns predicted): {r['confusion']}")
    print(
        f"  |dz|/(1+z): median {r['dz_median']:.2e} (correct class), > 0.01: "
        f"{r['catastrophic_correct']:.3f} of correct, {r['catastrophic_all']:.3f} of all"
    )
    print(f"  speed {r['spectra_per_s']:.1f} spectra/s ({r['backend']})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy", choices=("numpy", "jax"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--synthetic", type=int, default=0, help="also fit N synthetic spectra")
    ap.add_argument("--option", action="append", default=[], help="template_fit option k=v")
    args = ap.parse_args()
    options = dict(kv.split("=", 1) for kv in args.option)
    model = TemplateFit(backend=args.backend, **{k: parse(v) for k, v in options.items()})
    out: dict[str, Any] = {"options": model.params}
    if REAL.exists():
        from bench_plugins.sdss.dataset import SdssDataset

        t0 = time.perf_counter()
        source = SdssDataset(path=[str(REAL)]).open()
        print(f"read {len(source)} real spectra in {time.perf_counter() - t0:.1f} s")
        out["real"] = measure(source, model, args.batch)
        show("real SDSS", out["real"])
    else:
        print(f"{REAL} not found: real spectra skipped")
    if args.synthetic:
        from bench_plugins.synthetic import Synthetic

        source = Synthetic(n=args.synthetic, seed=1).open()
        out["synthetic"] = measure(source, model, args.batch)
        show("synthetic", out["synthetic"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
