"""A ``labels.csv`` beside spectrum files: the class of each file, from a catalog.

The format the sdss plugin's ``labels_catalog`` reads (a header row; a ``class`` column,
any case; a ``file`` column of paths relative to the CSV's folder, or ``plate``, ``mjd``,
``fiber``/``fiberid`` columns). Rows with an empty class count as absent. Read here so
that the core's ``bench data check`` can use one without importing a plugin.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import BenchError

LABELS_NAME = "labels.csv"
KEY_NAMES = ("plate", "mjd", "fiber")


@dataclass
class Labels:
    """Classes by resolved file path and by (plate, mjd, fiber), from one or more CSVs."""

    by_file: dict[str, str] = field(default_factory=dict)
    by_key: dict[tuple[int, int, int], str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def label(self, path: Path, key: tuple[int, int, int] | None) -> str | None:
        """The class listed for ``path`` (or its plate/mjd/fiber), else None."""
        found = self.by_file.get(str(Path(path).resolve()))
        if found is None and key is not None:
            found = self.by_key.get(key)
        return found

    def read(self, path: Path, column: str = "class") -> None:
        """Add the rows of the CSV at ``path``; a malformed file is one BenchError line."""
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                names = [h.strip().lower() for h in next(reader, [])]
                at, cls = _columns(path, names, column)
                for row in reader:
                    cells = [row[i].strip() if i < len(row) else "" for i in (*at, cls)]
                    if cells[-1] and any(cells[:-1]):
                        self._add(path, cells, reader.line_num)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BenchError(f"{path}: unreadable CSV ({' '.join(str(exc).split())})") from None
        except OSError as exc:
            raise BenchError(f"{path}: cannot read the labels ({exc.strerror or exc})") from None
        self.files.append(path)

    def _add(self, path: Path, cells: list[str], line: int) -> None:
        label = cells[-1].upper()
        if len(cells) == 2:
            self.by_file[str((path.parent / cells[0]).resolve())] = label
            return
        try:
            plate, mjd, fiber = (int(c) for c in cells[:3])
        except ValueError:
            raise BenchError(
                f"{path}: line {line}: plate, mjd, fiber {cells[:3]} are not integers"
            ) from None
        self.by_key[(plate, mjd, fiber)] = label


def _columns(path: Path, names: list[str], column: str) -> tuple[list[int], int]:
    """Positions of the join columns (``file``, else plate/mjd/fiber) and of the class."""
    where: dict[str, int] = {}
    for i, name in enumerate(names):
        where.setdefault(name, i)
    where.setdefault("fiber", where.get("fiberid", -1))
    has = ", ".join(names) or "none"
    if column not in where:
        raise BenchError(f"{path}: no {column!r} column; expected one (columns: {has})")
    if "file" in where:
        return [where["file"]], where[column]
    if all(where.get(k, -1) >= 0 for k in KEY_NAMES):
        return [where[k] for k in KEY_NAMES], where[column]
    raise BenchError(
        f"{path}: no 'file' or 'plate', 'mjd', 'fiber' columns to match spectra (columns: {has})"
    )


def labels_beside(paths: list[Path], files: list[Path]) -> Labels:
    """The ``labels.csv`` in each folder of ``paths`` and beside each of ``files``."""
    labels = Labels()
    folders = {p if p.is_dir() else p.parent for p in paths} | {f.parent for f in files}
    for folder in sorted(folders):
        candidate = folder / LABELS_NAME
        if candidate.is_file():
            labels.read(candidate)
    return labels
