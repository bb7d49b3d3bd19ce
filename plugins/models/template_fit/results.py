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

# per prepared spectrum: chi2 (3,), z (3,), z_err (3,), best stellar template, good
# pixels and their span in log10 wavelength
FitCache = dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, int, int, float]]


def fit_cached(
    cache: FitCache,
    inputs: ModelInput,
    positions: np.ndarray,
    templates: Mapping[str, ClassTemplates],
    settings: FitSettings,
    batch_size: int,
    preprocessed: bool,
) -> dict[str, np.ndarray]:
    """``chi2``, ``z``, ``z_err`` (N, 3) in FIT_CLASSES order, ``star`` (N,) best stellar
    template, ``n_good`` and ``coverage`` (N,) (:func:`fit_spectra`) of the spectra of ``inputs`` at ``positions`` (raw, or through the run's
    preprocessing when ``preprocessed``); fits missing from ``cache`` (keyed by the
    prepared spectrum) are computed ``batch_size`` at a time and added."""
    n = len(positions)
    chi2 = np.zeros((n, len(FIT_CLASSES)))
    z = np.full((n, len(FIT_CLASSES)), np.nan)
    z_err = np.full((n, len(FIT_CLASSES)), np.nan)
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
                    out["chi2"][j], out["z"][j], out["z_err"][j], int(out["star"][j]),
                    int(out["n_good"][j]), float(out["coverage"][j]),
                )  # fmt: skip
        for j, k in enumerate(keys):
            row = start + j
            chi2[row], z[row], z_err[row], star[row], n_good[row], coverage[row] = cache[k]
    return {"chi2": chi2, "z": z, "z_err": z_err, "star": star, "n_good": n_good,
            "coverage": coverage}  # fmt: skip


def fit_facts(results: dict[str, np.ndarray], classes: list[str]) -> dict[str, np.ndarray]:
    """Per-object columns from :meth:`TemplateFit.fit_results`: ``z_err``, the 1-sigma
    redshift error of the best-fitting class (chi-square + 1), ``subclass``, the best
    stellar template of objects whose best fit is a star (empty otherwise, like the SDSS
    pipeline's SUBCLASS), ``delta_chi2``, the runner-up class's chi-square minus the
    best one, and ``zwarning``, the pipeline's warning bits (:mod:`.zwarning`: 0 is a
    clean fit; SMALL_DELTA_CHI2 where the gap is under 0.01 per good pixel, ~46 on a BOSS
    spectrum)."""
    chi2 = results["chi2"]
    ranked = np.sort(chi2, axis=1)
    rows, best = np.arange(len(chi2)), chi2.argmin(axis=1)
    star = np.array([c == "STAR" for c in classes])[best]
    gap = ranked[:, 1] - ranked[:, 0] if chi2.shape[1] > 1 else np.full(len(chi2), np.nan)
    z_err = results["z_err"][rows, best]
    return {
        "z_err": z_err,
        "subclass": np.where(star, results["star_template"], "").astype(object),
        "delta_chi2": np.where(np.isfinite(gap), gap, np.nan),
        "zwarning": zwarning(chi2, z_err, results["n_good"], results["coverage"]),
    }
