"""Template mode: spectra built from the SDSS pipeline templates (spEigenStar, spEigenGal,
spEigenQSO FITS) in a user-given folder, instead of the physical model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.readers import TemplateFile
from bench_plugins.synthetic.photometry import ab_flux, scale_to
from bench_plugins.synthetic.template_files import SHIPPED_DIR, load

__all__ = ["MAG", "SHIPPED_DIR", "combine", "load", "spectra", "star_weights"]

MAG = {"STAR": (16.5, 21.0), "GALAXY": (18.0, 20.0), "QSO": (19.0, 21.8)}


def combine(
    t: TemplateFile, label: str, u: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One rest-frame spectrum per object: a stellar template, or eigen-spectra mixed with
    random coefficients around the first (mean-like) component. Returns (flux, name)."""
    if label == "STAR":
        cdf = np.cumsum(star_weights(t.names))
        pick = np.minimum(np.searchsorted(cdf / cdf[-1], u[:, 0], side="right"), len(t.flux) - 1)
        return t.flux[pick], np.array(t.names, dtype=object)[pick]
    scale = np.median(np.abs(t.flux[0])) / np.maximum(t.flux.std(axis=1), 1e-30)
    coeff = np.concatenate(
        [np.ones((len(u), 1)), 0.25 * n[:, : len(t.flux) - 1] * scale[1:]], axis=1
    )
    flux = sum(
        coeff[:, k : k + 1] * t.flux[k] for k in range(len(t.flux))
    )  # not BLAS: batch-independent
    floor = 0.02 * np.median(np.abs(flux), axis=1, keepdims=True)
    return np.maximum(flux, floor), np.full(len(u), "EIGEN", dtype=object)


def star_weights(names: Sequence[str]) -> np.ndarray:
    """Pick weight of each stellar template: its type's share in ``stars.WEIGHTS`` (the
    SDSS/BOSS stellar population) split evenly among the templates of that type (O..M by
    the name's first letter, sd* as the letter after it, *WD*; the rest, carbon stars and
    L dwarfs among them, share 1 %). spEigenStar has 49 O/B/A of its 123 templates: drawn
    uniformly, 40 % of the stars had strong Balmer lines."""
    from bench_plugins.synthetic.stars import SUBCLASSES, WEIGHTS

    def kind(name: str) -> str:
        name = name.removeprefix("sd:").removeprefix("sd")
        return "WD" if "WD" in name else name[:1] if name[:1] in "OBAFGKM" else ""

    kinds = [kind(n) for n in names]
    share = dict(zip(SUBCLASSES, WEIGHTS / WEIGHTS.sum(), strict=True)) | {"": 0.01}
    return np.array([share[k] / kinds.count(k) for k in kinds])


def spectra(
    t: TemplateFile, label: str, loglam: np.ndarray, z: np.ndarray, u: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(flux, covered, meta) on ``loglam``; ``covered`` is False beyond the templates."""
    rest, names = combine(t, label, u, n)
    flux = np.zeros((len(z), len(loglam)))
    covered = np.zeros((len(z), len(loglam)), bool)
    for i in range(len(z)):
        x = loglam - np.log10(1.0 + z[i])
        covered[i] = (x >= t.loglam[0]) & (x <= t.loglam[-1])
        flux[i] = np.interp(x, t.loglam, rest[i])
    lo, hi = MAG[label]
    band = np.full(len(z), 6200.0)
    flux = scale_to(flux, loglam, band, ab_flux(lo + (hi - lo) * u[:, 1], band))
    return flux, covered, {"subclass": names}
