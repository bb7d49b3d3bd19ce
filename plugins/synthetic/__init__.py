"""The embedded default dataset ``synthetic``: physically grounded BOSS-like spectra of
stars, galaxies and quasars, generated offline, seeded and reproducible by index."""

from __future__ import annotations

from typing import Any

import bench
from bench.errors import BenchError
from bench.interfaces import Dataset
from bench.options import Option
from bench.spectra import SpectrumSource

CLASSES = ("STAR", "GALAXY", "QSO")


class Synthetic(Dataset):
    """Synthetic SDSS/BOSS DR12-like spectra on the BOSS grid (see plugins/synthetic/)."""

    name = "synthetic"
    description = "Physically grounded synthetic BOSS spectra of stars, galaxies and quasars"
    options = (
        Option("n", int, 3000, "number of spectra"),
        Option("seed", int, 0, "random seed: the same seed gives the same spectra"),
        Option(
            "class_mix",
            str,
            "balanced",
            "equal counts, or the BOSS DR12-like mix",
            choices=("balanced", "boss"),
        ),  # fmt: skip
        Option("classes", list, list(CLASSES), "classes to generate", item_type=str),
        Option("galaxy_z", list, [0.0, 1.0], "galaxy redshift range [min, max]", item_type=float),
        Option("qso_z", list, [0.05, 4.5], "quasar redshift range [min, max]", item_type=float),
        Option("star_rv_kms", float, 200.0, "halo radial-velocity dispersion of stars (km/s)"),
        Option(
            "galaxy_model",
            str,
            "eigen",
            "galaxies' old stars: the shipped BOSS mean galaxy (eigen) or the physical model",
            choices=("eigen", "physical"),
        ),  # fmt: skip
        Option("snr_scale", float, 1.0, "multiplies the S/N of every spectrum (2 = 4x exposure)"),
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
        if p["n"] < 1:
            raise BenchError(f"synthetic.n: expected a positive integer, got {p['n']}")
        bad = [c for c in p["classes"] if c not in CLASSES]
        if bad or not p["classes"] or len(set(p["classes"])) != len(p["classes"]):
            raise BenchError(
                f"synthetic.classes: {p['classes']!r} is not valid; expected distinct names from {list(CLASSES)}"
            )
        for key, top in (("galaxy_z", 2.0), ("qso_z", 7.0)):
            z = p[key]
            if len(z) != 2 or not 0.0 <= z[0] < z[1] <= top:
                raise BenchError(
                    f"synthetic.{key}: expected [min, max] with 0 <= min < max <= {top}, got {z!r}"
                )
        if not 0.0 <= p["star_rv_kms"] <= 2000.0:
            raise BenchError(
                f"synthetic.star_rv_kms: expected 0..2000 km/s, got {p['star_rv_kms']}"
            )
        if not 0.0 < p["snr_scale"] <= 100.0:
            raise BenchError(
                f"synthetic.snr_scale: expected a number in (0, 100], got {p['snr_scale']}"
            )

    def open(self) -> SpectrumSource:
        from bench_plugins.synthetic.source import SyntheticSource

        return SyntheticSource(self.params)


@bench.hookimpl
def register_datasets(register: Any) -> None:
    register(Synthetic)
