"""Catalogs: read spAll / specObj / DR12Q-style FITS tables, draw a stratified sample, save it.

A sample is a plain dict of equal-length numpy arrays (plate, mjd, fiber, class, z and
run2d when the catalog has it), saved as CSV so a run can be reproduced exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.spectra import CLASSES

# DR12Q CLASS_PERSON: 1 star, 3 QSO, 30 BAL QSO, 4 galaxy; 0 (not inspected) and any other
# code map to "" (unknown) and are dropped by the dataset's ``classes`` filter.
INT_CLASSES = {1: "STAR", 3: "QSO", 30: "QSO", 4: "GALAXY"}
KEY_COLUMNS = ("PLATE", "MJD", "FIBERID")

Sample = dict[str, np.ndarray]


def read_catalog(path: Path | str, columns: Sequence[str], optional: Sequence[str] = ()) -> Sample:
    """The named columns (any case) of the first table HDU holding all of ``columns``.

    Keys of the result are upper case. Missing ``optional`` columns are left out.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{path}: catalog file not found")
    try:
        with fits.open(path, memmap=True) as hdul:
            for hdu in hdul[1:]:
                if getattr(hdu, "columns", None) is None:
                    continue
                names = {n.upper(): n for n in hdu.columns.names}
                if all(c.upper() in names for c in columns):
                    wanted = [c.upper() for c in (*columns, *optional) if c.upper() in names]
                    return {c: np.array(hdu.data[names[c]]) for c in wanted}
    except BenchError:
        raise
    except Exception as exc:
        raise BenchError(
            f"{path}: unreadable FITS catalog ({' '.join(str(exc).split())})"
        ) from None
    raise BenchError(f"{path}: no table HDU with columns {', '.join(c.upper() for c in columns)}")


def class_names(values: np.ndarray) -> np.ndarray:
    """Class names from a CLASS-like column: strings (stripped, upper) or DR12Q integer codes."""
    if values.dtype.kind in "iu":
        return np.array([INT_CLASSES.get(int(v), "") for v in values], dtype=object)
    return np.array([str(v).strip().upper() for v in values], dtype=object)


def catalog_labels(path: Path | str, column: str) -> dict[tuple[int, int, int], str]:
    """Map (plate, mjd, fiber) to the class in ``column`` of a catalog (e.g. DR12Q CLASS_PERSON)."""
    table = read_catalog(path, (*KEY_COLUMNS, column))
    labels = class_names(table[column.upper()])
    keys = zip(*(table[c].astype(np.int64) for c in KEY_COLUMNS), strict=True)
    return {(int(p), int(m), int(f)): str(lab) for (p, m, f), lab in zip(keys, labels, strict=True)}


def select_sample(
    catalog: Path | str,
    n: int,
    *,
    seed: int = 0,
    classes: Sequence[str] = CLASSES,
    z_min: float | None = 0.0,
    z_max: float | None = 3.5,
    zwarning_zero: bool = True,
    survey: str | None = None,
    class_column: str = "CLASS",
) -> Sample:
    """A seeded stratified random sample of ``n`` objects, split evenly across ``classes``.

    A class with fewer objects than its share gives all it has; the rest goes to the
    other classes. Rows come out sorted by (plate, mjd, fiber).
    """
    optional = ["ZWARNING", "RUN2D", "SURVEY"]
    table = read_catalog(catalog, (*KEY_COLUMNS, class_column, "Z"), optional)
    if zwarning_zero and "ZWARNING" not in table:
        raise BenchError(f"{catalog}: no ZWARNING column; set zwarning_zero off")
    if survey is not None and "SURVEY" not in table:
        raise BenchError(f"{catalog}: no SURVEY column to select survey {survey!r}")
    labels = class_names(table[class_column.upper()])
    z = table["Z"].astype(np.float64)
    keep = np.isin(labels, list(classes))
    if z_min is not None:
        keep &= z >= z_min
    if z_max is not None:
        keep &= z <= z_max
    if zwarning_zero:
        keep &= table["ZWARNING"] == 0
    if survey is not None:
        keep &= np.char.strip(table["SURVEY"].astype(str)) == survey
    pools = {c: np.flatnonzero(keep & (labels == c)) for c in classes}
    quota = _allocate(n, {c: len(p) for c, p in pools.items()})
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [rng.choice(pools[c], quota[c], replace=False) for c in classes] + [np.zeros(0, np.int64)]
    )
    sample: Sample = {
        "plate": table["PLATE"][chosen].astype(np.int64),
        "mjd": table["MJD"][chosen].astype(np.int64),
        "fiber": table["FIBERID"][chosen].astype(np.int64),
        "class": labels[chosen].astype(str),
        "z": z[chosen],
    }
    if "RUN2D" in table:
        sample["run2d"] = np.char.strip(table["RUN2D"][chosen].astype(str))
    order = np.lexsort((sample["fiber"], sample["mjd"], sample["plate"]))
    return {k: v[order] for k, v in sample.items()}


def _allocate(n: int, available: Mapping[str, int]) -> dict[str, int]:
    """Split ``n`` as evenly as possible over the classes, capped by what each has."""
    quota = dict.fromkeys(available, 0)
    left = min(n, sum(available.values()))
    while left > 0:
        open_classes = [c for c in available if quota[c] < available[c]]
        share = max(left // len(open_classes), 1)
        for c in open_classes:
            take = min(share, available[c] - quota[c], left)
            quota[c] += take
            left -= take
    return quota


def save_sample(sample: Sample, path: Path | str) -> Path:
    """Write the sample as CSV (via a temporary name); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    columns = list(sample)
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(zip(*(sample[c].tolist() for c in columns), strict=True))
    tmp.replace(path)
    return path


def load_sample(path: Path | str) -> Sample:
    """Read a sample CSV written by :func:`save_sample`."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        sample: Sample = {
            k: np.array([int(r[k]) for r in rows], dtype=np.int64)
            for k in ("plate", "mjd", "fiber")
        }
        sample["class"] = np.array([r["class"] for r in rows], dtype=str)
        sample["z"] = np.array([float(r["z"]) for r in rows])
        if rows and "run2d" in rows[0]:
            sample["run2d"] = np.array([r["run2d"] for r in rows], dtype=str)
    except (OSError, KeyError, ValueError) as exc:
        raise BenchError(f"{path}: not a sample CSV with plate,mjd,fiber,class,z ({exc})") from None
    return sample
