"""Synthetic stars against the SDSS pipeline's stellar templates, type by type.

Run: .venv/bin/python tests/perf/stars_vs_templates.py [--n 4000] [--seed 2]
     [--dwarfs] [--option key=value ...]

Measures the realism features (colours, 4000 A break, line strengths:
``bench_plugins.synthetic.realism_features``) on the shipped spEigenStar templates and on
the noiseless synthetic stars (``source.model``: no noise, no sky; both at z = 0 on the
BOSS grid), and prints the median per spectral type F, G, K, M, templates above synthetic,
then one line of JSON. ``--dwarfs`` keeps the templates of luminosity class IV and V
(and unclassed ones) only: the library is mostly giants and supergiants, SDSS's stars
mostly dwarfs. The templates are the pipeline's physics; this is how far the generator's
stars are from them.
"""

from __future__ import annotations

import argparse
import json
import re

import numpy as np

from bench.readers import find_template_file, read_template_file
from bench.spectra import SpectrumBatch, boss_grid
from bench_plugins.synthetic import Synthetic
from bench_plugins.synthetic.realism_features import feature_names, features
from bench_plugins.synthetic.template_files import SHIPPED_DIR

TYPES = ("F", "G", "K", "M")
COLUMNS = [n for n in feature_names() if n.startswith("colour_")]
COLUMNS += ["d4000", "ew_CaK", "ew_Hdelta", "ew_Hbeta", "ew_Mgb", "ew_NaD", "ew_Halpha"]


def noiseless(flux: np.ndarray, loglam: np.ndarray) -> SpectrumBatch:
    """``flux`` (N, P) at z = 0 on ``loglam``, every finite pixel good."""
    good = np.isfinite(flux)
    n = len(flux)
    return SpectrumBatch(
        ids=np.arange(n),
        loglam=loglam,
        flux=np.where(good, flux, 0.0).astype(np.float32),
        ivar=good.astype(np.float32),
        mask=np.zeros(flux.shape, np.int32),
        labels=np.array(["STAR"] * n, dtype=object),
        redshift=np.zeros(n),
        snr=np.full(n, 100.0),
    )


def dwarf_or_subgiant(name: str) -> bool:
    """A template named with luminosity class IV or V, or with none (``M1``, ``K5``)."""
    found = re.search(r"IV|V|I", name.split(" ")[0])  # the first class letter: I.., IV or V
    return found is None or found.group() in ("IV", "V")


def medians(values: np.ndarray) -> list[float | None]:
    out = []
    for column in values.T:
        finite = column[np.isfinite(column)]
        out.append(round(float(np.median(finite)), 3) if len(finite) else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="synthetic spectra (a third are stars)")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--dwarfs", action="store_true", help="templates of class IV and V only")
    ap.add_argument("--option", action="append", default=[], help="synthetic option k=v")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.option)}
    loglam = boss_grid()
    names = feature_names()
    picked = [names.index(c) for c in COLUMNS]
    templates = read_template_file(find_template_file(SHIPPED_DIR, "STAR", "--templates"), "STAR")
    on_grid = np.array(
        [np.interp(loglam, templates.loglam, f, left=np.nan, right=np.nan) for f in templates.flux]
    )
    measured_t = features(noiseless(on_grid, loglam))[:, picked]
    source = Synthetic(n=args.n, seed=args.seed, class_mix="balanced", **options).open()
    stars = np.flatnonzero(source.labels == "STAR")
    subclass = np.asarray(source.read(stars).meta["subclass"]).astype(str)
    measured_s = features(noiseless(np.asarray(source.model(stars)), loglam))[:, picked]
    print(f"{'':18s} " + " ".join(f"{c.replace('colour_', 'c')[:10]:>10s}" for c in COLUMNS))
    result = {}
    for kind in TYPES:
        rows = [
            i
            for i, name in enumerate(templates.names)
            if name.startswith(kind) and (not args.dwarfs or dwarf_or_subgiant(name))
        ]
        mine = subclass == kind
        t_med, s_med = medians(measured_t[rows]), medians(measured_s[mine])
        result[kind] = {"templates": len(rows), "synthetic": int(mine.sum()),
                        "template_median": dict(zip(COLUMNS, t_med, strict=True)),
                        "synthetic_median": dict(zip(COLUMNS, s_med, strict=True))}  # fmt: skip
        for label, meds, count in (
            ("templates", t_med, len(rows)),
            ("synthetic", s_med, mine.sum()),
        ):
            cells = " ".join(f"{'-' if v is None else f'{v:.3f}':>10s}" for v in meds)
            print(f"{kind} {label:9s} {count:4d} {cells}")
    print(json.dumps({"options": options, "dwarfs": args.dwarfs, "types": result}))


if __name__ == "__main__":
    main()
