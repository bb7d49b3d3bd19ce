"""Training-time augmentation of spectra: the ways real SDSS spectra differ from synthetic ones.

:func:`augment_batch` changes a raw :class:`~bench.spectra.SpectrumBatch` (before any
preprocessing or rendering, so it serves the 1-D and the image models alike):

- ``scale``: an overall flux scale, log-normal with ``scale`` dex sigma;
- ``tilt``: a smooth spectrophotometric calibration error, ``10**P(x)`` with ``P`` a
  random Legendre polynomial of degree 1 or 2 in log-wavelength (``x`` from -1 at the blue
  end of the grid to +1 at the red end), ``|P| <= tilt`` dex over the grid;
- ``noise``: the noise level times a random ``f`` in ``[1, 1 + noise]``: adds
  ``N(0, sqrt(f**2 - 1) / sqrt(ivar))`` and divides ivar by ``f**2`` (ivar 0 untouched);
- ``mask``: with this probability, 1-3 stretches of 1-10 % of the pixels each are lost;
- ``trim``: with this probability, only a window of 700-2500 pixels is kept, like the
  real files that cover part of the grid; ``trim_blue`` of those windows start within
  200 pixels of the spectrum's first measured pixel, as the Lyman-alpha forest extracts
  among real files do (the blue end, e.g. 3708-4365 A), the rest anywhere.

Lost pixels get flux 0, ivar 0 and the SDSS ``NODATA`` bit in ``mask``. Scale and tilt
multiply flux and its error alike (ivar divided by the factor squared): a calibration
error keeps the S/N. A transform with 0 does nothing and draws no random numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.interfaces import ModelInput
from bench.options import Option
from bench.spectra import NODATA, SpectrumBatch

MASK_STRETCHES = (1, 3)  # masked stretches per spectrum, inclusive
MASK_FRACTION = (0.01, 0.10)  # length of each stretch, as a fraction of the pixels
TRIM_PIXELS = (700, 2500)  # length of the kept window, inclusive
TRIM_BLUE_OFFSET = 200  # a blue-end window starts at most this many pixels after the first

AUGMENT_OPTIONS = (
    Option(
        "augment",
        bool,
        False,
        "training-time augmentation of the raw training spectra (before preprocessing and "
        "rendering; validation and test spectra never): the augment_* transforms below, "
        "fresh random draws every epoch, bit-identical for any number of workers",
    ),
    Option(
        "augment_scale",
        float,
        0.3,
        "with augment: sigma in dex of a random log-normal flux scale (0: off)",
        ge=0.0,
        le=2.0,
    ),
    Option(
        "augment_tilt",
        float,
        0.08,
        "with augment: largest calibration tilt in dex, exp of a random degree 1-2 "
        "Legendre polynomial in log-wavelength (real blue/red mismatches: ~0.05-0.1; 0: off)",
        ge=0.0,
        le=1.0,
    ),
    Option(
        "augment_noise",
        float,
        1.0,
        "with augment: noise level times a random factor in [1, 1 + this] (0: off)",
        ge=0.0,
        le=10.0,
    ),
    Option(
        "augment_mask",
        float,
        0.3,
        "with augment: probability that a spectrum loses 1-3 stretches of 1-10 % of its "
        "pixels (ivar 0, NODATA; 0: off)",
        ge=0.0,
        le=1.0,
    ),
    Option(
        "augment_trim",
        float,
        0.1,
        "with augment: probability that a spectrum keeps only a window of 700-2500 pixels, "
        "like trimmed real files (0: off)",
        ge=0.0,
        le=1.0,
    ),
    Option(
        "augment_trim_blue",
        float,
        0.0,
        "with augment_trim: share of the kept windows that start at the blue end (within "
        "200 pixels of the first measured one), as Lyman-alpha forest extracts of real "
        "spectra do; the others start anywhere (0: all anywhere)",
        ge=0.0,
        le=1.0,
    ),
)


@dataclass(frozen=True)
class AugmentSettings:
    """How strong each transform is (0 turns it off); see the module docstring."""

    scale: float = 0.3
    tilt: float = 0.08
    noise: float = 1.0
    mask: float = 0.3
    trim: float = 0.1
    trim_blue: float = 0.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AugmentSettings | None:
        """The settings of a model's ``augment_*`` options; None when ``augment`` is off."""
        if not params.get("augment", False):
            return None
        return cls(
            scale=params["augment_scale"],
            tilt=params["augment_tilt"],
            noise=params["augment_noise"],
            mask=params["augment_mask"],
            trim=params["augment_trim"],
            trim_blue=params["augment_trim_blue"],
        )


