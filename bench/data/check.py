"""``bench data check``: read every spectrum file under some paths and tally what was found.

A file is counted by class only when a run could use it: a spec-lite file missing one of
its HDUs is reported as incomplete, and a spectrum with no measured pixel on the BOSS/SDSS
wavelength grid (an infrared spectrum, say) as unusable, as ``bench run`` and ``bench
predict`` refuse them. A ``labels.csv`` in a folder checked (or beside a file) gives the
class of the files it lists, as the sdss dataset's ``labels_catalog`` would.

Returns data only; the CLI prints the table and chooses the exit code (0 only when
``result.ok``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.data.labels import labels_beside
from bench.data.raw import RawSpectrum
from bench.data.readers import find_spectra, read_spectrum
from bench.errors import BenchError
from bench.spectra import boss_grid, to_grid


@dataclass(frozen=True)
class CheckedFile:
    """One file that was read: its id, format, class (from ``labels.csv`` when it lists
    the file, else the file's own), redshift, and the class the file itself gives."""

    path: Path
    id: str
    format: str
    label: str
    redshift: float
    npix: int
    file_label: str = ""


@dataclass
class CheckResult:
    """Per-class counts (``""``: no class in the file), the files read, and (path, reason)
    for each file that failed (``reason`` already names the file): unreadable, incomplete
    or unusable. ``labels`` are the ``labels.csv`` files used."""

    class_counts: dict[str, int] = field(default_factory=dict)
    files: list[CheckedFile] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    labels: list[Path] = field(default_factory=list)

    @property
    def n_read(self) -> int:
        return len(self.files)

    @property
    def n_files(self) -> int:
        return len(self.files) + len(self.failures)

    @property
    def ok(self) -> bool:
        """True when at least one file was found and every file was read."""
        return self.n_files > 0 and not self.failures


def check_paths(
    paths: Iterable[Path | str], progress: Callable[[int, int], None] | None = None
) -> CheckResult:
    """Read every spectrum file under ``paths``; ``progress(done, total)`` after each file.

    A path that does not exist, or a malformed ``labels.csv``, raises BenchError; an
    unreadable, incomplete or unusable file is a failure in the result (``reason`` is one
    line), never an exception.
    """
    roots = [Path(p) for p in paths]
    files = find_spectra(roots)
    labels = labels_beside(roots, files)
    result = CheckResult(labels=list(labels.files))
    counts: Counter[str] = Counter()
    grid = boss_grid()
    for done, path in enumerate(files, start=1):
        try:
            spec = usable(read_spectrum(path), path, grid)
        except BenchError as exc:
            result.failures.append((path, str(exc)))
        else:
            label = labels.label(path, identity(spec))
            label = spec.label if label is None else label
            counts[label] += 1  # "" when the file has no class
            fmt, npix = spec.meta["format"], len(spec.flux)
            result.files.append(
                CheckedFile(path, spec.id, fmt, label, spec.redshift, npix, spec.label)
            )
        if progress is not None:
            progress(done, len(files))
    result.class_counts = dict(sorted(counts.items()))
    return result


def usable(spec: RawSpectrum, path: Path, grid: np.ndarray) -> RawSpectrum:
    """``spec`` when it is whole and has a measured pixel on ``grid``, else BenchError."""
    if spec.meta.get("incomplete"):
        raise BenchError(f"{path}: incomplete file ({spec.meta['incomplete']})")
    _, ivar, _ = to_grid(spec.loglam, spec.flux, spec.ivar, spec.mask, grid)
    if not np.any(ivar > 0):
        lo, hi = 10 ** spec.loglam[[0, -1]]
        raise BenchError(
            f"{path}: unusable: no measured pixel on the BOSS/SDSS wavelength grid "
            f"({10 ** grid[0]:.0f}-{10 ** grid[-1]:.0f} A; the file covers {lo:.0f}-{hi:.0f} A); "
            "run and predict refuse it"
        )
    return spec


def identity(spec: RawSpectrum) -> tuple[int, int, int] | None:
    """(plate, mjd, fiber) of ``spec`` when its file names them."""
    try:
        return int(spec.meta["plate"]), int(spec.meta["mjd"]), int(spec.meta["fiber"])
    except (KeyError, TypeError, ValueError):
        return None
