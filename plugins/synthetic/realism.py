"""How real do synthetic spectra look? A discriminator trained to tell them apart.

``realism_report(synthetic, real)`` takes two :class:`bench.spectra.SpectrumSource`
(for example ``Synthetic(...).open()`` and the ``sdss`` dataset's source) and, for each
class, matches every real spectrum with ``per_real`` synthetic ones of the same class at
the nearest redshift and S/N, describes all of them with simple, interpretable features
that do not depend on the flux scale, and cross-validates a random forest (scikit-learn)
that tells real from synthetic. It returns, per class, the out-of-fold ROC-AUC (0.5: the
classifier cannot tell them apart; 1.0: every synthetic spectrum gives itself away) and
the features that give the synthetic spectra away (the forest's mean impurity
importance), each with its median among real and synthetic spectra::

    {"classes": {"QSO": {"auc": 0.71, "auc_folds": [...], "n_real": 120, "n_synthetic": 360,
                         "top_features": [{"name": "colour_8400_10300", "importance": 0.08,
                                           "real_median": ..., "synthetic_median": ...}, ...]},
                 ...},
     "all": {...the same over all classes together...},
     "features": [every feature name], "settings": {...}}

Features (see :func:`features`): broad-band colours across the observed range and across
the two spectrograph arms and the dichroic, noise level and its blue/red balance, masked
fractions and the first and last good wavelength, excess scatter about a running median
(the noise model, sky-subtraction residuals at 5577 A and in the OH forest), the fraction
of negative pixels, and, at the catalogue redshift, rest-frame equivalent widths of the
main lines (Ly-alpha to H-alpha, Ca II K, Mg b, Na D) and the 4000 A break.

The real spectra are only measured here: nothing of them goes into the generator.
With few real spectra of a class the AUC is noisy (``n_real`` says how many); below
``min_real`` real spectra a class gets ``auc = None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.spectra import SpectrumBatch, SpectrumSource

CLASSES = ("STAR", "GALAXY", "QSO")
# observed-frame bands (A) for colours; the BOSS dichroic is at ~6000 A
BANDS = [(3600, 4200), (4200, 4900), (4900, 5600), (5600, 6300), (6300, 7100), (7100, 7900),
         (7900, 8700), (8700, 9500), (9500, 10300)]  # fmt: skip
# rest-frame lines (A) and half-widths of the line window (A)
LINES = [("LyA", 1215.7, 40), ("CIV", 1549.1, 40), ("CIII", 1908.7, 40), ("MgII", 2799.1, 40),
         ("OII", 3728.5, 12), ("CaK", 3934.8, 10), ("Hdelta", 4102.9, 12), ("Hbeta", 4862.7, 25),
         ("OIII", 5008.2, 10), ("Mgb", 5176.0, 20), ("NaD", 5894.0, 12),
         ("Halpha", 6564.6, 30)]  # fmt: skip
SKY = [5578.9, 6302.0, 6365.5]


def _mean(flux: np.ndarray, good: np.ndarray, sel: np.ndarray) -> float:
    m = good & sel
    return float(flux[m].mean()) if m.sum() >= 5 else np.nan


def _log_ratio(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return np.nan
    return float(np.clip(np.log10(max(a, 1e-3 * b) / b), -3.0, 3.0))


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    pad = width // 2
    padded = np.pad(x, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.median(windows, axis=1)


def feature_names() -> list[str]:
    """The names of the columns :func:`features` returns, in order."""
    names = [f"colour_{lo}_{hi}" for lo, hi in BANDS]
    names += ["arm_red_blue", "dichroic_step", "log_snr", "noise_red_blue", "masked_fraction",
              "first_good_A", "last_good_A", "scatter_blue", "scatter_red", "scatter_sky",
              "scatter_oh", "negative_fraction", "d4000"]  # fmt: skip
    names += [f"ew_{name}" for name, _, _ in LINES]
    return names


def features(batch: SpectrumBatch, redshift: np.ndarray | None = None) -> np.ndarray:
    """(N, F) features of ``batch`` (NaN where not measurable), columns :func:`feature_names`.

    ``redshift`` defaults to ``batch.redshift`` (the catalogue's) for the rest-frame ones.
    """
    z_all = np.asarray(batch.redshift if redshift is None else redshift, np.float64)
    lam = np.power(10.0, np.asarray(batch.loglam, np.float64))
    out = np.full((len(batch), len(feature_names())), np.nan)
    sky = np.zeros(len(lam), bool)
    for w in SKY:
        sky |= np.abs(lam - w) < 4.0
    oh = (lam > 8000) & (lam < 10000)
    blue, red = (lam > 3800) & (lam < 5800), (lam > 6200) & (lam < 9000)
    for i in range(len(batch)):
        flux = np.asarray(batch.flux[i], np.float64)
        ivar = np.asarray(batch.ivar[i], np.float64)
        good = np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0)
        row: list[float] = []
        total = _mean(flux, good, np.ones(len(lam), bool))
        row += [_log_ratio(_mean(flux, good, (lam >= lo) & (lam < hi)), total) for lo, hi in BANDS]
        row.append(_log_ratio(_mean(flux, good, red), _mean(flux, good, blue)))
        row.append(
            _log_ratio(
                _mean(flux, good, (lam > 6050) & (lam < 6250)),
                _mean(flux, good, (lam > 5750) & (lam < 5950)),
            )
        )
        if good.sum() < 20:
            out[i, : len(row)] = row
            continue
        sig = 1.0 / np.sqrt(ivar[good])
        snr = np.median(flux[good] / sig)
        row.append(float(np.log10(max(snr, 0.01))))
        gb, gr = good & blue, good & red
        row.append(
            float(np.log10(np.median(1 / np.sqrt(ivar[gr])) / np.median(1 / np.sqrt(ivar[gb]))))
            if gb.sum() > 10 and gr.sum() > 10
            else np.nan
        )
        row.append(float(1.0 - good.mean()))
        idx = np.flatnonzero(good)
        row += [float(lam[idx[0]]), float(lam[idx[-1]])]
        resid = np.zeros(len(lam))
        resid[good] = (flux[good] - _running_median(flux[good], 15)) * np.sqrt(ivar[good])
        for sel in (blue, red, sky, oh):
            m = good & sel
            row.append(float(np.log10(np.mean(resid[m] ** 2) + 1e-3)) if m.sum() >= 5 else np.nan)
        row.append(float((flux[good] < 0).mean()))
        z = z_all[i] if np.isfinite(z_all[i]) else 0.0
        rest = lam / (1.0 + z)
        row.append(
            _log_ratio(
                _mean(flux, good, (rest > 4000) & (rest < 4100)),
                _mean(flux, good, (rest > 3850) & (rest < 3950)),
            )
        )
        for _, centre, half in LINES:
            core = (rest > centre - half) & (rest < centre + half)
            side = ((rest > centre - 3 * half) & (rest < centre - 1.5 * half)) | (
                (rest > centre + 1.5 * half) & (rest < centre + 3 * half)
            )
            mc, ms = good & core, good & side
            if mc.sum() < 3 or ms.sum() < 3:
                row.append(np.nan)
                continue
            cont = np.median(flux[ms])
            scale = max(abs(cont), np.median(np.abs(flux[good])) * 0.05, 1e-6)
            ew = np.mean(flux[mc] - cont) / scale * 2 * half
            row.append(float(np.clip(ew, -500.0, 2000.0)))
        out[i] = row
    return out


def _match(real: np.ndarray, pool: np.ndarray, per_real: int) -> np.ndarray:
    """Indices into ``pool`` (M, 2): ``per_real`` nearest unused rows for each real row."""
    scale = np.maximum(np.nanstd(np.concatenate([real, pool]), axis=0), 1e-6)
    used = np.zeros(len(pool), bool)
    chosen: list[int] = []
    for r in real:
        d = np.nansum(((pool - r) / scale) ** 2, axis=1)
        d[used] = np.inf
        pick = np.argsort(d)[:per_real]
        pick = pick[np.isfinite(d[pick])]
        used[pick] = True
        chosen += list(pick)
    return np.array(chosen, dtype=np.int64)


def _discriminate(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    seed: int,
    n_splits: int,
    top: int,
    trees: int = 200,
) -> dict[str, Any]:
    """Out-of-fold AUC of a random forest telling real (y = 1) from synthetic (y = 0), and
    its mean impurity importance per feature (missing values: a sentinel below all)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    filled = np.where(np.isfinite(x), x, -1e6)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    oof = np.zeros(len(y))
    aucs, importance = [], np.zeros(x.shape[1])
    for train, test in folds.split(filled, y):
        clf = RandomForestClassifier(
            n_estimators=trees, min_samples_leaf=2, max_features="sqrt", n_jobs=1,
            class_weight="balanced", random_state=seed,
        )  # fmt: skip
        clf.fit(filled[train], y[train])
        oof[test] = clf.predict_proba(filled[test])[:, 1]
        importance += clf.feature_importances_ / n_splits
        if len(np.unique(y[test])) == 2:
            aucs.append(float(roc_auc_score(y[test], oof[test])))
    order = np.argsort(-importance)[:top]
    real, synth = y == 1, y == 0
    top_features = [
        {
            "name": names[j],
            "importance": float(importance[j]),
            "real_median": _nanmedian(x[real, j]),
            "synthetic_median": _nanmedian(x[synth, j]),
        }
        for j in order
    ]
    return {
        "auc": float(roc_auc_score(y, oof)),
        "auc_folds": aucs,
        "n_real": int(real.sum()),
        "n_synthetic": int(synth.sum()),
        "top_features": top_features,
    }


def _nanmedian(v: np.ndarray) -> float | None:
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else None


def realism_report(
    synthetic: SpectrumSource,
    real: SpectrumSource,
    classes: Sequence[str] = CLASSES,
    per_real: int = 3,
    pool: int = 600,
    max_real: int = 2000,
    n_splits: int = 5,
    min_real: int = 4,
    top: int = 6,
    seed: int = 0,
    trees: int = 200,
) -> dict[str, Any]:
    """Per-class ROC-AUC of a real-vs-synthetic discriminator and the features behind it.

    ``synthetic``, ``real``: sources with labels and redshifts (the real ones: catalogue or
    pipeline values). For each class, at most ``max_real`` real spectra (seeded sample) and
    a pool of at most ``pool`` synthetic spectra of the class are read; each real spectrum
    is matched with ``per_real`` synthetic ones nearest in (log(1+z), log S/N). Then a
    ``n_splits``-fold cross-validated random forest of ``trees`` trees; ``top`` features are
    reported. Deterministic for a given ``seed``. See the module docstring for the returned dict.
    """
    rng = np.random.default_rng(seed)
    names = feature_names()
    rows_x: list[np.ndarray] = []
    rows_y: list[np.ndarray] = []
    report: dict[str, Any] = {"classes": {}}
    for label in classes:
        real_idx = np.flatnonzero(np.asarray(real.labels) == label)
        syn_idx = np.flatnonzero(np.asarray(synthetic.labels) == label)
        if len(real_idx) > max_real:
            real_idx = np.sort(rng.choice(real_idx, max_real, replace=False))
        if len(syn_idx) > pool:
            syn_idx = np.sort(rng.choice(syn_idx, pool, replace=False))
        entry: dict[str, Any] = {"auc": None, "n_real": int(len(real_idx))}
        if len(real_idx) < min_real or len(syn_idx) < per_real:
            entry["note"] = f"too few spectra (real {len(real_idx)}, synthetic {len(syn_idx)})"
            report["classes"][label] = entry
            continue
        xr = features(real.read(real_idx))
        xs = features(synthetic.read(syn_idx))
        snr_col = names.index("log_snr")
        key_r = np.stack([np.log1p(np.asarray(real.redshift)[real_idx]), xr[:, snr_col]], 1)
        key_s = np.stack([np.log1p(np.asarray(synthetic.redshift)[syn_idx]), xs[:, snr_col]], 1)
        xs = xs[_match(key_r, key_s, per_real)]
        x = np.concatenate([xr, xs])
        y = np.concatenate([np.ones(len(xr)), np.zeros(len(xs))]).astype(int)
        splits = int(min(n_splits, len(xr)))
        entry = _discriminate(x, y, names, seed, splits, top, trees)
        report["classes"][label] = entry
        rows_x.append(x)
        rows_y.append(y)
    if rows_x:
        x, y = np.concatenate(rows_x), np.concatenate(rows_y)
        report["all"] = _discriminate(x, y, names, seed, int(min(n_splits, y.sum())), top, trees)
    report["features"] = names
    report["settings"] = {
        "per_real": per_real, "pool": pool, "max_real": max_real, "n_splits": n_splits,
        "min_real": min_real, "seed": seed, "trees": trees,
        "classifier": "RandomForestClassifier",
    }  # fmt: skip
    return report


def format_report(report: dict[str, Any]) -> str:
    """A few plain-text lines: AUC per class and the top features with their medians."""
    lines = []
    entries = list(report["classes"].items())
    if "all" in report:
        entries.append(("all", report["all"]))
    for label, entry in entries:
        if entry.get("auc") is None:
            lines.append(f"{label:7s} AUC   -    ({entry.get('note', '')})")
            continue
        lines.append(
            f"{label:7s} AUC {entry['auc']:.3f}  (real {entry['n_real']}, "
            f"synthetic {entry['n_synthetic']})"
        )
        for f in entry["top_features"]:
            real_m, syn_m = f["real_median"], f["synthetic_median"]
            lines.append(
                f"        {f['name']:20s} importance {f['importance']:+.3f}  median real "
                f"{real_m if real_m is None else f'{real_m:.3g}'}  synthetic "
                f"{syn_m if syn_m is None else f'{syn_m:.3g}'}"
            )
    return "\n".join(lines)
