"""``template_fit``: classification by redshifted template fitting, the way the SDSS
pipeline (idlspec2d ``spreduce1d``) and DESI's redrock do it.

For each class its templates (spEigenStar: 123 stellar templates fitted one at a time;
spEigenGal, spEigenQSO: 4 eigen-spectra fitted together) plus ``n_poly`` observed-frame
Legendre polynomials are fitted to the spectrum by weighted linear least squares at every
trial redshift of a grid suited to the class (stars: +-``star_v_kms``; galaxies and
quasars: ``galaxy_z`` and ``qso_z``). A class's score is its best chi-square; class
probabilities are ``softmax(-(chi2 - min chi2) / (2 T))`` with the temperature ``T``
calibrated on (a sample of) the training split by minimising the log-loss. The fit itself
needs no training data: the predicted class never depends on the training split.

The chi-square scan is redrock's ``_zchi2_batch`` in closed form: for every spectrum,
redshift and template set, ``M = T^T W T`` and ``y = T^T W f`` and one small solve
``a = M^-1 y``, ``chi2 = f^T W f - y^T a``, all at once. On a log10-wavelength grid a
redshift is an integer pixel shift, so every entry of ``M`` and ``y`` for all shifts is one
cross-correlation of a data-side array (``w``, ``w L_k``, ``w f``) with a template-side
array (``t_i``, ``t_i t_j``): computed by FFT for the long galaxy and quasar grids (every
pixel, ~3,000 and ~8,000 trial redshifts) and by shifted-window matrix products for the
short stellar grid. The same function runs with numpy (float64) or jax.numpy
(jit-compiled, batched on a GPU; float64 by default, ``precision = "float32"`` for speed
on GPUs with slow float64 at ~1e-4 relative chi-square error): option ``backend``.

Wavelengths and inverse variances: a flux feed carries neither, so the model reads the
spectra (``SpectrumBatch``: ``loglam``, ``flux``, ``ivar``, ``mask``) from the feed's
source (``feed.source.read(feed.index[...])``), raw by default or through the run's
preprocessing steps with ``apply_preprocess = true``. A feed without a source falls back
to its rendered flux vectors on the BOSS grid (``bench.spectra.boss_grid``) with unit
weights.

Per-object results: :meth:`TemplateFit.redshifts` gives the best redshift of every class
``(N, n_classes)``, :meth:`TemplateFit.fit_results` also the chi-squares and the best
stellar template; both reuse the fits ``predict_proba`` made (cached by spectrum).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Model
from bench.options import Option
from bench.spectra import BOSS_DLOGLAM, BOSS_LOGLAM0, SpectrumBatch

if TYPE_CHECKING:
    from bench.feed import Feed

C_KMS = 299792.458
FIT_CLASSES = ("STAR", "GALAXY", "QSO")
TEMPLATE_FILES = {
    "STAR": "spEigenStar-*.fits",
    "GALAXY": "spEigenGal-*.fits",
    "QSO": "spEigenQSO-*.fits",
}
# shipped with the package (package data of bench_plugins, shared with `synthetic`)
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
# SDSS and_mask bits that exclude a pixel: FULLREJECT, NODATA, COMBINEREJ
FATAL_BITS = (1 << 18) | (1 << 24) | (1 << 25)
# above this many trial shifts the correlations go through the FFT
DIRECT_MAX_SHIFTS = 96


@dataclass(frozen=True)
class ClassTemplates:
    """One class's templates on a rest-frame log10 grid: ``flux`` (G, K, T) holds G sets
    of K templates fitted together (stars: G templates of K = 1), unit RMS each."""

    label: str
    loglam0: float
    dloglam: float
    flux: np.ndarray
    names: tuple[str, ...]

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
    from astropy.io import fits

    root = Path(folder) if folder is not None else DEFAULT_TEMPLATE_DIR
    out: dict[str, ClassTemplates] = {}
    for label, pattern in TEMPLATE_FILES.items():
        found = sorted(root.glob(pattern))
        if not found:
            raise BenchError(f"template_fit.template_dir: no {pattern} in {root}")
        try:
            with fits.open(found[-1]) as hdul:
                header = hdul[0].header
                flux = np.asarray(hdul[0].data, dtype=np.float64)
                c0, c1 = float(header["COEFF0"]), float(header["COEFF1"])
                names = [str(header.get(f"NAME{i}", f"{label}{i}")) for i in range(len(flux))]
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise BenchError(f"{found[-1]}: not a readable SDSS template file ({exc})") from None
        if flux.ndim != 2 or not np.isfinite(flux).all():
            raise BenchError(f"{found[-1]}: expected a finite (templates, pixels) image")
        flux = flux / np.sqrt(np.mean(flux**2, axis=1, keepdims=True) + 1e-300)
        if label == "STAR":
            flux, names = flux[:, None, :], names
        else:
            flux, names = flux[None, :, :], [found[-1].stem]
        out[label] = ClassTemplates(label, c0, c1, flux, tuple(names))
    return out


# --------------------------------------------------------------------------------------
# the chi-square scan, shared by numpy and jax.numpy (``xp``)


def _correlate(xp: Any, a: Any, b: Any, first: int, count: int, method: str, nfft: int) -> Any:
    """``out[..., s] = sum_p a[n, c, p] * b[..., p - first - s]`` for s in 0..count-1.

    ``a`` (N, C, P), ``b`` (..., T) zero outside 0..T-1. Returns (N, C, *b.shape[:-1], count).
    """
    n, c, p = a.shape
    lead = b.shape[:-1]
    t = b.shape[-1]
    if method == "fft":
        fa = xp.fft.rfft(a, n=nfft, axis=-1)
        fb = xp.conj(xp.fft.rfft(b, n=nfft, axis=-1))
        fa = fa.reshape(n, c, *([1] * len(lead)), fa.shape[-1])
        full = xp.fft.irfft(fa * fb, n=nfft, axis=-1)
        idx = np.mod(first + np.arange(count), nfft)
        return xp.take(full, xp.asarray(idx), axis=-1)
    # direct: one matrix product against the shifted windows of b
    q = np.arange(p)[None, :] - (first + np.arange(count))[:, None]  # (S, P)
    valid = (q >= 0) & (q < t)
    windows = xp.take(b, xp.asarray(np.clip(q, 0, t - 1)), axis=-1)  # (..., S, P)
    windows = windows * xp.asarray(valid, dtype=windows.dtype)
    out = a.reshape(n * c, p) @ windows.reshape(-1, p).T
    return out.reshape(n, c, *lead, count)


def chi2_scan(
    xp: Any,
    flux: Any,
    weight: Any,
    poly: Any,
    templates: Any,
    first: int,
    count: int,
    method: str,
    nfft: int,
    constrain: bool,
) -> Any:
    """Best-fit chi-square (N, G, S) of ``templates`` (G, K, T) plus the observed-frame
    ``poly`` (m, P) to ``flux`` (N, P) with weights ``weight`` (N, P), at template shifts
    ``first .. first + count - 1`` (observed pixel p sees template pixel p - shift).

    With ``constrain`` a fit whose first template coefficient is negative (an upside-down
    spectrum) scores the polynomial-only chi-square instead.
    """
    g, k, _ = templates.shape
    m = poly.shape[0]
    wf = weight * flux
    data = xp.concatenate([weight[:, None, :] * poly[None, :, :], wf[:, None, :]], axis=1)
    tt = templates[:, :, None, :] * templates[:, None, :, :]  # (G, K, K, T)
    c_tt = _correlate(xp, weight[:, None, :], tt, first, count, method, nfft)[:, 0]
    c_dt = _correlate(xp, data, templates, first, count, method, nfft)  # (N, m+1, G, K, S)
    n = flux.shape[0]
    s = count
    m_tt = xp.moveaxis(c_tt, -1, 2)  # (N, G, S, K, K)
    m_tp = xp.moveaxis(xp.moveaxis(c_dt[:, :m], 1, -1), -2, 2)  # (N, G, S, K, m)
    y_t = xp.moveaxis(c_dt[:, m], -1, 2)  # (N, G, S, K)
    pp = xp.einsum("np,kp,lp->nkl", weight, poly, poly)  # (N, m, m)
    y_p = xp.einsum("np,kp->nk", wf, poly)  # (N, m)
    f2 = xp.sum(wf * flux, axis=-1)  # (N,)
    pp_b = xp.broadcast_to(pp[:, None, None], (n, g, s, m, m))
    top = xp.concatenate([m_tt, m_tp], axis=-1)
    bottom = xp.concatenate([xp.swapaxes(m_tp, -1, -2), pp_b], axis=-1)
    mat = xp.concatenate([top, bottom], axis=-2)  # (N, G, S, K+m, K+m)
    y = xp.concatenate([y_t, xp.broadcast_to(y_p[:, None, None], (n, g, s, m))], axis=-1)
    diag = xp.diagonal(mat, axis1=-2, axis2=-1)
    eps = 1e-9 if mat.dtype == np.float64 else 1e-5
    scale = xp.max(diag, axis=-1, keepdims=True)
    ridge = eps * diag + 1e-12 * scale + 1e-30
    mat = mat + ridge[..., None] * xp.eye(k + m, dtype=mat.dtype)
    coef = xp.linalg.solve(mat, y[..., None])[..., 0]
    chi2 = f2[:, None, None] - xp.sum(coef * y, axis=-1)
    if constrain:
        if m:
            pp_r = pp + (eps * xp.diagonal(pp, axis1=-2, axis2=-1) + 1e-30)[..., None] * xp.eye(
                m, dtype=pp.dtype
            )
            a_p = xp.linalg.solve(pp_r, y_p[..., None])[..., 0]
            chi2_p = f2 - xp.sum(a_p * y_p, axis=-1)
        else:
            chi2_p = f2
        chi2 = xp.where(coef[..., 0] < 0, chi2_p[:, None, None], chi2)
    return chi2


@lru_cache(maxsize=1)
def _jax_scan() -> Any:
    import jax
    import jax.numpy as jnp

    return jax.jit(
        partial(chi2_scan, jnp),
        static_argnames=("first", "count", "method", "nfft", "constrain"),
    )


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (fast FFT sizes)."""
    best = 1 << (n - 1).bit_length()
    f5 = 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            f = f35
            while f < n:
                f *= 2
            best = min(best, f)
            f35 *= 3
        f5 *= 5
    return best


