"""The realism discriminator's features: simple, interpretable and independent of the
flux scale (band colours, the two arms' noise ratio, masked fraction, residual power in
the blue, red, sky-line and OH regions, the 4000 A break, line strengths)."""

from __future__ import annotations

import numpy as np

from bench.spectra import SpectrumBatch

BANDS = [(3600, 4200), (4200, 4900), (4900, 5600), (5600, 6300), (6300, 7100), (7100, 7900),
         (7900, 8700), (8700, 9500), (9500, 10300)]  # fmt: skip
# rest-frame lines (A) and half-widths of the line window (A)
LINES = [("LyA", 1215.7, 40), ("CIV", 1549.1, 40), ("CIII", 1908.7, 40), ("MgII", 2799.1, 40),
         ("OII", 3728.5, 12), ("CaK", 3934.8, 10), ("Hdelta", 4102.9, 12), ("Hbeta", 4862.7, 25),
         ("OIII", 5008.2, 10), ("Mgb", 5176.0, 20), ("NaD", 5894.0, 12),
         ("Halpha", 6564.6, 30)]  # fmt: skip
SKY = [5578.9, 6302.0, 6365.5]


def _mean(flux: np.ndarray, good: np.ndarray, sel: np.ndarray) -> float:
    m = good & sel
    return float(flux[m].mean()) if m.sum() >= 5 else np.nan


def _log_ratio(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)) or b <= 0:
        return np.nan
    return float(np.clip(np.log10(max(a, 1e-3 * b) / b), -3.0, 3.0))


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    pad = width // 2
    padded = np.pad(x, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.median(windows, axis=1)


def feature_names() -> list[str]:
    """The names of the columns :func:`features` returns, in order."""
    names = [f"colour_{lo}_{hi}" for lo, hi in BANDS]
    names += ["arm_red_blue", "dichroic_step", "log_snr", "noise_red_blue", "masked_fraction",
              "first_good_A", "last_good_A", "scatter_blue", "scatter_red", "scatter_sky",
              "scatter_oh", "negative_fraction", "d4000"]  # fmt: skip
    names += [f"ew_{name}" for name, _, _ in LINES]
    return names


def feature_unit(name: str) -> str:
    """What :func:`features` measures column ``name`` in, for an axis label: ``dex`` for
    log10 flux ratios, S/N and residual power, ``Å`` for wavelengths and rest-frame
    equivalent widths, ``fraction`` for shares of pixels."""
    if name.startswith("ew_"):
        return "rest-frame equivalent width (Å)"
    if name.endswith("_A"):
        return "observed wavelength (Å)"
    if name.endswith("_fraction"):
        return "fraction of pixels"
    if name == "log_snr":
        return "log10 median S/N per pixel (dex)"
    if name.startswith("scatter_"):
        return "log10 mean (residual / noise)² (dex)"
    if name == "noise_red_blue":
        return "log10 red / blue noise (dex)"
    return "log10 flux ratio (dex)"  # colours, arm ratio, dichroic step, d4000


def features(batch: SpectrumBatch, redshift: np.ndarray | None = None) -> np.ndarray:
    """(N, F) features of ``batch`` (NaN where not measurable), columns :func:`feature_names`.

    ``redshift`` defaults to ``batch.redshift`` (the catalogue's) for the rest-frame ones.
    """
    z_all = np.asarray(batch.redshift if redshift is None else redshift, np.float64)
    lam = np.power(10.0, np.asarray(batch.loglam, np.float64))
    out = np.full((len(batch), len(feature_names())), np.nan)
    sky = np.zeros(len(lam), bool)
    for w in SKY:
        sky |= np.abs(lam - w) < 4.0
    oh = (lam > 8000) & (lam < 10000)
    blue, red = (lam > 3800) & (lam < 5800), (lam > 6200) & (lam < 9000)
    for i in range(len(batch)):
        flux = np.asarray(batch.flux[i], np.float64)
        ivar = np.asarray(batch.ivar[i], np.float64)
        good = np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0)
        row: list[float] = []
        total = _mean(flux, good, np.ones(len(lam), bool))
        row += [_log_ratio(_mean(flux, good, (lam >= lo) & (lam < hi)), total) for lo, hi in BANDS]
        row.append(_log_ratio(_mean(flux, good, red), _mean(flux, good, blue)))
        row.append(
            _log_ratio(
                _mean(flux, good, (lam > 6050) & (lam < 6250)),
                _mean(flux, good, (lam > 5750) & (lam < 5950)),
            )
        )
        if good.sum() < 20:
            out[i, : len(row)] = row
            continue
        sig = 1.0 / np.sqrt(ivar[good])
        snr = np.median(flux[good] / sig)
        row.append(float(np.log10(max(snr, 0.01))))
        gb, gr = good & blue, good & red
        row.append(
            float(np.log10(np.median(1 / np.sqrt(ivar[gr])) / np.median(1 / np.sqrt(ivar[gb]))))
            if gb.sum() > 10 and gr.sum() > 10
            else np.nan
        )
        row.append(float(1.0 - good.mean()))
        idx = np.flatnonzero(good)
        row += [float(lam[idx[0]]), float(lam[idx[-1]])]
        row += _residual_power(flux, ivar, good, (blue, red, sky, oh))
        row.append(float((flux[good] < 0).mean()))
        z = z_all[i] if np.isfinite(z_all[i]) else 0.0
        rest = lam / (1.0 + z)
        row.append(
            _log_ratio(
                _mean(flux, good, (rest > 4000) & (rest < 4100)),
                _mean(flux, good, (rest > 3850) & (rest < 3950)),
            )
        )
        row += _line_strengths(flux, good, rest)
        out[i] = row
    return out


def _line_strengths(flux: np.ndarray, good: np.ndarray, rest: np.ndarray) -> list[float]:
    """Equivalent-width-like strength of each line of ``LINES`` (NaN where not covered)."""
    row = []
    for _, centre, half in LINES:
        core = (rest > centre - half) & (rest < centre + half)
        side = ((rest > centre - 3 * half) & (rest < centre - 1.5 * half)) | (
            (rest > centre + 1.5 * half) & (rest < centre + 3 * half)
        )
        mc, ms = good & core, good & side
        if mc.sum() < 3 or ms.sum() < 3:
            row.append(np.nan)
            continue
        cont = np.median(flux[ms])
        scale = max(abs(cont), np.median(np.abs(flux[good])) * 0.05, 1e-6)
        ew = np.mean(flux[mc] - cont) / scale * 2 * half
        row.append(float(np.clip(ew, -500.0, 2000.0)))
    return row


def _residual_power(
    flux: np.ndarray, ivar: np.ndarray, good: np.ndarray, regions: tuple[np.ndarray, ...]
) -> list[float]:
    """log10 mean squared noise-normalised residual from a running median, per region."""
    resid = np.zeros(len(flux))
    resid[good] = (flux[good] - _running_median(flux[good], 15)) * np.sqrt(ivar[good])
    row = []
    for sel in regions:
        m = good & sel
        row.append(float(np.log10(np.mean(resid[m] ** 2) + 1e-3)) if m.sum() >= 5 else np.nan)
    return row
