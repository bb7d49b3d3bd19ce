"""The synthetic instrument against real BOSS spectra: the median error curve
sigma(lambda) / its red-arm median in 400 A bins, and the red arm's residual statistics
(lag-1 and lag-2 correlation and mean square of the noise-normalised residual from a
15-pixel running median), per class, real (../shared/data) vs synthetic. Prints a table
and one JSON line. Usage: python tests/perf/bench_realism_noise.py [N_SYNTHETIC]"""

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


def main(n: int = 900) -> None:
    registry = get_registry()
    real: dict[str, dict[str, object]] = {}
    for folder in ("sdss", "sdss_extra"):
        if not (DATA / folder).is_dir():
            continue
        params = {"path": str(DATA / folder), "labels_catalog": str(DATA / folder / "labels.csv")}
        source = registry.create("dataset", "sdss", params, folder).open()
        for c, v in summarise(source.read(np.arange(len(source.ids)))).items():
            real.setdefault(c, v) if c not in real else None
    params = {"n": n, "class_mix": "balanced", "snr_scale_max": 4.0}
    source = registry.create("dataset", "synthetic", params, "synthetic").open()
    synthetic = summarise(source.read(np.arange(n)))
    print("bin            " + " ".join(f"{lo:6d}" for lo in BINS))
    for c in CLASSES:
        for name, table in (("real", real), ("synthetic", synthetic)):
            if c in table:
                v = table[c]
                curve = " ".join(f"{x:6.2f}" for x in v["error_curve"])  # type: ignore[union-attr]
                print(
                    f"{c:6s} {name:9s} n={v['n']:<4} {curve}  red lag1/lag2/msq {v['lag1_lag2_meansq']}"
                )
    print(json.dumps({"bins_A": BINS.tolist(), "real": real, "synthetic": synthetic}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
