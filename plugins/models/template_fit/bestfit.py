"""Each class's best-fit model spectrum of ``template_fit``, rebuilt at the class's fitted
redshift (one small least-squares solve per spectrum and class, not in the scan), and what
the SDSS pipeline's poor-fit warnings read from it (idlspec2d ``spreduce1d``): the good
pixels more than 5 sigma from the model (MANY_OUTLIERS; for a quasar only those above it,
since its absorption lines, the Lyman-alpha forest first, give many low ones) and whether
the first template's coefficient is <= 0 (NEGATIVE_MODEL: an upside-down template).

The model has the free parameters of the class's chosen fit: the stellar template found by
the scan, or the class's eigen-spectra (with the host galaxy's for a quasar + host fit),
the observed-frame polynomials, and for a galaxy fitted with its narrow emission lines the
lines (:mod:`.emission`, non-negative amplitudes). With ``constrain`` the first template's
coefficient is >= 0, as in the scan.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bench_plugins.models.template_fit.emission import (
    NARROW_LINES,
    NARROW_SIGMA_KMS,
    bounded_chi2,
    line_basis,
)
from bench_plugins.models.template_fit.templates import FIT_CLASSES, ClassTemplates

OUTLIER_SIGMA = 5.0  # the pipeline's MANY_OUTLIERS counts pixels beyond 5 sigma


def model_flux(
    flux: np.ndarray, weight: np.ndarray, basis: np.ndarray, n_free: int, constrain: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(P,) weighted least-squares model of ``flux`` from ``basis`` (M, P) and its (M,)
    coefficients: rows ``< n_free`` free (the first >= 0 with ``constrain``), the rest
    >= 0."""
    lower = np.zeros(len(basis))
    lower[1 if constrain else 0 : n_free] = -np.inf
    good = weight > 0
    wb = basis[:, good] * weight[good]
    mat, y = wb @ basis[:, good].T, wb @ flux[good]
    _, coef = bounded_chi2(mat, y, float(weight[good] @ flux[good] ** 2), lower)
    return coef @ basis, coef


def model_checks(
    loglam: np.ndarray,
    flux: np.ndarray,
    weight: np.ndarray,
    templates: Mapping[str, ClassTemplates],
    polys: Mapping[str, np.ndarray],
    z: np.ndarray,
    star: np.ndarray,
    host: np.ndarray,
    lines: np.ndarray,
    constrain: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per spectrum and class (N, 3, FIT_CLASSES order): the good pixels more than
    :data:`OUTLIER_SIGMA` sigma from the class's best-fit model at its redshift ``z``
    (above it for QSO), and whether the model's first template coefficient is <= 0
    (with ``constrain`` the fit holds it at 0: the polynomials alone). ``star`` (N,) the
    best stellar template, ``host`` (N,) quasars fitted with their host galaxy, ``lines``
    (N,) galaxies fitted with their narrow emission lines; ``polys`` the polynomial rows
    of each class."""
    n = len(flux)
    outliers = np.zeros((n, len(FIT_CLASSES)), np.int64)
    negative = np.zeros((n, len(FIT_CLASSES)), bool)
    for i in range(n):
        good = weight[i] > 0
        if not good.any():
            continue
        for c, label in enumerate(FIT_CLASSES):
            if not np.isfinite(z[i, c]):
                continue
            parts = [templates[label].shifted(int(star[i]) if label == "STAR" else 0,
                                              loglam, z[i, c])]  # fmt: skip
            if label == "QSO" and host[i]:
                parts.append(templates["GALAXY"].shifted(0, loglam, z[i, c]))
            parts.append(polys[label])
            n_free = sum(len(p) for p in parts)
            if label == "GALAXY" and lines[i]:
                parts.append(line_basis(loglam, z[i, c], NARROW_LINES, NARROW_SIGMA_KMS))
            model, coef = model_flux(flux[i], weight[i], np.concatenate(parts), n_free,
                                     constrain)  # fmt: skip
            resid = (flux[i] - model)[good] * np.sqrt(weight[i][good])
            if label != "QSO":
                resid = np.abs(resid)
            outliers[i, c] = int((resid > OUTLIER_SIGMA).sum())
            negative[i, c] = coef[0] <= 0.0
    return outliers, negative
