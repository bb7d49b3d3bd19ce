"""Spectral lines on the log-wavelength grid: Gaussian profiles summed per object.

On a grid uniform in log10(lambda) a line of fixed velocity width has a fixed width in
pixels and redshift is a shift, so each line is drawn only in a window around its
centre. Wavelengths are vacuum Angstrom, as in SDSS spectra.
"""

from __future__ import annotations

import numpy as np

C_KMS = 299792.458
DLOGLAM = 1e-4
PIX_KMS = C_KMS * np.log(10.0) * DLOGLAM  # 69.0 km/s per BOSS pixel
SQRT_2PI = float(np.sqrt(2.0 * np.pi))
MAX_HALF_WINDOW = 700  # pixels


def center_pixel(loglam: np.ndarray, rest_wave: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Fractional pixel of ``rest_wave`` (B, L) observed at redshift ``z`` (B,)."""
    obs = np.log10(rest_wave) + np.log10(1.0 + z)[:, None]
    return (obs - loglam[0]) / DLOGLAM


def profiles(
    loglam: np.ndarray,
    z: np.ndarray,
    rest_wave: np.ndarray,
    sigma_kms: np.ndarray,
    amplitude: np.ndarray,
) -> np.ndarray:
    """Sum of Gaussians of peak ``amplitude`` (B, L) and width ``sigma_kms`` (B, L).

    ``rest_wave`` may be (L,) or (B, L). Returns (B, P).
    """
    n, p = len(z), len(loglam)
    rest_wave = np.broadcast_to(rest_wave, amplitude.shape)
    sigma_pix = np.maximum(np.broadcast_to(sigma_kms, amplitude.shape) / PIX_KMS, 0.3)
    center = center_pixel(loglam, rest_wave, z)
    halves = np.minimum(np.ceil(4.5 * sigma_pix.max(axis=0, initial=1.0)) + 1, MAX_HALF_WINDOW)
    pad = 2 * int(halves.max(initial=1)) + 2
    out = np.zeros((n, p + 2 * pad), np.float32)
    rows = np.arange(n)[:, None]
    for k in range(amplitude.shape[1]):
        half = int(halves[k])
        live = (center[:, k] > -half) & (center[:, k] < p + half) & (amplitude[:, k] != 0)
        if not live.any():
            continue
        c = center[live, k]
        idx = np.rint(c).astype(np.int64)[:, None] + np.arange(-half, half + 1)
        x = ((idx - c[:, None]) / sigma_pix[live, k][:, None]).astype(np.float32)
        # cut at each object's own 4.5 sigma, so a spectrum never depends on its batch
        profile = np.where(np.abs(x) <= 4.5, np.exp(-0.5 * x * x), np.float32(0.0))
        out[rows[live], idx + pad] += amplitude[live, k][:, None].astype(np.float32) * profile
    return out[:, pad : pad + p]


def ew_amplitude(ew_rest: np.ndarray, rest_wave: np.ndarray, sigma_kms: np.ndarray) -> np.ndarray:
    """Peak height, relative to the continuum, of a Gaussian line of rest equivalent width
    ``ew_rest`` (Angstrom); the same at any redshift on a log grid."""
    sigma_pix = np.maximum(sigma_kms / PIX_KMS, 0.3)
    return ew_rest / (SQRT_2PI * sigma_pix * rest_wave * np.log(10.0) * DLOGLAM)


def fwhm_to_sigma(fwhm_kms: np.ndarray | float) -> np.ndarray:
    return np.asarray(fwhm_kms) / 2.3548


def broaden(sigma_kms: np.ndarray | float, instrument_kms: float = 65.0) -> np.ndarray:
    """Intrinsic width combined with the BOSS instrumental resolution (R ~ 2000)."""
    return np.sqrt(np.asarray(sigma_kms) ** 2 + instrument_kms**2)
