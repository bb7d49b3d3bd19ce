"""Low-z broad-line AGN: where the pipeline's template fit stops calling them QSO, and how
their lines and host light compare with real ones.

Run: .venv/bin/python tests/perf/seyfert_hosts.py [--shares 0.5 0.8 0.9 0.95 0.98]
     [--n 900] [--real ../shared/data/sdss ../shared/data/sdss_extra]

1. For each host share (of the light at 5100 A rest), a synthetic set whose quasars are all
   the low-z component (``lowz_qso_fraction = 1``; the sim-to-real preset's instrument),
   every quasar below z = 0.4 given that share (``quasars.seyfert_host`` replaced), is
   classified by ``template_fit`` (the SDSS pipeline's method and templates) through
   ``bench run``; prints the share of z < 0.3 quasars it calls QSO. SDSS's labels are the
   pipeline's, so beyond the share where it stops calling them QSO a synthetic "QSO" is a
   galaxy to the pipeline.
   Then every galaxy below ``galaxies.BROADLINE_Z`` is given its weak broad-line AGN
   (``galaxies.BROADLINE_SHARE`` = 1): prints the share of them the template fit still calls
   GALAXY, as the pipeline calls most such objects (its "BROADLINE" galaxy subclass).
2. Line and host measures (rest frame: H-alpha over 6450-6680 A, its wings, the H-beta
   wings, [O III] 5007, Ca II K, all against a linear continuum; log flux ratios
   4050-4250 / 5400-5700 A and 4050-4250 / 3750-3950 A) of the generator's quasars below
   z = 0.2 (the preset's own options) and, with ``--real``, of the real ones in the folders.

Prints a table per part and one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.spectra import SpectrumBatch

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[benchmark]
name = "seyfert-hosts"
classes = ["STAR", "GALAXY", "QSO"]
[dataset]
name = "synthetic"
n = {n}
seed = 5
class_mix = "balanced"
snr_scale_max = 4.0
legacy_fraction = 0.5
lowz_qso_fraction = 1.0
[[preprocess]]
name = "mask"
[render]
name = "none"
[[models]]
name = "template_fit"
calibration_size = 100
[protocol]
train_fractions = [0.5]
epochs = [1]
seeds = [0]
"""


def template_fit_calls(n: int, label: str, z_max: float, patch: Callable[[], None]) -> list[str]:
    """``template_fit``'s classes for the synthetic objects of ``label`` below ``z_max`` of
    a set of ``n`` spectra (CONFIG) drawn after ``patch()``; ``bench run`` in a temporary
    folder. The caller restores what ``patch`` changed."""
    import csv

    from bench.cli.main import main

    patch()
    with tempfile.TemporaryDirectory() as tmp:
        config, run = Path(tmp) / "seyfert.toml", Path(tmp) / "run"
        config.write_text(CONFIG.format(n=n))
        if main(["run", str(config), "--out", str(run)]) != 0:
            raise SystemExit(f"bench run failed ({config.read_text()})")
        (table,) = run.glob("cells/*/predictions.csv")
        with table.open() as f:
            return [
                r["predicted"]
                for r in csv.DictReader(f)
                if r["true"] == label and float(r["redshift"]) < z_max
            ]


def pipeline_recall(shares: list[float], n: int) -> dict[str, float]:
    """Share of z < 0.3 synthetic quasars template_fit calls QSO, per forced host share."""
    from bench_plugins.synthetic import quasars

    original = quasars.seyfert_host
    out: dict[str, float] = {}
    try:
        for share in shares:

            def fixed(f_host: np.ndarray, weight: np.ndarray, u: np.ndarray) -> np.ndarray:
                return np.where(weight > 0, share, f_host)  # noqa: B023

            calls = template_fit_calls(
                n, "QSO", 0.3, lambda: setattr(quasars, "seyfert_host", fixed)
            )
            out[str(share)] = calls.count("QSO") / len(calls)
            print(f"host share {share:5.2f}: {out[str(share)]:.2f} of {len(calls)} called QSO")
    finally:
        quasars.seyfert_host = original
    return out


