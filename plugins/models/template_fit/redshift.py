"""The redshift search of ``template_fit``: every class's templates plus observed-frame
Legendre polynomials scanned over the class's redshift range (:mod:`.scan`), the best
template set and trial redshift per spectrum, refined to a sub-pixel redshift and its
1-sigma error by a parabola through the minimum; low-z quasars also fitted as quasar plus
host galaxy. The options of the search are a :class:`FitSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench_plugins.models.template_fit.bestfit import model_checks
from bench_plugins.models.template_fit.emission import BALMER, BROAD_WAVES, line_fits
from bench_plugins.models.template_fit.scan import (
    DIRECT_MAX_SHIFTS,
    chi2_scan,
    fast_len,
    jax_chi2_scan,
)
from bench_plugins.models.template_fit.templates import FIT_CLASSES, ClassTemplates, with_host

C_KMS = 299792.458


@dataclass(frozen=True)
class FitSettings:
    """Search ranges and fit settings (the model's options)."""

    n_poly: int = 3
    star_n_poly: int = 5  # one stellar template at a time: more continuum freedom
    star_v_kms: float = 600.0
    galaxy_z: tuple[float, float] = (0.002, 1.2)  # stars own |v| < 600 km/s
    qso_z: tuple[float, float] = (0.0, 6.0)
    qso_host_z: float = 0.3  # quasars below it are also fitted with host-galaxy templates
    host_margin: float = 0.2  # ... and that fit must beat the others' chi2 by this fraction
    constrain: bool = True
    emission_lines: bool = True  # narrow lines with free non-negative amplitudes for galaxies
    broad_line_sigma: float = 10.0  # a quasar below qso_host_z needs broad lines at this many sigma
    backend: str = "numpy"  # "numpy" or "jax"
    precision: str = "float64"  # of the jax path: "float64" or "float32"


def _z_range(label: str, settings: FitSettings) -> tuple[float, float]:
    if label == "STAR":
        v = settings.star_v_kms / C_KMS
        return -v, v
    return settings.galaxy_z if label == "GALAXY" else settings.qso_z


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

    Returns ``chi2``, ``z`` and ``z_err`` (N, 3) in the order of ``FIT_CLASSES``,
    ``n_params`` (N, 3) the free linear parameters of each class's best fit (templates
    fitted together, polynomials, active emission lines), ``outliers`` (N, 3) the good
    pixels more than 5 sigma from each class's best-fit model and ``negative`` (N, 3)
    whether that model is negative (:mod:`.bestfit`), ``star`` (N,) index of the best
    stellar template, ``n_good`` (N,) pixels with weight and ``coverage`` (N,) their span
    in log10 wavelength.
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
    polys = {n_poly: legendre(n_poly, p) for n_poly in {settings.n_poly, settings.star_n_poly}}
    chi2 = np.zeros((n, len(FIT_CLASSES)))
    zbest = np.full((n, len(FIT_CLASSES)), np.nan)
    zerr = np.full((n, len(FIT_CLASSES)), np.nan)
    n_params = np.zeros((n, len(FIT_CLASSES)), np.int64)
    host = np.zeros(n, bool)  # quasars fitted with their host galaxy
    star = np.zeros(n, np.int64)
    scan, cast = _scanner(settings)
    high = None  # the best quasar fit above qso_host_z, for quasars without broad lines
    for c, label in enumerate(FIT_CLASSES):
        lo, hi = _z_range(label, settings)
        poly = polys[settings.star_n_poly if label == "STAR" else settings.n_poly]
        res, offset, s_lo = _scan_raw(
            scan, cast, templates[label], (lo, hi), loglam0, step, flux, weight, poly, settings
        )
        chi2[:, c], zbest[:, c], g_best, zerr[:, c] = _best(res, offset, step, s_lo)
        n_params[:, c] = templates[label].flux.shape[1] + len(poly)
        if label == "STAR":
            star = g_best.astype(np.int64)
        if label == "QSO":
            high = _best_above(res, offset, step, s_lo, settings.qso_host_z)
    _host_refit(
        (scan, cast), templates, settings, (loglam0, step, flux, weight),
        polys[settings.n_poly], (chi2, zbest, zerr, n_params, host),
    )  # fmt: skip
    n_good = (weight > 0).sum(axis=1)
    from threadpoolctl import threadpool_limits

    # many small products: one BLAS thread (threads spin on a busy machine)
    with threadpool_limits(1, user_api="blas"):
        if settings.emission_lines or settings.broad_line_sigma > 0:
            _line_refits(loglam0, step, flux, weight, templates, polys[settings.n_poly],
                         settings, (chi2, zbest, zerr, n_params), high, n_good,
                         host)  # fmt: skip
        outliers, negative = model_checks(
            loglam0 + step * np.arange(p), flux, weight,
            {k: t.on_step(step) for k, t in templates.items()},
            {k: polys[settings.star_n_poly if k == "STAR" else settings.n_poly]
             for k in FIT_CLASSES},
            zbest, star, host,
            n_params[:, 1] > templates["GALAXY"].flux.shape[1] + settings.n_poly,
            settings.constrain,
        )  # fmt: skip
    zbest[n_good == 0], zerr[n_good == 0] = np.nan, np.nan
    chi2[n_good == 0] = 0.0
    return {"chi2": chi2, "z": zbest, "z_err": zerr, "n_params": n_params,
            "outliers": outliers, "negative": negative, "star": star, "n_good": n_good,
            "coverage": n_good * step}  # fmt: skip


