"""The BOSS templates of ``template_fit``: spEigenStar, spEigenGal and spEigenQSO read from
FITS files (shipped in the package, or a ``template_dir``), one :class:`ClassTemplates` per
class on its rest-frame log10 grid, and the quasar-plus-host set fitted to low-z quasars."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.readers import find_template_file, read_template_file

FIT_CLASSES = ("STAR", "GALAXY", "QSO")
KEY = "template_fit.template_dir"  # the option that names a folder of one's own
# shipped with the package (package data of bench_plugins, shared with `synthetic`)
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class ClassTemplates:
    """One class's templates on a rest-frame log10 grid: ``flux`` (G, K, T) holds G sets
    of K templates fitted together (stars: G templates of K = 1), unit RMS each."""

    label: str
    loglam0: float
    dloglam: float
    flux: np.ndarray
    names: tuple[str, ...]

    def shifted(self, index: int, loglam: np.ndarray, z: float) -> np.ndarray:
        """(K, P) template set ``index`` redshifted to ``z`` on the observed log10 grid
        ``loglam`` (0 outside the templates)."""
        rest = self.loglam0 + self.dloglam * np.arange(self.flux.shape[-1])
        x = loglam - np.log10(1.0 + z)
        return np.array([np.interp(x, rest, t, left=0.0, right=0.0) for t in self.flux[index]])

    def on_step(self, step: float) -> ClassTemplates:
        """The templates resampled to a grid step ``step`` (unchanged when it matches)."""
        if abs(step - self.dloglam) <= 1e-6 * self.dloglam:
            return self
        t = self.flux.shape[-1]
        old = self.loglam0 + self.dloglam * np.arange(t)
        ratio = step / self.dloglam
        flux = self.flux
        if ratio > 1.5:  # box-average before sampling a coarser grid
            width = int(round(ratio))
            kernel = np.ones(width) / width
            flux = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), -1, flux)
        new = np.arange(self.loglam0, old[-1] + 1e-12, step)
        out = np.stack([np.interp(new, old, r) for r in flux.reshape(-1, t)])
        return ClassTemplates(
            self.label, self.loglam0, step, out.reshape(*flux.shape[:-1], len(new)), self.names
        )


@lru_cache(maxsize=8)
def load_templates(folder: str | None = None) -> dict[str, ClassTemplates]:
    """The spEigenStar/Gal/QSO templates in ``folder`` (default: the ones shipped in the
    package). BenchError naming the folder when a file is missing or unreadable."""
    root = Path(folder) if folder is not None else DEFAULT_TEMPLATE_DIR
    out: dict[str, ClassTemplates] = {}
    for label in FIT_CLASSES:
        found = read_template_file(find_template_file(root, label, KEY), label)
        flux = found.flux / np.sqrt(np.mean(found.flux**2, axis=1, keepdims=True) + 1e-300)
        if label == "STAR":
            flux, names = flux[:, None, :], found.names
        else:
            flux, names = flux[None, :, :], (found.path.stem,)
        out[label] = ClassTemplates(label, found.loglam0, found.dloglam, flux, tuple(names))
    return out


def template_files(folder: str | None) -> list[str]:
    """The file names :func:`load_templates` reads from ``folder`` (None: the shipped ones)."""
    root = DEFAULT_TEMPLATE_DIR if folder is None else Path(folder)
    return [find_template_file(root, label, KEY).name for label in FIT_CLASSES]


def with_host(qso: ClassTemplates, galaxy: ClassTemplates) -> ClassTemplates:
    """The quasar eigen-spectra and the galaxy ones on the quasar's rest grid (zero where
    the galaxy templates end), fitted together at one redshift: a quasar and its host.
    Both must share a grid step (``on_step``)."""
    off = int(round((galaxy.loglam0 - qso.loglam0) / qso.dloglam))
    host = np.zeros((1, galaxy.flux.shape[1], qso.flux.shape[-1]))
    lo, hi = max(off, 0), min(qso.flux.shape[-1], off + galaxy.flux.shape[-1])
    if hi > lo:
        host[..., lo:hi] = galaxy.flux[0, :, lo - off : hi - off]
    flux = np.concatenate([qso.flux, host], axis=1)
    return ClassTemplates("QSO", qso.loglam0, qso.dloglam, flux, (*qso.names, *galaxy.names))
