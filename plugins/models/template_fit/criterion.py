"""The criterion ``template_fit`` ranks the classes by: each class's best chi-square, or that
chi-square with a penalty for the free parameters its fit spent (option
``complexity_penalty``), since the classes' fits do not have the same freedom: a star is one
template + ``star_n_poly`` polynomials, a galaxy four eigen-spectra + ``n_poly``
polynomials + the narrow emission lines its fit used, a quasar four eigen-spectra +
``n_poly`` polynomials (+ four host-galaxy ones).

- ``none``: the chi-square.
- ``aic``: chi2 + 2 k (Akaike's information criterion, k free linear
  parameters; the chi-square is -2 ln L up to a constant shared by the classes).
- ``bic``: chi2 + k ln(n) (Schwarz's Bayesian information criterion, n good pixels).
- ``rchi2`` (the default): the SDSS pipeline's reduced chi-square chi2 / (n - k)
  (idlspec2d sorts its fits by it), times n to stay in chi-square units (differences read
  as chi-square gaps): about chi2 + k chi2 / n, 1 per parameter for a good fit.

A line held at zero by its non-negative amplitude counts for nothing (``n_params``
counts the active ones).

Chosen on 3,000 synthetic spectra (seeds 0 and 1; tests/perf/bench_template_fit.py
--compare-penalties), the only penalty that lost no object of any class on both
seeds with two versions of the generator: rchi2 gives back 2-4 of the 34-38 stars called
QSO or GALAXY (all at S/N ~1); aic 5-8 but once lost a faint quasar; bic 15-21 but loses 1-3
faint quasars to STAR. On the real folders none changes a class.
"""

from __future__ import annotations

import numpy as np

PENALTIES = ("none", "aic", "bic", "rchi2")


def class_scores(
    chi2: np.ndarray, n_params: np.ndarray, n_good: np.ndarray, penalty: str
) -> np.ndarray:
    """(N, C) scores, lower is better, from the chi-squares ``chi2`` (N, C), the free
    parameters ``n_params`` (N, C) of each fit and the good pixels ``n_good`` (N,)."""
    k = np.asarray(n_params, np.float64)
    n = np.maximum(np.asarray(n_good, np.float64), 1.0)[:, None]
    if penalty == "none":
        return chi2
    if penalty == "aic":
        return chi2 + 2.0 * k
    if penalty == "bic":
        return chi2 + np.log(n) * k
    if penalty == "rchi2":
        return chi2 * n / np.maximum(n - k, 1.0)
    raise ValueError(f"complexity_penalty: expected one of {PENALTIES}, got {penalty!r}")
