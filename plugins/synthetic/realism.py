"""How real do synthetic spectra look? A discriminator trained to tell them apart.

``realism_report(synthetic, real)`` takes two :class:`bench.spectra.SpectrumSource`
(for example ``Synthetic(...).open()`` and the ``sdss`` dataset's source) and, for each
class, matches every real spectrum with ``per_real`` synthetic ones of the same class at
the nearest redshift and S/N, and of its coverage kind (BOSS, SDSS-I/II, trimmed) while
the synthetic pool has them, describes all of them with simple, interpretable features
that do not depend on the flux scale, and cross-validates a random forest (scikit-learn)
that tells real from synthetic. It returns, per class, the out-of-fold ROC-AUC (0.5: the
classifier cannot tell them apart; 1.0: every synthetic spectrum gives itself away) and
the features that give the synthetic spectra away (the forest's mean impurity
importance), each with its median among real and synthetic spectra::

    {"classes": {"QSO": {"auc": 0.71, "auc_interval": [0.65, 0.77], "auc_folds": [...],
                         "n_real": 120, "n_synthetic": 360,
                         "coverage": {"real": {"BOSS": 88, "SDSS-I/II": 28, "trimmed": 4},
                                      "synthetic": {...}},
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

``coverage`` counts the real and the matched synthetic spectra by the wavelength range they
measure (:func:`coverage_kind`). The mix of instruments is the survey's choice (a preset
may train on another share of SDSS-I/II spectra, as it trains on a balanced class mix),
so the matching takes each real spectrum's own kind, as it takes its redshift and S/N:
what is left to tell them apart is how each kind's spectra look. Where the pool lacks
the kind (no trimmed synthetic spectra, or fewer than ``per_real`` per real one) the
nearest of another kind stand in, and the coverage features (first_good_A, last_good_A,
masked_fraction) tell them apart whatever the physics; the counts say so.
``match_coverage=False`` matches in redshift and S/N alone (the matching before it).

The real spectra are only measured here: nothing of them goes into the generator.
With few real spectra of a class the AUC is noisy (``n_real`` says how many); below
``min_real`` real spectra a class gets ``auc = None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.spectra import CLASSES, SpectrumSource
from bench_plugins.synthetic.realism_features import feature_names, features

__all__ = ["coverage_kind", "feature_names", "features", "realism_report"]


def _match(
    real: np.ndarray,
    pool: np.ndarray,
    per_real: int,
    real_group: np.ndarray | None = None,
    pool_group: np.ndarray | None = None,
) -> np.ndarray:
    """Indices into ``pool`` (M, 2): ``per_real`` nearest unused rows for each real row.

    With groups (one label per row, e.g. the coverage kind), a pool row of the real row's
    group always comes before any of another group; within a group, the nearest."""
    scale = np.maximum(np.nanstd(np.concatenate([real, pool]), axis=0), 1e-6)
    used = np.zeros(len(pool), bool)
    chosen: list[int] = []
    for i, r in enumerate(real):
        d = np.nansum(((pool - r) / scale) ** 2, axis=1)
        if real_group is not None and pool_group is not None:
            d = d + np.where(pool_group == real_group[i], 0.0, 1e6)
        d[used] = np.inf
        pick = np.argsort(d)[:per_real]
        pick = pick[np.isfinite(d[pick])]
        used[pick] = True
        chosen += list(pick)
    return np.array(chosen, dtype=np.int64)


# The pool holds at least POOL_PER_MATCH synthetic spectra per spectrum matched: with 124
# real quasars of the development folders, 372 to match from 600 (a pool the matching
# exhausts) left the matched ones brighter than the real (median log S/N 0.87 against
# 0.78, the class's fourth feature); from 1,488 S/N left its top features (QSO AUC 0.960 ->
# 0.951). A few real spectra of a class keep the ``pool`` of 600; POOL_CAP bounds the time.
POOL_PER_MATCH = 4
POOL_CAP = 5000

COVERAGE_KINDS = ("BOSS", "SDSS-I/II", "trimmed")
BOSS_BLUE_A = 3700.0  # BOSS measures from ~3570-3610 A, the SDSS-I/II spectrographs ~3800 A
TRIMMED_SPAN_A = 5000.0  # whole spectra span ~5400 A (SDSS-I/II) to ~6800 A (BOSS)


def coverage_kind(first_good_a: np.ndarray, last_good_a: np.ndarray) -> np.ndarray:
    """Per spectrum, the kind of wavelength range it measures, from its first and last good
    wavelength (A): ``trimmed`` (under TRIMMED_SPAN_A), else ``BOSS`` (from below
    BOSS_BLUE_A) or ``SDSS-I/II``; ``""`` where nothing is measured (NaN)."""
    first, last = np.asarray(first_good_a, float), np.asarray(last_good_a, float)
    kind = np.where(first < BOSS_BLUE_A, COVERAGE_KINDS[0], COVERAGE_KINDS[1]).astype(object)
    kind[last - first < TRIMMED_SPAN_A] = COVERAGE_KINDS[2]
    kind[~(np.isfinite(first) & np.isfinite(last))] = ""
    return kind


def _coverage(x: np.ndarray, y: np.ndarray) -> dict[str, dict[str, int]]:
    """Counts of real (y = 1) and synthetic (y = 0) rows of features ``x`` per coverage kind."""
    names = feature_names()
    kind = coverage_kind(x[:, names.index("first_good_A")], x[:, names.index("last_good_A")])
    return {
        side: {k: int(((kind == k) & (y == flag)).sum()) for k in COVERAGE_KINDS}
        for side, flag in (("real", 1), ("synthetic", 0))
    }


def _discriminate(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    seed: int,
    n_splits: int,
    top: int,
    trees: int = 200,
    columns: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Out-of-fold AUC of a random forest telling real (y = 1) from synthetic (y = 0), and
    its mean impurity importance per feature (missing values: a sentinel below all), on
    the ``columns`` of ``x`` and ``names`` (None: all)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if columns is not None:
        x, names = x[:, list(columns)], [names[i] for i in columns]

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
        "auc_interval": auc_interval(y, oof, seed),
        "auc_folds": aucs,
        "n_real": int(real.sum()),
        "n_synthetic": int(synth.sum()),
        "top_features": top_features,
    }


def auc_interval(y: np.ndarray, score: np.ndarray, seed: int, n_boot: int = 1000) -> list[float]:
    """95 % percentile-bootstrap interval of the ROC-AUC of ``score`` for ``y`` (1 real,
    0 synthetic), real and synthetic objects resampled apart (stratified): with a dozen
    real spectra of a class the interval says how little its AUC means."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng([seed, 0xA0C])
    real, synth = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not len(real) or not len(synth):
        return [float("nan"), float("nan")]
    values = []
    for _ in range(n_boot):
        rows = np.concatenate([rng.choice(real, len(real)), rng.choice(synth, len(synth))])
        values.append(roc_auc_score(y[rows], score[rows]))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


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
    keep: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    exclude: Sequence[str] = (),
    match_coverage: bool = True,
) -> dict[str, Any]:
    """Per-class ROC-AUC of a real-vs-synthetic discriminator and the features behind it.

    ``synthetic``, ``real``: sources with labels and redshifts (the real ones: catalogue or
    pipeline values). Per class, at most ``max_real`` real spectra (seeded sample) and a pool
    of synthetic ones (``pool``, or POOL_PER_MATCH per spectrum to match, at most POOL_CAP:
    ``n_pool``) are read; each real spectrum is matched with ``per_real`` synthetic ones
    nearest in (log(1+z), log S/N), of its coverage kind while the pool has them
    (``match_coverage``). Then a ``n_splits``-fold cross-validated random forest of ``trees``
    trees; ``top`` features are reported; deterministic for a given ``seed`` (the returned
    dict: module docstring). ``keep``: a dict that gets each class's (features, real = 1)
    rows (for :func:`realism_figure.draw_realism`). ``exclude``: features the discriminator
    leaves out (e.g. first_good_A, last_good_A, masked_fraction: what the physics alone
    gives away).
    """
    rng = np.random.default_rng(seed)
    names = feature_names()
    used = used_columns(exclude)
    judge = partial(_discriminate, names=names, seed=seed, top=top, trees=trees, columns=used)
    settings = {
        "per_real": per_real, "pool": pool, "max_real": max_real, "n_splits": n_splits,
        "min_real": min_real, "seed": seed, "trees": trees, "top": top,
        "match_coverage": match_coverage}  # fmt: skip
    rows_x: list[np.ndarray] = []
    rows_y: list[np.ndarray] = []
    report: dict[str, Any] = {"classes": {}}
    for label in classes:
        entry, xy = _class_entry(synthetic, real, label, rng, settings, judge)
        report["classes"][label] = entry
        if xy is not None:
            if keep is not None:
                keep[label] = xy
            rows_x.append(xy[0])
            rows_y.append(xy[1])
    if rows_x:
        x, y = np.concatenate(rows_x), np.concatenate(rows_y)
        report["all"] = judge(x, y, n_splits=int(min(n_splits, y.sum())))
        report["all"]["coverage"] = _coverage(x, y)
    report["features"] = [names[i] for i in used]
    report["settings"] = {
        **{k: v for k, v in settings.items() if k != "top"},
        "exclude": sorted(set(exclude)),
        "classifier": "RandomForestClassifier",
    }
    return report