# --------------------------------------------------------------------------------------
# fitting spectra


@dataclass(frozen=True)
class FitSettings:
    """Search ranges and fit settings (the model's options)."""

    n_poly: int = 3
    star_v_kms: float = 600.0
    galaxy_z: tuple[float, float] = (-0.005, 1.2)
    qso_z: tuple[float, float] = (0.0, 6.0)
    constrain: bool = True
    backend: str = "numpy"  # "numpy" or "jax"
    precision: str = "float64"  # of the jax path: "float64" or "float32"


def _z_range(label: str, settings: FitSettings) -> tuple[float, float]:
    if label == "STAR":
        v = settings.star_v_kms / C_KMS
        return -v, v
    return settings.galaxy_z if label == "GALAXY" else settings.qso_z


def uniform_grid(loglam: np.ndarray) -> tuple[float, float, np.ndarray | None]:
    """(start, step, index) of a log10 grid: index None when ``loglam`` is uniform, else
    positions (fractional) of a uniform grid of the median step to interpolate onto."""
    steps = np.diff(loglam)
    step = float(np.median(steps)) if len(steps) else BOSS_DLOGLAM
    if len(steps) and np.allclose(steps, step, rtol=1e-3, atol=0):
        return float(loglam[0]), step, None
    new = np.arange(loglam[0], loglam[-1] + 0.5 * step, step)
    return float(loglam[0]), step, np.interp(new, loglam, np.arange(len(loglam)))


