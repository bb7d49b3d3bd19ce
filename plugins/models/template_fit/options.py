"""The options of ``template_fit``, declared as data (see :mod:`.model` for what they do)."""

from __future__ import annotations

from bench.options import Option
from bench_plugins.models.template_fit.criterion import PENALTIES

OPTIONS = (
    Option("template_dir", str, None, "folder with spEigenStar/Gal/QSO FITS (None: shipped)"),
    Option(
        "n_poly",
        int,
        3,
        "observed-frame Legendre polynomial terms added to each galaxy and quasar fit",
        ge=0,
        le=10,
    ),  # fmt: skip
    Option(
        "star_n_poly",
        int,
        5,
        "polynomial terms of each stellar fit (a single template: more continuum freedom)",
        ge=0,
        le=10,
    ),  # fmt: skip
    Option("star_v_kms", float, 600.0, "stars: radial velocities searched, +- km/s", ge=0, le=5000),
    Option("galaxy_z", list, [0.002, 1.2], "galaxies: z range (stars < 600 km/s)", item_type=float),
    Option("qso_z", list, [0.0, 6.0], "quasars: redshift range [min, max]", item_type=float),
    Option(
        "qso_host_z",
        float,
        0.3,
        "quasars below this z are also fitted as quasar + host galaxy (0: never)",
        ge=0,
        le=1.2,
    ),  # fmt: skip
    Option(
        "host_margin",
        float,
        0.2,
        "a quasar + host fit must beat the other classes' chi2 by this fraction",
        ge=0,
        le=10,
    ),  # fmt: skip
    Option(
        "complexity_penalty",
        str,
        "rchi2",
        "classes ranked by chi2 plus a penalty per free parameter of each fit: none, aic (2),"
        " bic (ln n_good) or rchi2 (the pipeline's chi2 / (n_good - k))",
        choices=PENALTIES,
    ),  # fmt: skip
    Option("constrain", bool, True, "refuse fits with a negative first-template coefficient"),
    Option(
        "emission_lines",
        bool,
        True,
        "galaxies: narrow emission lines with free non-negative amplitudes at the fitted z",
    ),  # fmt: skip
    Option(
        "broad_line_sigma",
        float,
        10.0,
        "a quasar fit below qso_host_z needs broad lines this significant (sigma; 0: no test)",
        ge=0,
        le=100,
    ),  # fmt: skip
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
    Option("batch", int, 32, "spectra fitted together", ge=1),
    Option("calibration_size", int, 400, "training spectra used to fit the temperature", ge=1),
    Option("apply_preprocess", bool, False, "fit the run's preprocessed spectra, not raw ones"),
)
