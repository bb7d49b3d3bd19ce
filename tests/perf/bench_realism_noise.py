"""The synthetic instrument against real BOSS spectra: the median error curve
sigma(lambda) / its red-arm median in 400 A bins, and the red arm's residual statistics
(lag-1 and lag-2 correlation and mean square of the noise-normalised residual from a
15-pixel running median), per class, real (../shared/data) vs synthetic; then, all
classes pooled (instrument properties): the mean square of faint spectra (S/N < 3) in
three blue bins (observe.BLUE_EXCESS), the quartiles of their arms' noise ratio
(observe.SKY_TILT) and the pixels without measurement inside the covered range per
spectrum (observe.SKY_REJECT_LEVEL, STRAY_REJECT, REJECT_SPREAD). Prints tables and one
JSON line. Usage: python tests/perf/bench_realism_noise.py [N_SYNTHETIC]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from bench.plugins.manager import get_registry

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BINS = np.arange(3600, 10400, 400)
CLASSES = ("STAR", "GALAXY", "QSO")


def error_curve(loglam: np.ndarray, ivar: np.ndarray) -> np.ndarray | None:
    """sigma in each 400 A bin over its 6200-9000 A median (None: too few good pixels)."""
    lam = 10 ** np.asarray(loglam, np.float64)
    good = ivar > 0
    if good.sum() < 500:
        return None
    sigma = np.where(good, 1 / np.sqrt(np.where(good, ivar, 1.0)), np.nan)
    ref = np.nanmedian(sigma[(lam > 6200) & (lam < 9000)])
    if not np.isfinite(ref) or ref <= 0:
        return None
    out = []
    for lo in BINS:
        sel = good & (lam >= lo) & (lam < lo + 400)
        out.append(np.median(sigma[sel]) / ref if sel.any() else np.nan)
    return np.array(out)


def residual_stats(loglam: np.ndarray, flux: np.ndarray, ivar: np.ndarray) -> tuple | None:
    """(lag-1, lag-2 correlation, mean square) of the red arm's normalised residuals."""
    from bench_plugins.synthetic.realism_features import _running_median

    lam = 10 ** np.asarray(loglam, np.float64)
    good = ivar > 0
    sel = good & (lam > 6200) & (lam < 9000)
    if sel.sum() < 500:
        return None
    r = np.zeros(len(flux))
    r[good] = (flux[good] - _running_median(flux[good], 15)) * np.sqrt(ivar[good])
    x = np.where(sel, r, np.nan)
    lags = []
    for k in (1, 2):
        a, b = x[:-k], x[k:]
        m = np.isfinite(a) & np.isfinite(b)
        lags.append(float(np.corrcoef(a[m], b[m])[0, 1]))
    return (*lags, float(np.nanmean(x**2)))


def summarise(batch) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    boss = np.array([np.flatnonzero(row > 0)[:1].tolist() or [10**9] for row in batch.ivar])[:, 0]
    for c in CLASSES:
        rows = np.flatnonzero((batch.labels == c) & (boss < 200))  # BOSS coverage from 3600 A
        curves = [error_curve(batch.loglam, batch.ivar[i]) for i in rows]
        stats = [residual_stats(batch.loglam, batch.flux[i], batch.ivar[i]) for i in rows]
        curves = [v for v in curves if v is not None]
        stats = [v for v in stats if v is not None]
        if not curves:
            continue
        out[c] = {
            "n": len(curves),
            "error_curve": np.round(np.nanmedian(curves, axis=0), 3).tolist(),
            "lag1_lag2_meansq": np.round(np.median(stats, axis=0), 3).tolist() if stats else None,
        }
    return out


BLUE_BINS = ((3700, 4300), (4300, 5000), (5000, 5800))


def pooled(batch) -> dict[str, object]:
    """All classes' BOSS-coverage spectra: faint ones' blue mean squares and noise ratio
    quartiles, and rejected pixels per spectrum (mean, variance) inside the coverage."""
    from bench_plugins.synthetic.realism_features import _running_median

    lam = 10 ** np.asarray(batch.loglam, np.float64)
    meansq: list[list[float]] = [[] for _ in BLUE_BINS]
    ratio, holes = [], []
    for i in range(len(batch)):
        good = batch.ivar[i] > 0
        idx = np.flatnonzero(good)
        if len(idx) < 500 or lam[idx[0]] > 3700 or lam[idx[-1]] < 10000:
            continue
        holes.append(int((~good[idx[0] : idx[-1] + 1]).sum()))
        if batch.snr[i] >= 3:
            continue
        z = float(batch.redshift[i]) if np.isfinite(batch.redshift[i]) else 0.0
        r = np.full(len(lam), np.nan)
        flux = np.asarray(batch.flux[i][good], np.float64)
        r[good] = (flux - _running_median(flux, 15)) * np.sqrt(batch.ivar[i][good])
        for k, (lo, hi) in enumerate(BLUE_BINS):
            sel = (lam > lo) & (lam < hi) & (lam > 1250 * (1 + z)) & good
            if sel.sum() > 300:
                meansq[k].append(float(np.mean(r[sel] ** 2)))
        sigma = 1 / np.sqrt(batch.ivar[i][good])
        red, blue = (lam[good] > 6200) & (lam[good] < 9000), (lam[good] > 3800) & (lam[good] < 5800)
        ratio.append(float(np.log10(np.median(sigma[red]) / np.median(sigma[blue]))))
    return {
        "n": len(holes),
        "faint_blue_meansq": [round(float(np.median(v)), 3) if v else None for v in meansq],
        "faint_noise_red_blue_quartiles": np.round(np.percentile(ratio, [25, 50, 75]), 3).tolist()
        if ratio
        else None,
        "rejected_per_spectrum_mean_var": [
            round(float(np.mean(holes)), 2),
            round(float(np.var(holes)), 2),
        ]
        if holes
        else None,
    }


def main(n: int = 900) -> None:
    registry = get_registry()
    real: dict[str, dict[str, object]] = {}
    folders = [str(DATA / f) for f in ("sdss", "sdss_extra") if (DATA / f).is_dir()]
    real_pooled = None
    if folders:
        source = registry.create("dataset", "sdss", {"path": folders}, "real").open()
        batch = source.read(np.arange(len(source.ids)))
        real, real_pooled = summarise(batch), pooled(batch)
    params = {"n": n, "class_mix": "balanced", "snr_scale_max": 4.0}
    source = registry.create("dataset", "synthetic", params, "synthetic").open()
    batch = source.read(np.arange(n))
    synthetic, synthetic_pooled = summarise(batch), pooled(batch)
    print("bin            " + " ".join(f"{lo:6d}" for lo in BINS))
    for c in CLASSES:
        for name, table in (("real", real), ("synthetic", synthetic)):
            if c in table:
                v = table[c]
                curve = " ".join(f"{x:6.2f}" for x in v["error_curve"])  # type: ignore[union-attr]
                print(
                    f"{c:6s} {name:9s} n={v['n']:<4} {curve}  red lag1/lag2/msq {v['lag1_lag2_meansq']}"
                )
    print(f"all classes pooled (BOSS coverage; S/N < 3 for the mean squares in {BLUE_BINS} A):")
    for name, v in (("real", real_pooled), ("synthetic", synthetic_pooled)):
        if v is not None:
            print(f"  {name:9s} {v}")
    print(
        json.dumps(
            {
                "bins_A": BINS.tolist(), "real": real, "synthetic": synthetic,
                "pooled": {"real": real_pooled, "synthetic": synthetic_pooled},
            }
        )
    )  # fmt: skip


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