def _host_refit(
    scanner: tuple[Any, Any],
    templates: Mapping[str, ClassTemplates],
    settings: FitSettings,
    data: tuple[float, float, np.ndarray, np.ndarray],
    poly: np.ndarray,
    fits: tuple[np.ndarray, ...],
) -> None:
    """Low-z quasars and Seyferts: quasar + host-galaxy eigen-spectra at one redshift,
    written into ``fits`` (chi2, zbest, zerr, n_params, host) where it beats the quasar fit
    by ``host_margin``. Only spectra whose best fit is a star or a low-z galaxy or quasar
    can change (numpy; jax keeps the batch shape and its compiled scan)."""
    scan, cast = scanner
    loglam0, step, flux, weight = data
    chi2, zbest, zerr, n_params, host = fits
    n = len(flux)
    host_hi = min(settings.qso_host_z, settings.qso_z[1])
    if host_hi <= settings.qso_z[0]:
        return
    best = chi2.argmin(axis=1)
    low = (best == 0) | (zbest[np.arange(n), best] < host_hi + 0.05)
    rows = np.arange(n) if settings.backend == "jax" else np.flatnonzero(low)
    if not len(rows):
        return
    both = with_host(templates["QSO"].on_step(step), templates["GALAXY"].on_step(step))
    h_chi2, h_z, _, h_err = _scan_class(
        scan, cast, both, (settings.qso_z[0], host_hi), loglam0, step,
        flux[rows], weight[rows], poly, settings,
    )  # fmt: skip
    h_chi2 = h_chi2 * (1.0 + settings.host_margin)
    better = h_chi2 < chi2[rows, 2]
    chi2[rows[better], 2], zbest[rows[better], 2] = h_chi2[better], h_z[better]
    zerr[rows[better], 2] = h_err[better]
    n_params[rows[better], 2] = both.flux.shape[1] + settings.n_poly
    host[rows[better]] = True


def _scanner(settings: FitSettings) -> tuple[Any, Any]:
    """The chi-square scan of the backend and the cast of its inputs."""
    if settings.backend == "jax":
        import jax.numpy as jnp

        dtype = jnp.float64 if settings.precision == "float64" else jnp.float32
        return jax_chi2_scan(), partial(jnp.asarray, dtype=dtype)
    return partial(chi2_scan, np), partial(np.asarray, dtype=np.float64)


