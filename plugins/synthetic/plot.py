"""A picture of synthetic spectra of each class, beside real SDSS spec-lite spectra."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.spectra import CLASSES


def read_spec_lite(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, float]:
    """(loglam, flux, ivar, CLASS, Z) of one spec-lite file, columns looked up by name."""
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            coadd = hdul["COADD"] if "COADD" in hdul else hdul[1]
            cols = {c.lower(): c for c in coadd.columns.names}
            data = coadd.data
            loglam = np.asarray(data[cols["loglam"]], np.float64)
            flux = np.asarray(data[cols["flux"]], np.float64)
            ivar = np.asarray(data[cols["ivar"]], np.float64)
            info = hdul[2].data
            icols = {c.lower(): c for c in info.columns.names}
            label = str(info[icols["class"]][0]).strip().upper()
            z = float(info[icols["z"]][0])
    except (OSError, KeyError, IndexError, TypeError) as exc:
        raise BenchError(f"{path}: not a readable spec-lite file ({exc})") from None
    return loglam, flux, ivar, label, z


def _real_examples(real_dir: Path) -> dict[str, tuple]:
    """The first spec-lite file of each class found in ``real_dir`` (searched recursively)."""
    found: dict[str, tuple] = {}
    for path in sorted(real_dir.rglob("spec-*.fits")):
        try:
            loglam, flux, ivar, label, z = read_spec_lite(path)
        except BenchError:
            continue
        if label in CLASSES and label not in found:
            found[label] = (loglam, flux, ivar, z, path.name)
        if len(found) == len(CLASSES):
            break
    return found


def _smooth(flux: np.ndarray, ivar: np.ndarray, width: int = 5) -> np.ndarray:
    kernel = np.ones(width) / width
    good = (ivar > 0).astype(float)
    num = np.convolve(flux * good, kernel, mode="same")
    den = np.convolve(good, kernel, mode="same")
    return np.where(den > 0, num / np.maximum(den, 1e-9), np.nan)


def plot_examples(out_png: Path, real_dir: Path | None = None, seed: int = 0) -> Path:
    """Draw one synthetic spectrum of each class (and a real one beside it when
    ``real_dir`` holds spec-lite files) into ``out_png``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench_plugins.synthetic.dataset import Synthetic

    source = Synthetic(n=30, seed=seed).open()
    picks = [int(np.flatnonzero(source.labels == c)[0]) for c in CLASSES]
    batch = source.read(np.array(picks))
    real = _real_examples(Path(real_dir)) if real_dir is not None else {}
    ncol = 2 if real else 1
    fig, axes = plt.subplots(3, ncol, figsize=(7 * ncol, 8), squeeze=False)
    for row, label in enumerate(CLASSES):
        ax = axes[row, 0]
        ax.plot(10**batch.loglam, _smooth(batch.flux[row], batch.ivar[row]), lw=0.6, color="k")
        sub = batch.meta["subclass"][row]
        ax.set_title(
            f"synthetic {label} {sub} z={batch.redshift[row]:.3f} S/N={batch.snr[row]:.1f}"
        )
        if real:
            ax = axes[row, 1]
            if label in real:
                loglam, flux, ivar, z, name = real[label]
                ax.plot(10**loglam, _smooth(flux, ivar), lw=0.6, color="tab:blue")
                ax.set_title(f"real {label} z={z:.3f} ({name})")
            else:
                ax.set_title(f"real {label}: none found")
    for ax in axes.ravel():
        ax.set_xlabel("observed wavelength (Å)")
        ax.set_ylabel("flux (1e-17 erg/s/cm²/Å)")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return out_png