def used_columns(exclude: Sequence[str], key: str = "exclude") -> list[int]:
    """The columns of :func:`feature_names` the discriminator uses: all but ``exclude``,
    each of which must name a feature (BenchError naming ``key`` otherwise, and when none
    would be left)."""
    names, excluded = feature_names(), set(exclude)
    unknown = sorted(excluded - set(names))
    if unknown:
        raise BenchError(f"{key}: {unknown} are not realism features; expected some of {names}")
    used = [i for i, name in enumerate(names) if name not in excluded]
    if not used:
        raise BenchError(f"{key}: leaves no feature for the discriminator")
    return used


def _class_entry(
    synthetic: SpectrumSource,
    real: SpectrumSource,
    label: str,
    rng: np.random.Generator,
    settings: dict[str, int],
    judge: Callable[..., dict[str, Any]],
) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray] | None]:
    """One class's discriminator entry (``judge(x, y, n_splits=...)``) and its (features,
    real=1) rows, matched in (log(1+z), log S/N) and, with ``settings["match_coverage"]``,
    coverage kind; no rows when the class has too few
    spectra."""
    per_real, pool, max_real = settings["per_real"], settings["pool"], settings["max_real"]
    real_idx = np.flatnonzero(np.asarray(real.labels) == label)
    syn_idx = np.flatnonzero(np.asarray(synthetic.labels) == label)
    if len(real_idx) > max_real:
        real_idx = np.sort(rng.choice(real_idx, max_real, replace=False))
    size = max(pool, min(POOL_PER_MATCH * per_real * len(real_idx), POOL_CAP))
    if len(syn_idx) > size:
        syn_idx = np.sort(rng.choice(syn_idx, size, replace=False))
    if len(real_idx) < settings["min_real"] or len(syn_idx) < per_real:
        note = f"too few spectra (real {len(real_idx)}, synthetic {len(syn_idx)})"
        return {"auc": None, "n_real": int(len(real_idx)), "note": note}, None
    xr = features(real.read(real_idx))
    xs = features(synthetic.read(syn_idx))
    snr_col = feature_names().index("log_snr")
    key_r = np.stack([np.log1p(np.asarray(real.redshift)[real_idx]), xr[:, snr_col]], 1)
    key_s = np.stack([np.log1p(np.asarray(synthetic.redshift)[syn_idx]), xs[:, snr_col]], 1)
    groups: tuple[np.ndarray, np.ndarray] | tuple[None, None] = (None, None)
    if settings["match_coverage"]:
        first, last = feature_names().index("first_good_A"), feature_names().index("last_good_A")
        groups = (
            coverage_kind(xr[:, first], xr[:, last]),
            coverage_kind(xs[:, first], xs[:, last]),
        )
    xs = xs[_match(key_r, key_s, per_real, *groups)]
    x = np.concatenate([xr, xs])
    y = np.concatenate([np.ones(len(xr)), np.zeros(len(xs))]).astype(int)
    entry = judge(x, y, n_splits=int(min(settings["n_splits"], len(xr))))
    entry["coverage"] = _coverage(x, y)
    entry["n_pool"] = int(len(syn_idx))
    return entry, (x, y)
