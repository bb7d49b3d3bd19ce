"""The per-object warning flag of ``template_fit``: the SDSS pipeline's ZWARNING bits
(idlspec2d ``spreduce1d``; redrock's ZWARN uses the same bit numbers), set where a fit
says less than its class suggests. 0: no warning.

=====  ===================  ==========================================================
bit    name                 set when
=====  ===================  ==========================================================
1      LITTLE_COVERAGE      the good pixels span < 0.18 in log10 wavelength (the
                            pipeline's WCOVERAGE rule; a BOSS spectrum spans 0.42)
2      SMALL_DELTA_CHI2     the runner-up class's chi-square is within 0.01 per degree
                            of freedom of the best one (~46 on a BOSS spectrum), or
                            within 1 % of the best one's chi-square where that fit is
                            poor (the pipeline's rules); the class is a coin toss
3      NEGATIVE_MODEL       the best fit is a star or a quasar whose first template
                            coefficient is <= 0 (the pipeline's rule, THETA[0] <= 0:
                            an upside-down or absent template; with ``constrain`` the
                            fit held it at 0 and only the polynomials fit)
4      MANY_OUTLIERS        more than 5 % of the good pixels lie over 5 sigma from the
                            best fit's model, for a quasar over 5 sigma above it (its
                            absorption lines give low ones): no template fits. The
                            pipeline's rule up to DR8; BOSS (DR9 on) turned it off,
                            so real ZWARNINGs from DR9 on never carry it
5      Z_FITLIMIT           the best class's chi-square minimum lies at an edge of its
                            redshift range, or is no parabola (redrock's BAD_MINFIT):
                            no redshift error
9      NODATA               no pixel with an inverse variance (alone: the rest is moot)
=====  ===================  ==========================================================

The pipeline compares its best fit with the next best of any class at another redshift;
here the runner-up is the best fit of another class, and the degrees of freedom are the
good pixels. The chi-squares compared are those the classes are ranked by (with the
``complexity_penalty`` when one is set).
"""

from __future__ import annotations

import numpy as np

from bench.spectra import ZWARNING_BITS

LITTLE_COVERAGE = ZWARNING_BITS["LITTLE_COVERAGE"]
SMALL_DELTA_CHI2 = ZWARNING_BITS["SMALL_DELTA_CHI2"]
NEGATIVE_MODEL = ZWARNING_BITS["NEGATIVE_MODEL"]
MANY_OUTLIERS = ZWARNING_BITS["MANY_OUTLIERS"]
Z_FITLIMIT = ZWARNING_BITS["Z_FITLIMIT"]
NODATA = ZWARNING_BITS["NODATA"]
MIN_COVERAGE = 0.18  # log10 wavelength
MIN_DELTA_CHI2_PER_DOF = 0.01
MAX_OUTLIER_FRACTION = 0.05  # of the good pixels, beyond 5 sigma


def zwarning(
    chi2: np.ndarray,
    z_err: np.ndarray,
    n_good: np.ndarray,
    coverage: np.ndarray,
    outliers: np.ndarray | None = None,
    negative: np.ndarray | None = None,
) -> np.ndarray:
    """ZWARNING bits (N,) int64 from the class chi-squares ``chi2`` (N, C), the best
    class's redshift error ``z_err`` (N,), the good pixels ``n_good`` (N,) and their span
    in log10 wavelength ``coverage`` (N,); and, when given, the best fit's pixels over 5
    sigma ``outliers`` (N,) (:mod:`.bestfit`) and whether it is a star or quasar with a
    negative first template coefficient ``negative`` (N,)."""
    n = len(chi2)
    flags = np.zeros(n, np.int64)
    if chi2.shape[1] > 1:
        ranked = np.sort(chi2, axis=1)
        gap = ranked[:, 1] - ranked[:, 0]
        # per degree of freedom: gap / n < 0.01 or gap / n < 0.01 * chi2 / n
        need = MIN_DELTA_CHI2_PER_DOF * np.maximum(np.maximum(n_good, 1), ranked[:, 0])
        small = ~(gap >= need)
        flags |= np.where(small, SMALL_DELTA_CHI2, 0)
    flags |= np.where(coverage < MIN_COVERAGE, LITTLE_COVERAGE, 0)
    flags |= np.where(~np.isfinite(z_err), Z_FITLIMIT, 0)
    if outliers is not None:
        many = outliers > MAX_OUTLIER_FRACTION * np.maximum(n_good, 1)
        flags |= np.where(many, MANY_OUTLIERS, 0)
    if negative is not None:
        flags |= np.where(negative, NEGATIVE_MODEL, 0)
    return np.where(n_good > 0, flags, NODATA)
