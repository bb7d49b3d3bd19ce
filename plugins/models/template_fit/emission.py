"""Emission lines at a fitted redshift: the galaxy fit's narrow lines and the quasar's
broad-line test of ``template_fit``.

At one redshift per spectrum (not in the scan), the galaxy eigen-spectra, the
observed-frame polynomials and Gaussian lines are fitted together by a bounded linear
least-squares solve: the eigen-spectra and polynomials free (the first eigen-spectrum
>= 0 with ``constrain``), every line amplitude >= 0, like ppxf's gas templates.

- Narrow lines (:data:`NARROW_LINES`, vacuum rest wavelengths of the SDSS line list, the
  [O III] and [N II] doublets tied at their atomic 1 : 2.98 and 1 : 3.05 ratios as in
  ppxf) at observed sigma 100 and 200 km/s, the widths the SDSS pipeline still calls
  narrow (its BROADLINE rule starts at 200 km/s): star-forming galaxies, starbursts and
  narrow-line AGN fit as galaxies.
- Broad lines (:data:`BROAD_LINES`: Mg II, H-gamma, H-beta, H-alpha) at sigma 600, 1500
  and 3500 km/s (FWHM 1,400-8,000 km/s, narrow-line Seyfert 1s to broad-line quasars).
  The chi-square gain of adding them to the narrow fit measures a broad component: the
  pipeline's BROADLINE rule asks for > 10 sigma, a gain of 100 in chi-square. The
  narrow lines count for a galaxy at the same detection level (their gain over the
  galaxy without lines): noise in a star or a faint spectrum buys no line freedom.
"""

from __future__ import annotations

import numpy as np

from bench_plugins.models.template_fit.templates import ClassTemplates

C_KMS = 299792.458
# (rest wavelengths, relative fluxes) of each line or tied doublet, vacuum Angstrom
NARROW_LINES: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = (
    ((3727.09,), (1.0,)),  # [O II]
    ((3729.88,), (1.0,)),  # [O II]
    ((3869.86,), (1.0,)),  # [Ne III]
    ((4102.89,), (1.0,)),  # H-delta
    ((4341.68,), (1.0,)),  # H-gamma
    ((4862.68,), (1.0,)),  # H-beta
    ((5008.24, 4960.30), (1.0, 1.0 / 2.98)),  # [O III] doublet
    ((6302.05,), (1.0,)),  # [O I]
    ((6564.61,), (1.0,)),  # H-alpha
    ((6585.27, 6549.86), (1.0, 1.0 / 3.05)),  # [N II] doublet
    ((6718.29,), (1.0,)),  # [S II]
    ((6732.67,), (1.0,)),  # [S II]
)
BROAD_LINES: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = (
    ((2799.49,), (1.0,)),  # Mg II
    ((4341.68,), (1.0,)),  # H-gamma
    ((4862.68,), (1.0,)),  # H-beta
    ((6564.61,), (1.0,)),  # H-alpha
)
BROAD_WAVES = tuple(w for waves, _ in BROAD_LINES for w in waves)
NARROW_SIGMA_KMS = (100.0, 200.0)
BALMER = (4862.68, 6564.61)  # H-beta, H-alpha: the lines that tell a galaxy's kind (BPT)
BROAD_SIGMA_KMS = (600.0, 1500.0, 3500.0)


def line_basis(
    loglam: np.ndarray,
    z: float,
    lines: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...],
    widths: tuple[float, ...],
) -> np.ndarray:
    """(len(lines) * len(widths), P) Gaussian lines of peak 1 at redshift ``z`` on the
    observed log10 grid ``loglam``; lines outside the grid are all zero."""
    rows = []
    for sigma in widths:
        s = sigma / (C_KMS * np.log(10.0))  # width in log10 wavelength
        for waves, ratios in lines:
            row = np.zeros(len(loglam))
            for wave, ratio in zip(waves, ratios, strict=True):
                x = (loglam - np.log10(wave * (1.0 + z))) / s
                # exactly 0 beyond 10 sigma: a line off the grid is a column of zeros
                row += ratio * np.where(x * x < 100.0, np.exp(-0.5 * np.minimum(x * x, 100.0)), 0.0)
            rows.append(row)
    return np.array(rows)


def bounded_chi2(
    mat: np.ndarray, y: np.ndarray, f2: float, lower: np.ndarray
) -> tuple[float, np.ndarray]:
    """Chi-square and coefficients (M,; 0 for a column without weight) of the weighted
    least-squares fit with normal equations ``mat = A^T W A`` (M, M), ``y = A^T W f`` (M,)
    and ``f2 = f^T W f``, coefficients >= ``lower`` (M,) (-inf: free). With ``mat = L L^T``
    (Cholesky), ``|A x - f|^2 = |L^T x - c|^2 + f2 - c^T c`` for ``L c = y``: a bounded
    solve of M unknowns in M equations."""
    from scipy.linalg import solve_triangular
    from scipy.optimize import lsq_linear

    diag = np.diagonal(mat)
    # lines off the grid or on masked pixels, or whose weight is a rounding error beside
    # the other columns' (a 10-sigma tail on one pixel): no column
    live = diag > 1e-12 * diag.max(initial=0.0)
    if not live.any():
        return f2, np.zeros(len(y))
    mat, y = mat[np.ix_(live, live)], y[live]
    mat = mat + (1e-10 * np.diagonal(mat) + 1e-300) * np.eye(len(y))
    chol = np.linalg.cholesky(mat)
    c = solve_triangular(chol, y, lower=True)
    fit = lsq_linear(chol.T, c, bounds=(lower[live], np.inf), method="bvls")
    r = chol.T @ fit.x - c
    coef = np.zeros(len(live))
    coef[live] = fit.x
    return max(float(r @ r) + f2 - float(c @ c), 0.0), coef


def line_fits(
    loglam: np.ndarray,
    flux: np.ndarray,
    weight: np.ndarray,
    galaxy: ClassTemplates,
    poly: np.ndarray,
    z: float,
    constrain: bool,
    broad: bool,
) -> tuple[float, float, float, int]:
    """Chi-squares of one spectrum at redshift ``z``: galaxy + polynomials alone, with the
    narrow lines, and with the broad lines added too (NaN unless ``broad``); and the
    narrow fit's active lines (amplitude > 0; 0 where the lines gain nothing): a
    non-negative least-squares fit spends a degree of freedom on each line it uses and
    none on a line held at 0."""
    eigen = galaxy.shifted(0, loglam, z)
    parts = [eigen, poly, line_basis(loglam, z, NARROW_LINES, NARROW_SIGMA_KMS)]
    if broad:
        parts.append(line_basis(loglam, z, BROAD_LINES, BROAD_SIGMA_KMS))
    basis = np.concatenate(parts)
    n_free = len(eigen) + len(poly)
    lower = np.zeros(len(basis))
    lower[1 if constrain else 0 : n_free] = -np.inf
    good = weight > 0
    wb = basis[:, good] * weight[good]
    mat, y = wb @ basis[:, good].T, wb @ flux[good]
    f2 = float(weight[good] @ flux[good] ** 2)
    chi2, active = [], []
    for m in (n_free, n_free + len(parts[2]), len(basis) if broad else 0):
        fit = bounded_chi2(mat[:m, :m], y[:m], f2, lower[:m]) if m else (np.nan, lower[:0])
        chi2.append(fit[0])
        active.append(int((fit[1][n_free:] > 0).sum()))
    bare, narrow, wide = chi2
    lines = active[1] if narrow < bare else 0
    return bare, min(narrow, bare), min(wide, narrow, bare) if broad else wide, lines
