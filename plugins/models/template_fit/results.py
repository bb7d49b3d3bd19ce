"""The template fits of ``template_fit``, cached by spectrum, and the per-object facts
drawn from them: a spectrum fitted once is never fitted again (``predict_proba``, the
calibration and the per-object redshifts share the fits)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from bench.interfaces import ModelInput
from bench_plugins.models.template_fit.prepare import prepare
from bench_plugins.models.template_fit.redshift import FitSettings, fit_spectra
from bench_plugins.models.template_fit.templates import FIT_CLASSES, ClassTemplates
from bench_plugins.models.template_fit.zwarning import zwarning

# the per-class columns of a fit, each (3,) per spectrum in the cache
CLASS_COLUMNS = ("chi2", "z", "z_err", "n_params", "outliers", "negative")
# per prepared spectrum: the CLASS_COLUMNS, best stellar template, good pixels and their
# span in log10 wavelength
FitCache = dict[bytes, tuple[tuple[np.ndarray, ...], int, int, float]]


def fit_cached(
    cache: FitCache,
    inputs: ModelInput,
    positions: np.ndarray,
    templates: Mapping[str, ClassTemplates],
    settings: FitSettings,
    batch_size: int,
    preprocessed: bool,
) -> dict[str, np.ndarray]:
    """The :data:`CLASS_COLUMNS` (N, 3) in FIT_CLASSES order, ``star`` (N,) best stellar
    template, ``n_good`` and ``coverage`` (N,) (:func:`fit_spectra`) of the spectra of
    ``inputs`` at ``positions`` (raw, or through the run's preprocessing when
    ``preprocessed``); fits missing from ``cache`` (keyed by the prepared spectrum) are
    computed ``batch_size`` at a time and added."""
    n = len(positions)
    columns = {k: np.zeros((n, len(FIT_CLASSES))) for k in CLASS_COLUMNS}
    star, n_good, coverage = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n)
    step = batch_size
    for start in range(0, n, step):
        part = positions[start : start + step]
        loglam0, dlog, flux, weight = prepare(inputs.spectra(part, preprocessed=preprocessed))
        keys = [
            hashlib.sha1(
                np.array([loglam0, dlog], np.float64).tobytes() + f.tobytes() + w.tobytes()
            ).digest()
            for f, w in zip(flux, weight, strict=True)
        ]
        todo = [i for i, k in enumerate(keys) if k not in cache]
        if todo:
            rows = np.array(todo)
            f, w = flux[rows], weight[rows]
            if settings.backend == "jax" and len(rows) < step:  # one compiled shape
                pad = step - len(rows)
                f = np.concatenate([f, np.zeros((pad, f.shape[1]))])
                w = np.concatenate([w, np.zeros((pad, w.shape[1]))])
            out = fit_spectra(loglam0, dlog, f, w, templates, settings, chunk=step)
            for j, i in enumerate(todo):
                cache[keys[i]] = (
                    tuple(out[c][j] for c in CLASS_COLUMNS), int(out["star"][j]),
                    int(out["n_good"][j]), float(out["coverage"][j]),
                )  # fmt: skip
        for j, k in enumerate(keys):
            row = start + j
            values, star[row], n_good[row], coverage[row] = cache[k]
            for c, v in zip(CLASS_COLUMNS, values, strict=True):
                columns[c][row] = v
    columns["n_params"] = columns["n_params"].astype(np.int64)
    columns["outliers"] = columns["outliers"].astype(np.int64)
    columns["negative"] = columns["negative"].astype(bool)
    return {**columns, "star": star, "n_good": n_good, "coverage": coverage}


def fit_facts(results: dict[str, np.ndarray], classes: list[str]) -> dict[str, np.ndarray]:
    """Per-object columns from :meth:`TemplateFit.fit_results`: ``z_err``, the 1-sigma
    redshift error of the best-fitting class (chi-square + 1), ``subclass``, the best
    stellar template of objects whose best fit is a star (empty otherwise, like the SDSS
    pipeline's SUBCLASS), ``delta_chi2``, the runner-up class's score (chi-square, with
    the ``complexity_penalty`` when one is set) minus the best one, and ``zwarning``, the
    pipeline's warning bits (:mod:`.zwarning`: 0 is a clean fit; SMALL_DELTA_CHI2 where
    the gap is under 0.01 per good pixel, ~46 on a BOSS spectrum; MANY_OUTLIERS where
    over 5 % of the good pixels are 5 sigma off the best fit; NEGATIVE_MODEL where that
    fit is a star or quasar with a negative model)."""
    score = results["score"]
    ranked = np.sort(score, axis=1)
    rows, best = np.arange(len(score)), score.argmin(axis=1)
    star = np.array([c == "STAR" for c in classes])[best]
    gap = ranked[:, 1] - ranked[:, 0] if score.shape[1] > 1 else np.full(len(score), np.nan)
    z_err = results["z_err"][rows, best]
    star_or_qso = np.array([c in ("STAR", "QSO") for c in classes])[best]
    return {
        "z_err": z_err,
        "subclass": np.where(star, results["star_template"], "").astype(object),
        "delta_chi2": np.where(np.isfinite(gap), gap, np.nan),
        "zwarning": zwarning(
            score,
            z_err,
            results["n_good"],
            results["coverage"],
            results["outliers"][rows, best],
            star_or_qso & results["negative"][rows, best],
        ),  # fmt: skip
    }
