"""template_fit on real SDSS spectra and synthetic ones: accuracy, per-class recall, the
failure kinds of issue 25, redshift error, speed.

Run: .venv/bin/python tests/perf/bench_template_fit.py [--backend numpy|jax] [--batch 32]
     [--real FOLDER ...] [--synthetic N] [--seed S] [--option key=value ...]

Reads the labelled files of each ``--real`` folder (default ../shared/data/sdss and
../shared/data/sdss_extra; the ``sdss`` dataset plugin, labels from the folder's
``labels.csv``), fits every spectrum with ``template_fit`` (no training: temperature 1) and
prints the accuracy, the recall of each class, the confusion matrix, the failure kinds
(galaxies called QSO; stars called QSO or GALAXY, and how many of those with a delta
chi-square under 46; galaxies called white dwarfs), the objects flagged (``zwarning`` != 0)
and the accuracy of the unflagged ones, |dz|/(1+z) against the files' pipeline Z, the
spectra per second of the fit (batched, after a warm-up batch), and a last line of JSON.
``--synthetic N`` also measures N spectra of the ``synthetic`` dataset (seed ``--seed``),
with the galaxy recall per generator subclass (SF, STARBURST, AGN, PSB, PASSIVE).
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
from bench_plugins.models.template_fit.zwarning import zwarning

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
REAL = [SHARED / "sdss", SHARED / "sdss_extra"]
SMALL_DELTA_CHI2 = 46.0  # the pipeline's reduced-chi2 gap of 0.01 on a BOSS spectrum


def parse(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def fit_all(source: SpectrumSource, model: TemplateFit, batch: int) -> dict[str, Any]:
    """Every spectrum of ``source`` fitted; the fit results concatenated and the fit time."""
    n = len(source)
    templates, settings = model.templates(), model.settings()
    # warm-up (template resampling, jit compilation) on one batch, not timed
    loglam0, step, f, w = prepare(source.read(np.arange(min(batch, n))))
    fit_spectra(loglam0, step, f, w, templates, settings)
    parts, subclass, fit_s = [], [], 0.0
    for start in range(0, n, batch):
        spectra = source.read(np.arange(start, min(start + batch, n)))
        subclass.append(np.asarray(spectra.meta.get("subclass", [""] * len(spectra.ids))))
        loglam0, step, f, w = prepare(spectra)
        t0 = time.perf_counter()
        parts.append(fit_spectra(loglam0, step, f, w, templates, settings))
        fit_s += time.perf_counter() - t0
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if "coverage" in out:
        rows, best = np.arange(n), out["chi2"].argmin(axis=1)
        out["zwarning"] = zwarning(out["chi2"], out["z_err"][rows, best], out["n_good"],
                                   out["coverage"])  # fmt: skip
    names = np.array(templates["STAR"].names, dtype=object)
    return {**out, "star_name": names[out["star"]], "subclass": np.concatenate(subclass),
            "fit_s": fit_s}  # fmt: skip


def measure(source: SpectrumSource, model: TemplateFit, batch: int) -> dict[str, Any]:
    """Fit all spectra of ``source``; figures against its labels and redshifts."""
    fit = fit_all(source, model, batch)
    n, chi2 = len(source), fit["chi2"]
    pred = chi2.argmin(axis=1)
    ranked = np.sort(chi2, axis=1)
    gap = ranked[:, 1] - ranked[:, 0]
    truth = np.array([FIT_CLASSES.index(str(c)) for c in source.labels])
    right = pred == truth
    recall = {
        c: float(right[truth == k].mean()) if (truth == k).any() else None
        for k, c in enumerate(FIT_CLASSES)
    }
    confusion = [[int(((truth == i) & (pred == j)).sum()) for j in range(3)] for i in range(3)]
    star_wrong = (truth == 0) & (pred != 0)
    white_dwarf = np.array([str(s).startswith(("WD", "CalciumWD")) for s in fit["star_name"]])
    failures = {
        "galaxy_called_qso": int(((truth == 1) & (pred == 2)).sum()),
        "star_called_qso_or_galaxy": int(star_wrong.sum()),
        "of_which_delta_chi2_lt_46": int((star_wrong & (gap < SMALL_DELTA_CHI2)).sum()),
        "galaxy_called_white_dwarf": int(((truth == 1) & (pred == 0) & white_dwarf).sum()),
    }
    z_true = np.asarray(source.redshift, np.float64)
    dz = np.abs(fit["z"][np.arange(n), pred] - z_true) / (1 + z_true)
    out = {
        "n": n,
        "counts": {c: int((truth == k).sum()) for k, c in enumerate(FIT_CLASSES)},
        "accuracy": float(right.mean()),
        "recall": recall,
        "confusion": confusion,
        "failures": failures,
        "dz_median": float(np.median(dz[right])) if right.any() else None,
        "catastrophic_correct": float((dz[right] > 0.01).mean()) if right.any() else None,
        "spectra_per_s": n / fit["fit_s"],
        "backend": model.settings().backend,
    }
    if "zwarning" in fit:
        flagged = fit["zwarning"] != 0
        out["flagged"] = int(flagged.sum())
        out["flagged_wrong"] = int((flagged & ~right).sum())
        out["accuracy_unflagged"] = float(right[~flagged].mean()) if (~flagged).any() else None
    galaxies = truth == 1
    kinds = sorted({str(s) for s in fit["subclass"][galaxies] if s})
    if kinds:
        out["galaxy_recall_by_subclass"] = {
            k: [int(right[galaxies & (fit["subclass"] == k)].sum()),
                int((galaxies & (fit["subclass"] == k)).sum())]
            for k in kinds
        }  # fmt: skip
    return out


def show(name: str, r: dict[str, Any]) -> None:
    rec = " ".join(f"{c}={v:.3f}" if v is not None else f"{c}=-" for c, v in r["recall"].items())
    print(f"{name}: {r['n']} spectra {r['counts']}, accuracy {r['accuracy']:.3f}  recall {rec}")
    print(f"  confusion (rows true S,G,Q; columns predicted): {r['confusion']}")
    print(f"  failures: {r['failures']}")
    if "flagged" in r:
        print(
            f"  flagged {r['flagged']} ({r['flagged_wrong']} of them wrong); accuracy of the "
            f"unflagged {r['accuracy_unflagged']}"
        )
    if "galaxy_recall_by_subclass" in r:
        print(f"  galaxy recall by subclass [right, all]: {r['galaxy_recall_by_subclass']}")
    print(f"  |dz|/(1+z): median {r['dz_median']:.2e} (correct class), > 0.01: "
          f"{r['catastrophic_correct']:.3f} of correct")  # fmt: skip
    print(f"  speed {r['spectra_per_s']:.1f} spectra/s ({r['backend']})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy", choices=("numpy", "jax"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--real", nargs="*", default=[str(p) for p in REAL], help="labelled folders")
    ap.add_argument("--synthetic", type=int, default=0, help="also fit N synthetic spectra")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic spectra")
    ap.add_argument("--option", action="append", default=[], help="template_fit option k=v")
    args = ap.parse_args()
    options = dict(kv.split("=", 1) for kv in args.option)
    model = TemplateFit(backend=args.backend, **{k: parse(v) for k, v in options.items()})
    out: dict[str, Any] = {"options": model.params}
    for folder in map(Path, args.real):
        if not folder.exists():
            print(f"{folder} not found: skipped")
            continue
        from bench_plugins.sdss.dataset import SdssDataset

        labels = folder / "labels.csv"
        params = {"labels_catalog": str(labels)} if labels.exists() else {}
        source = SdssDataset(path=[str(folder)], **params).open()
        out[folder.name] = measure(source, model, args.batch)
        show(folder.name, out[folder.name])
    if args.synthetic:
        from bench_plugins.synthetic import Synthetic

        source = Synthetic(n=args.synthetic, seed=args.seed).open()
        out["synthetic"] = measure(source, model, args.batch)
        show(f"synthetic seed {args.seed}", out["synthetic"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
