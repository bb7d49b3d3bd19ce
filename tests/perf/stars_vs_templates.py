"""Synthetic stars against the SDSS pipeline's stellar templates, type by type.

Run: .venv/bin/python tests/perf/stars_vs_templates.py [--n 4000] [--seed 2]
     [--dwarfs | --paired] [--option key=value ...]

Measures the realism features (colours, 4000 A break, line strengths:
``bench_plugins.synthetic.realism_features``) on the shipped spEigenStar templates and on
the noiseless synthetic stars (``source.model``: no noise, no sky; both at z = 0 on the
BOSS grid), and prints the median per spectral type F, G, K, M, templates above synthetic,
then one line of JSON. ``--dwarfs`` keeps the templates of luminosity class IV and V
(and unclassed ones, peculiar ones left out: ``dwarf_continuum.dwarf_template_types``) only: the
library is mostly giants and supergiants, SDSS's stars mostly dwarfs. The templates are
the pipeline's physics; this is how far the generator's stars are from them.

A population's median mixes in its Teff spread (the synthetic K stars are drawn
log-uniform in 3900-5200 K, the K templates are mostly K0-K3). ``--paired`` sets each
dwarf template beside a synthetic star of its type's Teff (``dwarf_continuum.DWARF_TEFF``; every
other draw at its median) and prints, per template and per type A/F/G/K/M, template minus
synthetic: the line strengths, and log10 broad-band flux ratios (bands over 5300-5600 A),
for the generator's stars, for its physical model before the continuum correction
(``dwarf_continuum``), and held
out (each template against the correction built without it); ``--n``, ``--seed`` and
``--option`` do not apply to it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bench.readers import find_template_file, read_template_file
from bench.spectra import SpectrumBatch, boss_grid
from bench_plugins.synthetic import Synthetic, dwarf_continuum, stars
from bench_plugins.synthetic.realism_features import feature_names, features
from bench_plugins.synthetic.template_files import SHIPPED_DIR

TYPES = ("F", "G", "K", "M")
EDGES = (3600, 3800, 4000, 4200, 4500, 4900, 5300, 5600, 6300, 7100, 7900, 8700, 9400)
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


def medians(values: np.ndarray) -> list[float | None]:
    out = []
    for column in values.T:
        finite = column[np.isfinite(column)]
        out.append(round(float(np.median(finite)), 3) if len(finite) else None)
    return out


def broad_bands(flux: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """log10 mean flux in the bands between EDGES over that in 5300-5600 A, (B, bands)."""
    ref = np.mean(flux[:, (lam >= 5300) & (lam < 5600)], axis=1)
    cells = [
        np.log10(np.mean(flux[:, (lam >= a) & (lam < b)], axis=1) / ref)
        for a, b in zip(EDGES[:-1], EDGES[1:], strict=True)
    ]
    return np.stack(cells, axis=1)


def paired(names: tuple[str, ...], t_loglam: np.ndarray, t_flux: np.ndarray) -> dict:
    """Template minus synthetic, each dwarf template beside a star of its Teff (see the
    module docstring); prints the table, returns the per-type medians. "held out": each
    template against the correction built without it (how the correction does on a star
    it has not seen)."""
    loglam = boss_grid()
    lam = np.power(10.0, loglam)
    picked = dwarf_continuum.dwarf_template_types(names)
    teff = np.array([dwarf_continuum.DWARF_TEFF[c][k] for _, c, k in picked], float)
    real = np.array([np.interp(loglam, t_loglam, t_flux[i]) for i, _, _ in picked])
    u, z = stars.typical(teff), np.zeros(len(teff))
    uncorrected = np.asarray(stars.physical(loglam, z, u)[0])
    held = np.concatenate([
        uncorrected[j : j + 1] * dwarf_continuum.correction(
            loglam, z[:1], teff[j : j + 1], np.zeros(1, bool),
            dwarf_continuum.correction_table(names, t_loglam, t_flux, stars.typical_model, i),
        )
        for j, (i, _, _) in enumerate(picked)
    ])  # fmt: skip
    model = np.asarray(stars.stars(loglam, z, u)[0])
    columns = [c for c in COLUMNS if not c.startswith("colour_")]
    lines = [feature_names().index(c) for c in columns]

    diffs = {
        "lines": features(noiseless(real, loglam))[:, lines]
        - features(noiseless(model, loglam))[:, lines],
        "bands": broad_bands(real, lam) - broad_bands(model, lam),
        "bands_uncorrected": broad_bands(real, lam) - broad_bands(uncorrected, lam),
        "bands_held_out": broad_bands(real, lam) - broad_bands(held, lam),
    }
    print(f"{'template':20s} {'Teff':>5s} " + " ".join(f"{c.removeprefix('ew_'):>6s}" for c in columns)
          + " | bands " + " ".join(f"{e:>6d}" for e in EDGES[:-1]))  # fmt: skip
    for j, (i, _, _) in enumerate(picked):
        print(f"{names[i][:20]:20s} {teff[j]:5.0f} "
              + " ".join(f"{v:+6.2f}" for v in diffs["lines"][j])
              + " |       " + " ".join(f"{v:+6.3f}" for v in diffs["bands"][j]))  # fmt: skip
    out = {}
    pad = " " * (7 * len(columns) - 2)
    for kind in ("A", "F", "G", "K", "M"):
        rows = [j for j, p in enumerate(picked) if p[1] == kind]
        if not rows:
            continue
        med = {key: np.median(d[rows], axis=0) for key, d in diffs.items()}
        med |= {
            f"abs_{key}": np.median(np.abs(diffs[key][rows]), axis=0)
            for key in diffs
            if key != "lines"
        }
        print(f"{kind} median ({len(rows):2d})      " + " ".join(f"{v:+6.2f}" for v in med["lines"])
              + " |       " + " ".join(f"{v:+6.3f}" for v in med["bands"]))  # fmt: skip
        for key, label in (("bands_uncorrected", "uncorrected"), ("abs_bands_uncorrected", "|d| uncorr."),
                           ("abs_bands_held_out", "|d| held out")):  # fmt: skip
            sign = "" if key.startswith("abs_") else "+"
            print(
                f"{kind} {label:16s}{pad} |       " + " ".join(f"{v:{sign}6.3f}" for v in med[key])
            )
        out[kind] = {
            "templates": len(rows),
            "lines": dict(zip(columns, np.round(med.pop("lines"), 3).tolist(), strict=True)),
        }
        out[kind] |= {key: np.round(v, 4).tolist() for key, v in med.items()}
    return {"paired": True, "band_edges_A": list(EDGES), "types": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="synthetic spectra (a third are stars)")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--dwarfs", action="store_true", help="templates of class IV and V only")
    ap.add_argument("--paired", action="store_true", help="each dwarf beside a star of its Teff")
    ap.add_argument("--option", action="append", default=[], help="synthetic option k=v")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.option)}
    loglam = boss_grid()
    names = feature_names()
    picked = [names.index(c) for c in COLUMNS]
    templates = read_template_file(find_template_file(SHIPPED_DIR, "STAR", "--templates"), "STAR")
    if args.paired:
        print(json.dumps(paired(templates.names, templates.loglam, templates.flux)))
        return
    dwarfs = {i for i, _, _ in dwarf_continuum.dwarf_template_types(templates.names)}
    on_grid = np.array(
        [np.interp(loglam, templates.loglam, f, left=np.nan, right=np.nan) for f in templates.flux]
    )
    measured_t = features(noiseless(on_grid, loglam))[:, picked]
    source = Synthetic(n=args.n, seed=args.seed, class_mix="balanced", **options).open()
    star_rows = np.flatnonzero(source.labels == "STAR")
    subclass = np.asarray(source.read(star_rows).meta["subclass"]).astype(str)
    measured_s = features(noiseless(np.asarray(source.model(star_rows)), loglam))[:, picked]
    print(f"{'':18s} " + " ".join(f"{c.replace('colour_', 'c')[:10]:>10s}" for c in COLUMNS))
    result = {}
    for kind in TYPES:
        rows = [
            i
            for i, name in enumerate(templates.names)
            if name.startswith(kind) and (not args.dwarfs or i in dwarfs)
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
