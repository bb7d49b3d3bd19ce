"""The ``synthetic`` dataset plugin class: its options and their checks; ``open()`` builds
the :class:`~bench_plugins.synthetic.source.SyntheticSource` that generates the spectra."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.interfaces import Dataset
from bench.options import Option
from bench.spectra import CLASSES, SpectrumSource, boss_grid

# the largest redshift of each redshift-range option
MAX_Z = {"galaxy_z": 2.0, "qso_z": 7.0}
MAX_N = 10_000_000  # spectra are generated on demand, but ids and labels are held
# One spectrum on the BOSS grid as a run holds it (flux, ivar float32; mask int32), and its
# catalog entry (id string, label, redshift: 2,000,000 spectra open in ~290 MB, measured).
SPECTRUM_BYTES = len(boss_grid()) * (4 + 4 + 4)
CATALOG_BYTES = 150


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
            "snr_target",
            list,
            None,
            "[min, max]: each object made as bright as a median S/N drawn log-uniform in this "
            "range asks (times snr_scale), the same for every class, under the same exposure "
            "(None: the S/N follows the magnitude)",
            item_type=float,
            gt=0.0,
            le=1000.0,
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
            "legacy_survey",
            str,
            None,
            "each class's SDSS-I/II share instead of legacy_fraction: its share of DR12's "
            "spectra (dr12; Alam et al. 2015, Table 1) or those by redshift (dr12_redshift)",
            choices=("dr12", "dr12_redshift"),
        ),  # fmt: skip
        Option(
            "eboss_fraction",
            float,
            0.0,
            "share of the BOSS-spectrograph quasars observed by eBOSS (SDSS-IV), which did "
            "not offset quasar fibres for 4000 A light: no fibre-offset calibration tilt",
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
        target = p.get("snr_target")
        if target is not None and (len(target) != 2 or not target[0] < target[1]):
            raise BenchError(
                f"synthetic.snr_target: expected [min, max] with min < max, got {target!r}"
            )
        if target is not None and top_snr is not None:
            raise BenchError(
                "synthetic.snr_target: sets each spectrum's S/N; leave snr_scale_max "
                f"({top_snr}) out"
            )
        if p["legacy_survey"] is not None and p["legacy_fraction"] > 0:
            raise BenchError(
                f"synthetic.legacy_survey: {p['legacy_survey']!r} sets each class's SDSS-I/II "
                f"share; leave legacy_fraction ({p['legacy_fraction']}) out"
            )
        for key, top in MAX_Z.items():
            z = p[key]
            if len(z) != 2 or not z[0] < z[1]:
                raise BenchError(
                    f"synthetic.{key}: expected [min, max] with 0 <= min < max <= {top}, got {z!r}"
                )

        check_memory(p["n"], available_memory())

    def open(self) -> SpectrumSource:
        from bench_plugins.synthetic.source import SyntheticSource

        return SyntheticSource(self.params)


def check_memory(n: int, available: int | None) -> None:
    """Refuse ``n`` spectra whose arrays (parts of a run hold every spectrum of a split:
    ``ModelInput.inputs()``, a template fit's calibration, the test set's metrics) would
    not fit in the ``available`` bytes, with the estimate, before any is generated."""
    need = n * (SPECTRUM_BYTES + CATALOG_BYTES)
    if available is None or need <= available:
        return
    most = available // (SPECTRUM_BYTES + CATALOG_BYTES)
    raise BenchError(
        f"synthetic.n: {n:,} spectra need about {need / 2**30:.1f} GiB of memory "
        f"({SPECTRUM_BYTES / 1024:.0f} KiB each on the BOSS grid), more than the "
        f"{available / 2**30:.1f} GiB available; use n <= {most:,}, or more memory"
    )


def available_memory() -> int | None:
    """Bytes this process may still use: the least of the address-space limit
    (``ulimit -v``), the cgroup's memory limit and the system's available memory."""
    limits = []
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(int(soft))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = _read(path)
        if text.isdigit() and int(text) < 1 << 60:
            limits.append(int(text))
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            limits.append(int(line.split()[1]) * 1024)
    return min(limits) if limits else None


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""