def broadline_galaxies_kept(n: int) -> float:
    """Share of z < BROADLINE_Z synthetic galaxies, each with its weak broad-line AGN,
    that template_fit calls GALAXY."""
    from bench_plugins.synthetic import galaxies

    share = galaxies.BROADLINE_SHARE
    try:
        calls = template_fit_calls(
            n, "GALAXY", galaxies.BROADLINE_Z, lambda: setattr(galaxies, "BROADLINE_SHARE", 1.0)
        )
    finally:
        galaxies.BROADLINE_SHARE = share
    kept = calls.count("GALAXY") / len(calls)
    print(f"galaxies with a weak broad-line AGN: {kept:.2f} of {len(calls)} called GALAXY")
    return kept


def measures(batch: SpectrumBatch, i: int) -> dict[str, float]:
    """The line and host measures of spectrum ``i`` (NaN where not covered)."""
    lam = 10**batch.loglam / (1.0 + batch.redshift[i])
    flux = batch.flux[i]
    # ivar > 0 only: SDSS-I/II files flag emission-line pixels in their mask (bit 30, EMLINE),
    # and BRIGHTSKY pixels keep their ivar; excluding every flagged pixel dropped the cores
    # of the real quasars' [O III] and H-alpha (their [O III] read 4.9 A instead of 15.4)
    good = batch.ivar[i] > 0

    def level(lo: float, hi: float) -> float:
        s = good & (lam > lo) & (lam < hi)
        return float(np.median(flux[s])) if s.sum() > 3 else np.nan

    def ew(lo: float, hi: float, left: tuple[int, int], right: tuple[int, int]) -> float:
        a, b = level(*left), level(*right)
        s = good & (lam > lo) & (lam < hi)
        if s.sum() < 3:
            return np.nan
        x = lam[s]
        cont = a + (b - a) * (x - np.mean(left)) / (np.mean(right) - np.mean(left))
        return float(np.sum((flux[s] - cont) / cont * np.gradient(x)))

    red, blue = ((6150, 6250), (6800, 6900)), ((4600, 4700), (5080, 5150))
    return {
        "Halpha": ew(6450, 6680, *red),
        "Halpha_wings": ew(6460, 6535, *red) + ew(6595, 6670, *red),
        "Hbeta_wings": ew(4790, 4845, *blue) + ew(4880, 4935, *blue),
        "OIII": ew(4995, 5020, *blue),
        "CaK": ew(3925, 3945, (3900, 3920), (3950, 3965)),
        "colour_4150_5550": float(np.log10(level(4050, 4250) / level(5400, 5700))),
        "d4000": float(np.log10(level(4050, 4250) / level(3750, 3950))),
    }


def quartiles(batch: SpectrumBatch, rows: np.ndarray) -> dict[str, list[float]]:
    table = [measures(batch, int(i)) for i in rows]
    out = {}
    for key in table[0] if table else []:
        v = np.array([t[key] for t in table], float)
        v = v[np.isfinite(v)]
        out[key] = [round(float(q), 2) for q in np.percentile(v, [25, 50, 75])] if len(v) else []
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.5, 0.8, 0.9, 0.95, 0.98])
    parser.add_argument("--n", type=int, default=900, help="spectra per forced share")
    parser.add_argument("--real", nargs="*", default=[], help="folders of real spectra")
    args = parser.parse_args()

    import tomllib

    from bench_plugins.sdss.dataset import SdssDataset
    from bench_plugins.synthetic import Synthetic

    recall = pipeline_recall(args.shares, args.n)
    kept = broadline_galaxies_kept(args.n)
    params = tomllib.loads((ROOT / "presets" / "sim_to_real.toml").read_text())["dataset"]
    params.pop("name")
    source = Synthetic(**params).open()
    batch = source.read(np.arange(len(source)))
    groups = {
        "synthetic": (batch, np.flatnonzero((batch.labels == "QSO") & (batch.redshift < 0.2)))
    }
    if args.real:
        real = SdssDataset(path=args.real).open()
        rb = real.read(np.arange(len(real)))
        groups["real"] = (rb, np.flatnonzero((rb.labels == "QSO") & (rb.redshift < 0.2)))
    result: dict[str, object] = {"pipeline_qso_recall": recall, "broadline_galaxies_kept": kept}
    for name, (b, rows) in groups.items():
        q = quartiles(b, rows)
        result[name] = {"n": len(rows), **q}
        print(f"\n{name} QSO z < 0.2 ({len(rows)}): quartiles 25 / 50 / 75 %")
        for key, values in q.items():
            print(f"  {key:17s} " + " / ".join(f"{v:8.2f}" for v in values))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