def augment_batch(
    batch: SpectrumBatch, rng: np.random.Generator, settings: AugmentSettings
) -> SpectrumBatch:
    """``batch`` with every transform of ``settings`` applied (a new batch; ``batch`` is
    not changed). The result is a pure function of the batch, ``rng``'s state and
    ``settings``."""
    n, p = batch.flux.shape
    flux = np.array(batch.flux, dtype=np.float32)
    ivar = np.array(batch.ivar, dtype=np.float32)
    mask = np.array(batch.mask, dtype=np.int32)
    snr = np.array(batch.snr)
    if n == 0:
        return batch.with_arrays(flux=flux, ivar=ivar, mask=mask, snr=snr)
    dex = np.zeros((n, p))
    if settings.scale > 0:
        dex += rng.normal(0.0, settings.scale, (n, 1))
    if settings.tilt > 0:
        dex += tilt_dex(batch.loglam, n, rng, settings.tilt)
    if settings.scale > 0 or settings.tilt > 0:
        factor = np.power(10.0, dex)
        flux = (flux * factor).astype(np.float32)
        ivar = (ivar / factor**2).astype(np.float32)
    if settings.noise > 0:
        f = rng.uniform(1.0, 1.0 + settings.noise, n)
        flux, ivar = add_noise(flux, ivar, f, rng)
        snr = (snr / f).astype(snr.dtype)
    lost = np.zeros((n, p), bool)
    if settings.mask > 0:
        lost |= masked_stretches(n, p, rng, settings.mask)
    if settings.trim > 0:
        first = first_measured(ivar) if settings.trim_blue > 0 else None
        lost |= outside_window(n, p, rng, settings.trim, settings.trim_blue, first)
    flux[lost] = 0.0
    ivar[lost] = 0.0
    mask[lost] |= NODATA
    return batch.with_arrays(flux=flux, ivar=ivar, mask=mask, snr=snr)