def _line_refits(
    loglam0: float,
    step: float,
    flux: np.ndarray,
    weight: np.ndarray,
    templates: Mapping[str, ClassTemplates],
    poly: np.ndarray,
    settings: FitSettings,
    fits: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    high: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    n_good: np.ndarray,
    host: np.ndarray,
) -> None:
    """Emission lines at the galaxy's and the quasar's fitted redshifts below
    ``qso_host_z`` (:mod:`.emission`), in place on ``fits`` (chi2, z, z_err, n_params;
    N, 3).

    At each such redshift where a broad line (Mg II, H-gamma, H-beta, H-alpha) falls on
    good pixels: galaxy + narrow lines (N) and with broad lines added (B). A broad
    component significant at ``broad_line_sigma`` (N - B >= sigma^2, in chi-square
    rescaled by N's reduced chi-square when above 1) leaves both fits as the scan made
    them. Without one, a quasar fit at that redshift gives way to the best quasar fit
    above ``qso_host_z`` (``high``: chi2, z, z_err; ``host`` (N,) cleared), and N is a
    galaxy candidate where
    H-beta or H-alpha is on good pixels and the narrow lines are detected at the same
    level (N's gain over the galaxy without lines). Each class keeps its best candidate."""
    chi2, zbest, zerr, n_params = fits
    galaxy_k = templates["GALAXY"].flux.shape[1] + len(poly)
    quasar_k = templates["QSO"].flux.shape[1] + len(poly)
    loglam = loglam0 + step * np.arange(flux.shape[1])
    galaxy = templates["GALAXY"].on_step(step)
    need_gain = settings.broad_line_sigma**2
    lo, hi = settings.galaxy_z
    for i in np.flatnonzero(n_good > 0):
        f, w = flux[i], weight[i]
        galaxy_fits = [(chi2[i, 1], zbest[i, 1], zerr[i, 1], n_params[i, 1])]
        for c in (1, 2):
            z = zbest[i, c]
            if not (np.isfinite(z) and 0 <= z < settings.qso_host_z):
                continue
            if not _covers(loglam, w, z, BROAD_WAVES):
                continue  # no broad line to look at: the scan's fits stand
            bare, narrow, broad, n_lines = line_fits(
                loglam, f, w, galaxy, poly, z, settings.constrain, need_gain > 0
            )
            need = need_gain * max(1.0, narrow / n_good[i])  # in the fit's own chi-square
            if need_gain > 0 and narrow - broad >= need:
                continue  # a broad-line object: the scan's fits stand
            if c == 2 and need_gain > 0 and high is not None:
                chi2[i, 2], zbest[i, 2], zerr[i, 2] = high[0][i], high[1][i], high[2][i]
                n_params[i, 2], host[i] = quasar_k, False
            lines = bare - narrow >= need  # narrow lines detected
            if (
                settings.emission_lines
                and lo <= z <= hi
                and lines
                and _covers(loglam, w, z, BALMER)
            ):
                galaxy_fits.append((narrow, z, zerr[i, c], galaxy_k + n_lines))
        chi2[i, 1], zbest[i, 1], zerr[i, 1], n_params[i, 1] = min(galaxy_fits, key=lambda k: k[0])


def _covers(loglam: np.ndarray, weight: np.ndarray, z: float, waves: tuple[float, ...]) -> bool:
    """Whether any of the rest wavelengths ``waves`` falls on a pixel with weight at ``z``."""
    pix = np.rint((np.log10(np.asarray(waves) * (1 + z)) - loglam[0]) / (loglam[1] - loglam[0]))
    pix = pix[(pix >= 0) & (pix < len(loglam))].astype(int)
    return bool((weight[pix] > 0).any())


