"""``bench data check``: read every spectrum file under some paths and tally what was found.

Returns data only; the CLI prints the table and chooses the exit code (0 only when
``result.ok``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.readers import find_spectra, read_spectrum
from bench.errors import BenchError


@dataclass(frozen=True)
class CheckedFile:
    """One file that was read: its id, format, pipeline class and redshift."""

    path: Path
    id: str
    format: str
    label: str
    redshift: float
    npix: int


@dataclass
class CheckResult:
    """Per-class counts (``""``: no class in the file), the files read, and (path, reason)
    for each file that failed (``reason`` already names the file)."""

    class_counts: dict[str, int] = field(default_factory=dict)
    files: list[CheckedFile] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)

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

    A path that does not exist raises BenchError; an unreadable file is a failure in the
    result (``reason`` is the one-line BenchError message), never an exception.
    """
    files = find_spectra(paths)
    result = CheckResult()
    counts: Counter[str] = Counter()
    for done, path in enumerate(files, start=1):
        try:
            spec = read_spectrum(path)
        except BenchError as exc:
            result.failures.append((path, str(exc)))
        else:
            counts[spec.label] += 1  # "" when the file has no class
            result.files.append(
                CheckedFile(
                    path, spec.id, spec.meta["format"], spec.label, spec.redshift, len(spec.flux)
                )
            )
        if progress is not None:
            progress(done, len(files))
    result.class_counts = dict(sorted(counts.items()))
    return result
