"""Class probabilities of ``template_fit`` from its chi-squares:
``softmax(-(chi2 - min chi2) / (2 T))``, the temperature ``T >= 1`` fitted to a labelled
sample by minimising the log-loss (``T = 1``: the likelihood ratio itself)."""

from __future__ import annotations

import numpy as np


def probabilities(chi2: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(-(chi2 - min chi2) / (2 T)) along the last axis."""
    logits = -(chi2 - chi2.min(axis=-1, keepdims=True)) / (2.0 * temperature)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(chi2: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the log-loss of :func:`probabilities` for labels ``y``,
    at least 1: ``T = 1`` is the likelihood ratio ``exp(-dchi2 / 2)`` itself, and a training
    split the fit gets all right would otherwise drive ``T`` to 0 (one-hot probabilities,
    a gap of 1 in chi-square taken as certainty)."""
    from scipy.optimize import minimize_scalar

    known = y >= 0
    if not known.any():
        return 1.0
    chi2, y = chi2[known], y[known]

    def loss(log_t: float) -> float:
        p = probabilities(chi2, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    best = minimize_scalar(loss, bounds=(0.0, np.log(1e7)), method="bounded")
    return max(1.0, float(np.exp(best.x)))