def _best_above(
    res: np.ndarray, offset: float, step: float, s_lo: int, z_min: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chi2, z, z_err) of the best fit of a scan ``res`` at z >= ``z_min`` (inf, NaN where
    the scan has no such redshift)."""
    k0 = max(0, int(np.ceil((np.log10(1 + z_min) - offset) / step)) - s_lo)
    n = res.shape[0]
    if k0 >= res.shape[2]:
        return np.full(n, np.inf), np.full(n, np.nan), np.full(n, np.nan)
    chi2, z, _, z_err = _best(res[..., k0:], offset, step, s_lo + k0)
    return chi2, z, z_err


def _scan_class(
    scan: Any,
    cast: Any,
    templates: ClassTemplates,
    z_range: tuple[float, float],
    loglam0: float,
    step: float,
    flux: np.ndarray,
    weight: np.ndarray,
    poly: np.ndarray,
    settings: FitSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best chi-square, redshift, template set and redshift error of each spectrum for one
    class's templates over ``z_range``."""
    res, offset, s_lo = _scan_raw(
        scan, cast, templates, z_range, loglam0, step, flux, weight, poly, settings
    )
    return _best(res, offset, step, s_lo)


def _scan_raw(
    scan: Any,
    cast: Any,
    templates: ClassTemplates,
    z_range: tuple[float, float],
    loglam0: float,
    step: float,
    flux: np.ndarray,
    weight: np.ndarray,
    poly: np.ndarray,
    settings: FitSettings,
) -> tuple[np.ndarray, float, int]:
    """The scan (N, G, S) of one class's templates over ``z_range``, the log10(1+z) of
    shift 0 (``offset``) and the first shift ``s_lo``."""
    p = flux.shape[1]
    t = templates.on_step(step)
    tlen = t.flux.shape[-1]
    offset = loglam0 - t.loglam0  # log10(1+z) = offset + step * shift
    lo, hi = z_range
    s_lo = int(np.ceil((np.log10(1 + lo) - offset) / step))
    s_hi = int(np.floor((np.log10(1 + hi) - offset) / step))
    s_lo, s_hi = max(s_lo, -(tlen - 1)), min(s_hi, p - 1)
    if s_hi < s_lo:
        raise BenchError(
            f"template_fit: the {t.label} templates do not reach the spectra's wavelengths "
            "in the redshift range searched"
        )
    # cut the templates to the rest pixels any trial shift can see
    q0, q1 = max(0, -s_hi), min(tlen, p - s_lo)
    tcut = t.flux[..., q0:q1]
    count = s_hi - s_lo + 1
    method = "direct" if count <= DIRECT_MAX_SHIFTS else "fft"
    nfft = fast_len(p + tcut.shape[-1]) if method == "fft" else 0
    res = scan(
        cast(flux), cast(weight), cast(poly), cast(tcut),
        first=s_lo + q0, count=count, method=method, nfft=nfft,
        constrain=settings.constrain,
    )  # fmt: skip
    return np.asarray(res, np.float64), offset, s_lo


def _best(
    res: np.ndarray, offset: float, step: float, s_lo: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best chi-square, redshift, template set and redshift error of each spectrum from a
    scan ``res`` (N, G, S); a parabola through the minimum and its neighbours gives a
    sub-pixel z and, from its curvature, the error (NaN at an edge of the range)."""
    n, count = res.shape[0], res.shape[2]
    flat = res.reshape(n, -1).argmin(axis=1)
    g_best, s_best = np.unravel_index(flat, res.shape[1:])
    rows = np.arange(n)
    best = res[rows, g_best, s_best]
    left = res[rows, g_best, np.maximum(s_best - 1, 0)]
    right = res[rows, g_best, np.minimum(s_best + 1, count - 1)]
    curv = left + right - 2 * best
    inner = (s_best > 0) & (s_best < count - 1) & (curv > 0)
    frac = np.where(inner, 0.5 * (left - right) / np.where(curv > 0, curv, 1.0), 0.0)
    z = np.power(10.0, offset + step * (s_lo + s_best + np.clip(frac, -0.5, 0.5))) - 1
    # 1 sigma: the parabola rises by 1 in chi-square sqrt(2 / curv) pixels from its minimum
    pixels = np.where(inner, np.sqrt(2.0 / np.where(curv > 0, curv, 1.0)), np.nan)
    return best, z, g_best, (1 + z) * np.log(10.0) * step * pixels
