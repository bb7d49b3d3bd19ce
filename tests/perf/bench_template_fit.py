"""template_fit on real SDSS spectra and synthetic ones: accuracy, per-class recall, the
failure kinds of issue 25, redshift error, speed.

Run: .venv/bin/python tests/perf/bench_template_fit.py [--backend numpy|jax] [--batch 32]
     [--real FOLDER ...] [--synthetic N] [--seed S] [--option key=value ...]
     [--compare-penalties] [--compare-backends]

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
``--compare-penalties`` ranks the same fits by every ``complexity_penalty`` (none, aic,
bic, rchi2) and prints each one's figures (before/after in one sitting: the fits do not
depend on it). ``--compare-backends`` times the numpy and the jax backend (on whatever
device jax sees) on the same spectra in the same run and prints spectra/s of each and
their ratio jax/numpy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.spectra import SpectrumSource
from bench_plugins.models.template_fit import TemplateFit
from bench_plugins.models.template_fit.criterion import PENALTIES, class_scores
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
    if settings.backend == "jax":
        f, w = (np.resize(a, (batch, a.shape[1])) for a in (f, w))
    fit_spectra(loglam0, step, f, w, templates, settings, chunk=batch)
    parts, subclass, fit_s = [], [], 0.0
    for start in range(0, n, batch):
        spectra = source.read(np.arange(start, min(start + batch, n)))
        subclass.append(np.asarray(spectra.meta.get("subclass", [""] * len(spectra.ids))))
        loglam0, step, f, w = prepare(spectra)
        rows = len(f)
        if settings.backend == "jax" and rows < batch:  # one compiled shape, as the model
            f = np.concatenate([f, np.zeros((batch - rows, f.shape[1]))])
            w = np.concatenate([w, np.zeros((batch - rows, w.shape[1]))])
        t0 = time.perf_counter()
        part = fit_spectra(loglam0, step, f, w, templates, settings, chunk=batch)
        fit_s += time.perf_counter() - t0
        parts.append({k: v[:rows] for k, v in part.items()})
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    names = np.array(templates["STAR"].names, dtype=object)
    return {**out, "star_name": names[out["star"]], "subclass": np.concatenate(subclass),
            "fit_s": fit_s}  # fmt: skip


def flags(fit: dict[str, Any], score: np.ndarray) -> np.ndarray:
    """ZWARNING of each fitted spectrum, the classes ranked by ``score``."""
    rows, best = np.arange(len(score)), score.argmin(axis=1)
    star_or_qso = best != FIT_CLASSES.index("GALAXY")
    return zwarning(
        score, fit["z_err"][rows, best], fit["n_good"], fit["coverage"],
        fit["outliers"][rows, best], star_or_qso & fit["negative"][rows, best],
    )  # fmt: skip


def measure(source: SpectrumSource, model: TemplateFit, batch: int) -> dict[str, Any]:
    """Fit all spectra of ``source``; figures against its labels and redshifts."""
    fit = fit_all(source, model, batch)
    return figures(source, fit, model.params["complexity_penalty"], model.settings().backend)


def figures(
    source: SpectrumSource, fit: dict[str, Any], penalty: str, backend: str
) -> dict[str, Any]:
    """Figures of the fits ``fit`` of ``source``, the classes ranked with ``penalty``."""
    n = len(source)
    chi2 = class_scores(fit["chi2"], fit["n_params"], fit["n_good"], penalty)
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
        "backend": backend,
        "complexity_penalty": penalty,
    }
    warn = flags(fit, chi2)
    flagged = warn != 0
    out["flagged"] = int(flagged.sum())
    out["flagged_wrong"] = int((flagged & ~right).sum())
    out["accuracy_unflagged"] = float(right[~flagged].mean()) if (~flagged).any() else None
    out["flag_counts"] = {
        name: int(((warn & bit) != 0).sum())
        for name, bit in (("SMALL_DELTA_CHI2", 4), ("NEGATIVE_MODEL", 8), ("MANY_OUTLIERS", 16),
                          ("Z_FITLIMIT", 32), ("LITTLE_COVERAGE", 2), ("NODATA", 512))
    }  # fmt: skip
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
    print(f"  flag counts: {r['flag_counts']}")
    if "galaxy_recall_by_subclass" in r:
        print(f"  galaxy recall by subclass [right, all]: {r['galaxy_recall_by_subclass']}")
    print(f"  |dz|/(1+z): median {r['dz_median']:.2e} (correct class), > 0.01: "
          f"{r['catastrophic_correct']:.3f} of correct")  # fmt: skip
    print(f"  speed {r['spectra_per_s']:.1f} spectra/s ({r['backend']})")


def brief(penalty: str, r: dict[str, Any]) -> None:
    """One line of figures of one penalty."""
    rec = " ".join(f"{c}={v:.3f}" if v is not None else f"{c}=-" for c, v in r["recall"].items())
    f = r["failures"]
    print(f"  complexity_penalty={penalty:<5}: accuracy {r['accuracy']:.3f}  recall {rec}  "
          f"stars called QSO/GALAXY {f['star_called_qso_or_galaxy']}, galaxies called QSO "
          f"{f['galaxy_called_qso']}, flagged {r['flagged']}")  # fmt: skip


def run_source(name: str, source: SpectrumSource, model: TemplateFit, args: Any) -> dict[str, Any]:
    """The figures of one data set: with the model's penalty, and with ``--compare-*``
    every penalty on the same fits and the speed of both backends on the same spectra."""
    fit = fit_all(source, model, args.batch)
    backend = model.settings().backend
    out = figures(source, fit, model.params["complexity_penalty"], backend)
    show(name, out)
    if args.compare_penalties:
        out["by_penalty"] = {}
        for penalty in PENALTIES:
            out["by_penalty"][penalty] = figures(source, fit, penalty, backend)
            brief(penalty, out["by_penalty"][penalty])
    if args.compare_backends:
        speed = {backend: out["spectra_per_s"]}
        for other in ("numpy", "jax"):
            if other not in speed:
                twin = TemplateFit(**{**model.params, "backend": other})
                speed[other] = len(source) / fit_all(source, twin, args.batch)["fit_s"]
        out["backends"] = {**speed, "ratio_jax_numpy": speed["jax"] / speed["numpy"]}
        print(f"  backends: numpy {speed['numpy']:.1f} spectra/s, jax {speed['jax']:.1f} "
              f"spectra/s, jax/numpy {out['backends']['ratio_jax_numpy']:.2f}")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy", choices=("numpy", "jax"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--real", nargs="*", default=[str(p) for p in REAL], help="labelled folders")
    ap.add_argument("--synthetic", type=int, default=0, help="also fit N synthetic spectra")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic spectra")
    ap.add_argument("--option", action="append", default=[], help="template_fit option k=v")
    ap.add_argument("--compare-penalties", action="store_true", help="figures per penalty")
    ap.add_argument("--compare-backends", action="store_true", help="numpy and jax speed")
    args = ap.parse_args()
    bad = [kv for kv in args.option if "=" not in kv]
    if bad:
        print(f"--option {bad[0]!r}: expected key=value", file=sys.stderr)
        raise SystemExit(2)
    options = dict(kv.split("=", 1) for kv in args.option)
    try:
        model = TemplateFit(backend=args.backend, **{k: parse(v) for k, v in options.items()})
    except BenchError as exc:
        print(f"--option: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    out: dict[str, Any] = {"options": model.params}
    for folder in map(Path, args.real):
        if not folder.exists():
            print(f"{folder} not found: skipped")
            continue
        from bench_plugins.sdss.dataset import SdssDataset

        labels = folder / "labels.csv"
        params = {"labels_catalog": str(labels)} if labels.exists() else {}
        source = SdssDataset(path=[str(folder)], **params).open()
        out[folder.name] = run_source(folder.name, source, model, args)
    if args.synthetic:
        from bench_plugins.synthetic import Synthetic

        source = Synthetic(n=args.synthetic, seed=args.seed).open()
        out["synthetic"] = run_source(f"synthetic seed {args.seed}", source, model, args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