def prepare(batch: SpectrumBatch) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(loglam0, step, flux, weight) float64 on a uniform log grid; weight 0 where the
    pixel has no inverse variance, a non-finite value or a fatal mask bit (NODATA,
    FULLREJECT, COMBINEREJ: like the SDSS pipeline, other and_mask bits are kept); each spectrum scaled
    to unit typical flux (chi-square unchanged)."""
    flux = np.asarray(batch.flux, np.float64)
    ivar = np.asarray(batch.ivar, np.float64)
    fatal = (np.asarray(batch.mask) & FATAL_BITS) != 0
    good = np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0) & ~fatal
    weight = np.where(good, ivar, 0.0)
    flux = np.where(good, flux, 0.0)
    start, step, pos = uniform_grid(np.asarray(batch.loglam, np.float64))
    if pos is not None:
        lo = np.clip(np.floor(pos).astype(int), 0, flux.shape[1] - 1)
        hi = np.clip(lo + 1, 0, flux.shape[1] - 1)
        frac = pos - lo
        flux = flux[:, lo] * (1 - frac) + flux[:, hi] * frac
        weight = np.where(
            (weight[:, lo] > 0) & (weight[:, hi] > 0), np.minimum(weight[:, lo], weight[:, hi]), 0.0
        )
    scale = np.array(
        [
            np.median(np.abs(f[w > 0])) if (w > 0).sum() else 1.0
            for f, w in zip(flux, weight, strict=True)
        ]
    )
    scale = np.where(scale > 0, scale, 1.0)
    return start, step, flux / scale[:, None], weight * scale[:, None] ** 2


def legendre(n_poly: int, n_pixels: int) -> np.ndarray:
    """(n_poly, P) Legendre polynomials over the observed grid."""
    if n_poly == 0:
        return np.zeros((0, n_pixels))
    x = np.linspace(-1.0, 1.0, n_pixels)
    return np.polynomial.legendre.legvander(x, n_poly - 1).T.copy()


def fit_spectra(
    loglam0: float,
    step: float,
    flux: np.ndarray,
    weight: np.ndarray,
    templates: Mapping[str, ClassTemplates],
    settings: FitSettings,
    chunk: int = 32,
) -> dict[str, np.ndarray]:
    """Fit every class to the spectra ``flux``/``weight`` (N, P) on the log10 grid
    ``loglam0 + step * arange(P)``, ``chunk`` spectra at a time.

    Returns ``chi2`` (N, 3) and ``z`` (N, 3) in the order of ``FIT_CLASSES``, ``star``
    (N,) index of the best stellar template and ``n_good`` (N,) pixels with weight.
    """
    parts = []
    for start in range(0, max(len(flux), 1), chunk):
        f, w = flux[start : start + chunk], weight[start : start + chunk]
        if settings.backend == "jax":
            with _x64(settings.precision == "float64"):
                parts.append(_fit_classes(loglam0, step, f, w, templates, settings))
        else:
            parts.append(_fit_classes(loglam0, step, f, w, templates, settings))
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def _x64(on: bool) -> Any:
    """A context in which jax computes in float64 (``on``) or float32."""
    import jax

    state = getattr(jax, "enable_x64", None)
    if callable(state):
        try:
            return state(on)
        except TypeError:  # pragma: no cover - older jax
            pass
    from jax.experimental import disable_x64, enable_x64  # pragma: no cover - older jax

    return enable_x64() if on else disable_x64()  # pragma: no cover


def _fit_classes(
    loglam0: float,
    step: float,
    flux: np.ndarray,
    weight: np.ndarray,
    templates: Mapping[str, ClassTemplates],
    settings: FitSettings,
) -> dict[str, np.ndarray]:
    n, p = flux.shape
    poly = legendre(settings.n_poly, p)
    chi2 = np.zeros((n, len(FIT_CLASSES)))
    zbest = np.full((n, len(FIT_CLASSES)), np.nan)
    star = np.zeros(n, np.int64)
    if settings.backend == "jax":
        import jax.numpy as jnp

        scan = _jax_scan()
        dtype = jnp.float64 if settings.precision == "float64" else jnp.float32
        cast = partial(jnp.asarray, dtype=dtype)
    else:
        scan = partial(chi2_scan, np)
        cast = partial(np.asarray, dtype=np.float64)
    for c, label in enumerate(FIT_CLASSES):
        t = templates[label].on_step(step)
        tlen = t.flux.shape[-1]
        offset = loglam0 - t.loglam0  # log10(1+z) = offset + step * shift
        lo, hi = _z_range(label, settings)
        s_lo = int(np.ceil((np.log10(1 + lo) - offset) / step))
        s_hi = int(np.floor((np.log10(1 + hi) - offset) / step))
        s_lo, s_hi = max(s_lo, -(tlen - 1)), min(s_hi, p - 1)
        if s_hi < s_lo:
            raise BenchError(
                f"template_fit: the {label} templates do not reach the spectra's wavelengths "
                "in the redshift range searched"
            )
        # cut the templates to the rest pixels any trial shift can see
        q0, q1 = max(0, -s_hi), min(tlen, p - s_lo)
        tcut = t.flux[..., q0:q1]
        count = s_hi - s_lo + 1
        method = "direct" if count <= DIRECT_MAX_SHIFTS else "fft"
        nfft = _fast_len(p + tcut.shape[-1]) if method == "fft" else 0
        res = scan(
            cast(flux), cast(weight), cast(poly), cast(tcut),
            first=s_lo + q0, count=count, method=method, nfft=nfft,
            constrain=settings.constrain,
        )  # fmt: skip
        res = np.asarray(res, np.float64)  # (N, G, S)
        flat = res.reshape(n, -1).argmin(axis=1)
        g_best, s_best = np.unravel_index(flat, res.shape[1:])
        rows = np.arange(n)
        chi2[:, c] = res[rows, g_best, s_best]
        # parabola through the minimum and its neighbours: sub-pixel redshift
        left = res[rows, g_best, np.maximum(s_best - 1, 0)]
        right = res[rows, g_best, np.minimum(s_best + 1, count - 1)]
        curv = left + right - 2 * chi2[:, c]
        inner = (s_best > 0) & (s_best < count - 1) & (curv > 0)
        frac = np.where(inner, 0.5 * (left - right) / np.where(curv > 0, curv, 1.0), 0.0)
        zbest[:, c] = np.power(10.0, offset + step * (s_lo + s_best + np.clip(frac, -0.5, 0.5))) - 1
        if label == "STAR":
            star = g_best.astype(np.int64)
    n_good = (weight > 0).sum(axis=1)
    zbest[n_good == 0] = np.nan
    chi2[n_good == 0] = 0.0
    return {"chi2": chi2, "z": zbest, "star": star, "n_good": n_good}


def probabilities(chi2: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(-(chi2 - min chi2) / (2 T)) along the last axis."""
    logits = -(chi2 - chi2.min(axis=-1, keepdims=True)) / (2.0 * temperature)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(chi2: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the log-loss of :func:`probabilities` for labels ``y``."""
    from scipy.optimize import minimize_scalar

    known = y >= 0
    if not known.any():
        return 1.0
    chi2, y = chi2[known], y[known]

    def loss(log_t: float) -> float:
        p = probabilities(chi2, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    best = minimize_scalar(loss, bounds=(np.log(1e-2), np.log(1e7)), method="bounded")
    return float(np.exp(best.x))


# --------------------------------------------------------------------------------------
# the model plugin


class TemplateFit(Model):
    name = "template_fit"
    description = "SDSS/redrock-style redshifted template fit (spEigen templates + polynomial)"
    input_kind = "flux"
    options = (
        Option("template_dir", str, None, "folder with spEigenStar/Gal/QSO FITS (None: shipped)"),
        Option("n_poly", int, 3, "observed-frame Legendre polynomial terms added to each fit"),
        Option("star_v_kms", float, 600.0, "stars: radial velocities searched, +- km/s"),
        Option(
            "galaxy_z", list, [-0.005, 1.2], "galaxies: redshift range [min, max]", item_type=float
        ),
        Option("qso_z", list, [0.0, 6.0], "quasars: redshift range [min, max]", item_type=float),
        Option("constrain", bool, True, "refuse fits with a negative first-template coefficient"),
        Option(
            "backend",
            str,
            "auto",
            "array library: auto = jax on an accelerator, else numpy",
            choices=("auto", "numpy", "jax"),
        ),  # fmt: skip
        Option(
            "precision",
            str,
            "float64",
            "jax path arithmetic (numpy is always float64)",
            choices=("float64", "float32"),
        ),  # fmt: skip
        Option("batch", int, 32, "spectra fitted together"),
        Option("calibration_size", int, 400, "training spectra used to fit the temperature"),
        Option("apply_preprocess", bool, False, "fit the run's preprocessed spectra, not raw ones"),
    )
    quick_options: ClassVar[dict[str, Any]] = {"calibration_size": 100}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        for key in ("galaxy_z", "qso_z"):
            z = p[key]
            if len(z) != 2 or not -0.1 <= z[0] < z[1] <= 10.0:
                raise BenchError(
                    f"template_fit.{key}: expected [min, max] within -0.1..10, got {z!r}"
                )
        if not 0 <= p["n_poly"] <= 10:
            raise BenchError(f"template_fit.n_poly: expected 0..10, got {p['n_poly']}")
        if not 0.0 <= p["star_v_kms"] <= 5000.0:
            raise BenchError(f"template_fit.star_v_kms: expected 0..5000, got {p['star_v_kms']}")
        if p["batch"] < 1 or p["calibration_size"] < 1:
            raise BenchError("template_fit.batch and calibration_size: expected positive integers")
        self.classes: list[str] = []
        self.shape: tuple[int, ...] = ()
        self.seed = 0
        self.temperature = 1.0
        self.fitted = False
        self._cache: dict[bytes, tuple[np.ndarray, np.ndarray, int]] = {}
        self.last_results: dict[str, np.ndarray] | None = None

    # -- Model API ----------------------------------------------------------------------

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        return (int(n_pixels), 1)

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        self.classes, self.shape, self.seed = list(classes), tuple(input_shape), int(seed)
        if not set(self.classes) & set(FIT_CLASSES):
            raise BenchError(
                f"model template_fit: classes {self.classes} hold none of {list(FIT_CLASSES)}"
            )
        self.temperature, self.fitted = 1.0, False
        self.templates()  # fail early on a bad template_dir

    def fit(
        self, train: Feed, validation: Feed | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        size = self.params["calibration_size"]
        train_pos = self._sample(train, size, 0)
        if not self.fitted:
            chi2 = self._chi2(train, train_pos)
            self.temperature = fit_temperature(chi2, train.y[train_pos])
            self.fitted = True
        history: dict[str, list[float]] = {}
        runs = epochs - initial_epoch
        for prefix, feed, pos in (
            ("", train, train_pos),
            ("val_", validation, None if validation is None else self._sample(validation, size, 1)),
        ):
            if feed is None or feed.n_samples == 0 or pos is None:
                continue
            y = feed.y[pos]
            proba = probabilities(self._chi2(feed, pos), self.temperature)[y >= 0]
            y = y[y >= 0]
            if not len(y):
                continue
            loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0))))
            history[prefix + "loss"] = [loss] * runs
            history[prefix + "accuracy"] = [float(np.mean(proba.argmax(1) == y))] * runs
        return history

    def predict_proba(self, feed: Feed) -> np.ndarray:
        results = self.fit_results(feed)
        return probabilities(results["chi2"], self.temperature)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "model": self.name,
            "classes": self.classes,
            "input_shape": list(self.shape),
            "seed": self.seed,
            "temperature": self.temperature,
            "fitted": self.fitted,
            "templates": self._template_names(),
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        path = Path(directory) / "model.json"
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(f"{path}: not a saved template_fit model ({exc})") from None
        if meta.get("model") != self.name:
            raise BenchError(f"{path}: holds model {meta.get('model')!r}, not {self.name!r}")
        self.classes, self.shape = list(meta["classes"]), tuple(meta["input_shape"])
        self.seed, self.temperature = int(meta["seed"]), float(meta["temperature"])
        self.fitted = bool(meta["fitted"])

    def describe(self) -> Mapping[str, Any]:
        templates = self.templates()
        return {
            "backend": self.backend(),
            "templates": self._template_names(),
            "n_templates": {k: int(np.prod(v.flux.shape[:2])) for k, v in templates.items()},
            "temperature": self.temperature,
            "parameters": 1,
        }

    # -- per-object results ---------------------------------------------------------------

    def fit_results(self, feed: Feed) -> dict[str, np.ndarray]:
        """Per spectrum of ``feed`` (in its order): ``chi2`` and ``z`` (N, n_classes) in the
        order of ``classes`` (inf / NaN for a class without templates), ``star_template``
        (N,) name of the best stellar template. Cached: free after ``predict_proba``."""
        chi2_fit, z_fit, star = self._results(feed, np.arange(feed.n_samples))
        chi2 = np.full((len(chi2_fit), len(self.classes)), np.inf)
        z = np.full((len(chi2_fit), len(self.classes)), np.nan)
        for j, label in enumerate(self.classes):
            if label in FIT_CLASSES:
                chi2[:, j] = chi2_fit[:, FIT_CLASSES.index(label)]
                z[:, j] = z_fit[:, FIT_CLASSES.index(label)]
        names = np.array(self.templates()["STAR"].names, dtype=object)[star]
        self.last_results = {"chi2": chi2, "z": z, "star_template": names}
        return self.last_results

    def redshifts(self, feed: Feed) -> np.ndarray:
        """Best redshift of every class (N, n_classes), in the order of ``classes``."""
        return self.fit_results(feed)["z"]

    # -- internals ------------------------------------------------------------------------

    def templates(self) -> dict[str, ClassTemplates]:
        folder = self.params["template_dir"]
        return load_templates(None if folder is None else str(Path(folder).resolve()))

    def _template_names(self) -> list[str]:
        folder = self.params["template_dir"]
        root = DEFAULT_TEMPLATE_DIR if folder is None else Path(folder)
        return [sorted(root.glob(p))[-1].name for p in TEMPLATE_FILES.values()]

    def backend(self) -> str:
        choice = self.params["backend"]
        if choice != "auto":
            return choice
        try:
            import jax

            return "numpy" if jax.default_backend() == "cpu" else "jax"
        except ImportError:  # pragma: no cover - jax is a dependency
            return "numpy"

    def settings(self) -> FitSettings:
        p = self.params
        return FitSettings(
            n_poly=p["n_poly"], star_v_kms=p["star_v_kms"],
            galaxy_z=(p["galaxy_z"][0], p["galaxy_z"][1]), qso_z=(p["qso_z"][0], p["qso_z"][1]),
            constrain=p["constrain"], backend=self.backend(), precision=p["precision"],
        )  # fmt: skip

    def _sample(self, feed: Feed, size: int, stream: int) -> np.ndarray:
        known = np.flatnonzero(feed.y >= 0)
        if len(known) <= size:
            return known
        rng = np.random.default_rng([self.seed, stream])
        return np.sort(rng.choice(known, size, replace=False))

    def _chi2(self, feed: Feed, positions: np.ndarray) -> np.ndarray:
        chi2_fit, _, _ = self._results(feed, positions)
        chi2 = np.full((len(positions), len(self.classes)), np.inf)
        for j, label in enumerate(self.classes):
            if label in FIT_CLASSES:
                chi2[:, j] = chi2_fit[:, FIT_CLASSES.index(label)]
        return chi2

    def _batch(self, feed: Feed, positions: np.ndarray) -> SpectrumBatch:
        source, index = getattr(feed, "source", None), getattr(feed, "index", None)
        if source is not None and index is not None:
            batch = source.read(np.asarray(index)[positions])
            if self.params["apply_preprocess"]:
                for step in feed.pipeline.preprocessors:
                    batch = step(batch)
            return batch
        # no spectra behind the feed: its flux vectors, assumed on the BOSS grid, unit weights
        x = np.asarray(feed.inputs(), np.float32)[positions].reshape(len(positions), -1)
        loglam = BOSS_LOGLAM0 + BOSS_DLOGLAM * np.arange(x.shape[1])
        n = len(positions)
        return SpectrumBatch(
            ids=np.array([str(i) for i in positions], dtype=object), loglam=loglam, flux=x,
            ivar=(x != 0).astype(np.float32), mask=np.zeros(x.shape, np.int32),
            labels=np.full(n, "", dtype=object), redshift=np.full(n, np.nan),
            snr=np.full(n, np.nan, np.float32),
        )  # fmt: skip

    def _results(
        self, feed: Feed, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(positions)
        chi2 = np.zeros((n, len(FIT_CLASSES)))
        z = np.full((n, len(FIT_CLASSES)), np.nan)
        star = np.zeros(n, np.int64)
        step = self.params["batch"]
        settings = self.settings()
        for start in range(0, n, step):
            part = positions[start : start + step]
            batch = self._batch(feed, part)
            loglam0, dlog, flux, weight = prepare(batch)
            keys = [
                hashlib.sha1(
                    np.float64([loglam0, dlog]).tobytes() + f.tobytes() + w.tobytes()
                ).digest()
                for f, w in zip(flux, weight, strict=True)
            ]
            todo = [i for i, k in enumerate(keys) if k not in self._cache]
            if todo:
                rows = np.array(todo)
                f, w = flux[rows], weight[rows]
                if settings.backend == "jax" and len(rows) < step:  # one compiled shape
                    pad = step - len(rows)
                    f = np.concatenate([f, np.zeros((pad, f.shape[1]))])
                    w = np.concatenate([w, np.zeros((pad, w.shape[1]))])
                out = fit_spectra(loglam0, dlog, f, w, self.templates(), settings, chunk=step)
                for j, i in enumerate(todo):
                    self._cache[keys[i]] = (out["chi2"][j], out["z"][j], int(out["star"][j]))
            for j, k in enumerate(keys):
                c, zz, s = self._cache[k]
                chi2[start + j], z[start + j], star[start + j] = c, zz, s
        return chi2, z, star
