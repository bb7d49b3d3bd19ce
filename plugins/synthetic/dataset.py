"""The ``synthetic`` dataset plugin class: its options and their checks; ``open()`` builds
the :class:`~bench_plugins.synthetic.source.SyntheticSource` that generates the spectra."""

from __future__ import annotations

from typing import Any

from bench.errors import BenchError
from bench.interfaces import Dataset
from bench.options import Option
from bench.spectra import CLASSES, SpectrumSource

# the largest redshift of each redshift-range option
MAX_Z = {"galaxy_z": 2.0, "qso_z": 7.0}
MAX_N = 10_000_000  # spectra are generated on demand, but ids and labels are held


class Synthetic(Dataset):
    """Synthetic SDSS/BOSS DR12-like spectra on the BOSS grid (see plugins/synthetic/)."""

    name = "synthetic"
    description = "Physically grounded synthetic BOSS spectra of stars, galaxies and quasars"
    options = (
        Option("n", int, 3000, "number of spectra", ge=1, le=MAX_N),
        Option("seed", int, 0, "random seed: the same seed gives the same spectra", ge=0),
        Option(
            "class_mix",
            str,
            "balanced",
            "equal counts, or the BOSS DR12-like mix",
            choices=("balanced", "boss"),
        ),  # fmt: skip
        Option("classes", list, list(CLASSES), "classes to generate", item_type=str),
        Option(
            "galaxy_z",
            list,
            [0.0, 1.0],
            "galaxy redshift range [min, max]",
            item_type=float,
            ge=0.0,
            le=MAX_Z["galaxy_z"],
        ),  # fmt: skip
        Option(
            "qso_z",
            list,
            [0.05, 4.5],
            "quasar redshift range [min, max]",
            item_type=float,
            ge=0.0,
            le=MAX_Z["qso_z"],
        ),  # fmt: skip
        Option(
            "star_rv_kms",
            float,
            200.0,
            "halo radial-velocity dispersion of stars (km/s)",
            ge=0.0,
            le=2000.0,
        ),  # fmt: skip
        Option(
            "galaxy_model",
            str,
            "eigen",
            "galaxies' old stars: the shipped BOSS mean galaxy (eigen) or the physical model",
            choices=("eigen", "physical"),
        ),  # fmt: skip
        Option(
            "snr_scale",
            float,
            1.0,
            "multiplies the S/N of every spectrum (2 = 4x exposure)",
            gt=0.0,
            le=100.0,
        ),  # fmt: skip
        Option(
            "snr_scale_max",
            float,
            None,
            "each spectrum's S/N times a log-uniform factor from snr_scale to this (None: off)",
            gt=0.0,
            le=100.0,
        ),  # fmt: skip
        Option(
            "lowz_qso_fraction",
            float,
            0.05,
            "share of quasars drawn as low-z (z ~ 0.12) broad-line AGN, as in SDSS-I/II",
            ge=0.0,
            le=1.0,
        ),  # fmt: skip
        Option(
            "legacy_fraction",
            float,
            0.0,
            "fraction of spectra with the SDSS-I/II 3800-9200 A coverage (no data outside)",
            ge=0.0,
            le=1.0,
        ),  # fmt: skip
        Option(
            "template_dir",
            str,
            None,
            "folder with spEigenStar/Gal/QSO FITS: build spectra from SDSS templates",
        ),  # fmt: skip
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        bad = [c for c in p["classes"] if c not in CLASSES]
        if bad or not p["classes"] or len(set(p["classes"])) != len(p["classes"]):
            raise BenchError(
                f"synthetic.classes: {p['classes']!r} is not valid; expected distinct names from {list(CLASSES)}"
            )
        top_snr = p.get("snr_scale_max")
        if top_snr is not None and top_snr <= p["snr_scale"]:
            raise BenchError(
                f"synthetic.snr_scale_max: expected more than snr_scale ({p['snr_scale']}), "
                f"got {top_snr}"
            )
        for key, top in MAX_Z.items():
            z = p[key]
            if len(z) != 2 or not z[0] < z[1]:
                raise BenchError(
                    f"synthetic.{key}: expected [min, max] with 0 <= min < max <= {top}, got {z!r}"
                )

    def open(self) -> SpectrumSource:
        from bench_plugins.synthetic.source import SyntheticSource

        return SyntheticSource(self.params)