def tilt_dex(loglam: np.ndarray, n: int, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """``(n, P)`` log10 factors: per spectrum a Legendre polynomial of degree 1 or 2 in
    log-wavelength, without constant term, scaled so that its largest ``|value|`` over the
    grid is uniform in ``[0, amplitude]``."""
    loglam = np.asarray(loglam, np.float64)
    span = loglam[-1] - loglam[0] if len(loglam) > 1 else 1.0
    x = 2.0 * (loglam - loglam[0]) / (span or 1.0) - 1.0
    basis = np.stack([x, 0.5 * (3.0 * x**2 - 1.0)])  # P1, P2
    coef = rng.uniform(-1.0, 1.0, (n, 2))
    coef[:, 1] *= rng.integers(1, 3, n) == 2  # degree 1 or 2
    poly = coef @ basis
    peak = np.abs(poly).max(axis=1, keepdims=True)
    size = rng.uniform(0.0, amplitude, (n, 1))
    return np.where(peak > 0, poly * size / np.where(peak > 0, peak, 1.0), 0.0)


def add_noise(
    flux: np.ndarray, ivar: np.ndarray, factor: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noise of each spectrum raised ``factor`` times (per row); ivar 0 pixels untouched."""
    measured = ivar > 0
    sigma = np.zeros_like(ivar)
    sigma[measured] = 1.0 / np.sqrt(ivar[measured])
    extra = np.sqrt(factor**2 - 1.0).astype(np.float32)[:, None]
    draws = rng.standard_normal(flux.shape, dtype=np.float32)
    flux = np.where(measured, flux + draws * extra * sigma, flux).astype(np.float32)
    ivar = np.where(measured, ivar / (factor**2).astype(np.float32)[:, None], ivar)
    return flux, ivar.astype(np.float32)


def masked_stretches(n: int, p: int, rng: np.random.Generator, probability: float) -> np.ndarray:
    """``(n, p)`` True on the lost pixels: with ``probability`` a spectrum gets 1-3
    stretches each 1-10 % of ``p`` long, at random places."""
    lost = np.zeros((n, p), bool)
    hit = rng.random(n) < probability
    count = rng.integers(MASK_STRETCHES[0], MASK_STRETCHES[1] + 1, n)
    most = MASK_STRETCHES[1]
    length = np.clip(np.round(rng.uniform(*MASK_FRACTION, (n, most)) * p), 1, p).astype(int)
    start = np.floor(rng.random((n, most)) * (p - length + 1)).astype(int)
    end = start + length
    pixels = np.arange(p)
    for k in range(most):
        inside = (pixels >= start[:, k, None]) & (pixels < end[:, k, None])
        lost |= (hit & (count > k))[:, None] & inside
    return lost


def outside_window(
    n: int,
    p: int,
    rng: np.random.Generator,
    probability: float,
    blue: float = 0.0,
    first: np.ndarray | None = None,
) -> np.ndarray:
    """``(n, p)`` True outside the kept window: with ``probability`` a spectrum keeps only
    a contiguous window of 700-2500 pixels (all of them when ``p`` is shorter). With
    ``blue`` > 0, that share of the windows starts 0-200 pixels after ``first`` (each
    spectrum's first measured pixel, 0 when None), the rest anywhere; ``blue`` 0 draws
    exactly what it did before the option existed."""
    hit = rng.random(n) < probability
    width = np.minimum(rng.integers(TRIM_PIXELS[0], TRIM_PIXELS[1] + 1, n), p)
    start = np.floor(rng.random(n) * (p - width + 1)).astype(int)
    if blue > 0:
        at_blue = rng.random(n) < blue
        offset = rng.integers(0, TRIM_BLUE_OFFSET + 1, n)
        base = np.zeros(n, int) if first is None else np.asarray(first, int)
        start = np.where(at_blue, np.minimum(base + offset, p - width), start)
    pixels = np.arange(p)
    inside = (pixels >= start[:, None]) & (pixels < (start + width)[:, None])
    return hit[:, None] & ~inside


def first_measured(ivar: np.ndarray) -> np.ndarray:
    """Index of each row's first pixel with ivar > 0 (0 for a row with none)."""
    measured = np.asarray(ivar) > 0
    return np.where(measured.any(axis=1), measured.argmax(axis=1), 0)


def augmented(inputs: ModelInput, params: Mapping[str, Any]) -> ModelInput:
    """``inputs`` with the transforms of a model's ``augment_*`` options applied to its raw
    spectra (:meth:`ModelInput.with_augmentation`); ``inputs`` itself when ``augment`` is
    off, so training without it is exactly as before."""
    settings = AugmentSettings.from_params(params)
    if settings is None:
        return inputs
    return inputs.with_augmentation(partial(augment_batch, settings=settings))


def check_augment_options(params: Mapping[str, Any]) -> None:
    """BenchError when an ``augment_*`` option differs from its default while ``augment``
    is off: it would be silently ignored."""
    if params.get("augment"):
        return
    changed = [
        o.name
        for o in AUGMENT_OPTIONS
        if o.name != "augment" and o.name in params and params[o.name] != o.default
    ]
    if changed:
        raise BenchError(
            f"{changed[0]} = {params[changed[0]]!r} is set, but augment = false, so it would "
            "be ignored; set augment = true (or remove the augment_* options)"
        )
