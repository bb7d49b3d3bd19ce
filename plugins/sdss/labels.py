"""Labels from a catalog for the ``sdss`` dataset: a FITS table (DR12Q-style) or a CSV.

A CSV (suffix ``.csv``, any case) has a header row, a class column (``label_column``, any
case) and either a ``file`` column (paths relative to the CSV's folder) or ``plate``,
``mjd``, ``fiber`` (or ``fiberid``) columns; ``file`` wins when it has both. Rows whose
class is empty count as absent. Classes are stripped and upper-cased.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench_plugins.sdss.catalog import catalog_labels

KEY_NAMES = ("plate", "mjd", "fiber")


def is_csv(path: Path | str) -> bool:
    """Whether ``labels_catalog`` names a CSV file (by suffix, any case)."""
    return str(path).lower().endswith(".csv")


def relabel(
    path: Path | str, column: str, table: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's class from the catalog ("" where it has none) and a mask of the rows it
    does not list. ``table`` holds the dataset's plate, mjd, fiber and path columns."""
    keys: list[object]
    if is_csv(path):
        join, labels = read_csv_labels(path, column)
    else:
        join, labels = "key", dict(catalog_labels(path, column))
    if join == "file":
        keys = [str(Path(str(p)).resolve()) for p in np.asarray(table["path"]).tolist()]
    else:
        columns = (np.asarray(table[k]).tolist() for k in KEY_NAMES)
        keys = [(int(p), int(m), int(f)) for p, m, f in zip(*columns, strict=True)]
    found = [labels.get(k) for k in keys]
    missing = np.array([lab is None for lab in found], dtype=bool)
    return np.array([lab or "" for lab in found], dtype=object), missing


def read_csv_labels(path: Path | str, column: str = "CLASS") -> tuple[str, dict[object, str]]:
    """``("file", {resolved path: class})`` or ``("key", {(plate, mjd, fiber): class})``."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{path}: labels CSV not found")
    labels: dict[object, str] = {}
    first: dict[object, int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            join, at, cls = _columns(path, next(reader, []), column)
            for number, row in enumerate((r for r in reader if any(c.strip() for c in r)), 1):
                where = f"{path}: row {number} (line {reader.line_num})"
                cells = [row[i].strip() if i < len(row) else "" for i in (*at, cls)]
                key = _key(path, join, cells[:-1], where)
                label = cells[-1].upper()
                if not label:
                    continue
                if key in labels and labels[key] != label:
                    shown, classes = "-".join(cells[:-1]), f"{labels[key]}, {label}"
                    raise BenchError(
                        f"{path}: rows {first[key]} and {number} give {shown} different "
                        f"classes ({classes}); expected one class per spectrum"
                    )
                labels[key], first[key] = label, first.get(key, number)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BenchError(f"{path}: unreadable CSV ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        raise BenchError(f"{path}: cannot read the labels CSV ({exc.strerror or exc})") from None
    return join, labels


def _columns(path: Path, header: list[str], column: str) -> tuple[str, list[int], int]:
    """The join (``file`` or ``key``), the positions of its columns and of the class column."""
    names = [h.strip().lower() for h in header]
    where: dict[str, int] = {}
    for i, name in enumerate(names):
        where.setdefault(name, i)
    if "fiber" not in where and "fiberid" in where:
        where["fiber"] = where["fiberid"]
    has = ", ".join(h.strip() for h in header) or "none"
    if "file" in where:
        join, at = "file", [where["file"]]
    elif all(k in where for k in KEY_NAMES):
        join, at = "key", [where[k] for k in KEY_NAMES]
    else:
        raise BenchError(
            f"{path}: no join columns; expected a header with 'file' or 'plate', 'mjd', "
            f"'fiber' (or 'fiberid') columns (columns: {has})"
        )
    if column.strip().lower() not in names:
        raise BenchError(f"{path}: no class column {column!r} (label_column); columns: {has}")
    return join, at, names.index(column.strip().lower())


def _key(path: Path, join: str, cells: list[str], where: str) -> object:
    """A row's join key: the resolved file path, or (plate, mjd, fiber) as integers."""
    if join == "file":
        if not cells[0]:
            raise BenchError(f"{where}: empty file; expected a path relative to {path.parent}")
        return str((path.parent / cells[0]).resolve())
    values = []
    for name, cell in zip(KEY_NAMES, cells, strict=True):
        try:
            values.append(int(cell))
        except ValueError:
            raise BenchError(f"{where}: {name} {cell!r} is not an integer") from None
    return tuple(values)


def catalog_stamp(path: Path | str, column: str) -> str:
    """A stamp that changes with the catalog: SHA-256 of a CSV's bytes; of a FITS table's
    path, size and mtime (catalogs like DR12Q are too big to hash on every open)."""
    path = Path(path)
    digest = hashlib.sha256(f"{path.resolve()}\x1f{column}\x1e".encode())
    if is_csv(path):
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    else:
        st = path.stat()
        digest.update(f"{st.st_size}\x1f{st.st_mtime_ns}".encode())
    return digest.hexdigest()
