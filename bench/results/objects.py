"""Per-object results: what each cell predicted for each test object, with the object's
redshift, S/N, magnitude and (for SDSS) plate-mjd-fiber, and the run's tidy table of
every cell x test object (``objects.parquet`` when pyarrow is installed, else
``objects.csv``; ``pandas.read_parquet`` / ``pandas.read_csv`` reads either in one line).
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.store.files import write_csv

# per-object facts a source may know, in the order predictions.csv stores them
OBJECT_FACTS = ("redshift", "snr", "magnitude", "plate", "mjd", "fiber")
NUMERIC_FACTS = ("redshift", "snr", "magnitude")  # and z_*, p_* columns
# what names an object or a class: text, even where it looks like a number
TEXT_COLUMNS = ("id", "true", "predicted", "plate", "mjd", "fiber")
CELL_KEYS = ("dataset", "model", "train_fraction", "epochs", "seed")


def object_facts(source: Any, index: np.ndarray) -> dict[str, np.ndarray]:
    """The facts in :data:`OBJECT_FACTS` that ``source`` knows for ``index``: attributes of
    the source (``redshift``, ``snr``...), else columns of its ``table`` (SDSS caches)."""
    table = getattr(source, "table", None)
    table = table if isinstance(table, dict) else {}
    facts = {}
    for name in OBJECT_FACTS:
        values = getattr(source, name, None)
        if values is None:
            values = table.get(name)
        if values is None:
            continue
        values = np.asarray(values)
        if len(values) == len(source.ids):
            facts[name] = values[index]
    return facts


def model_facts(model: Any, feed: Any, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-object columns a model adds to its predictions: ``z_<CLASS>`` from its
    ``redshifts(feed)`` (N, n_classes) and the named columns of ``object_facts(feed)``
    (e.g. ``template_fit``'s ``subclass`` and ``delta_chi2``); both hooks are optional and
    a value of the wrong shape is left out."""
    n = feed.n_samples
    facts: dict[str, np.ndarray] = {}
    redshifts = getattr(model, "redshifts", None)
    if callable(redshifts):
        z = np.asarray(redshifts(feed), dtype=np.float64)
        if z.shape == (n, len(classes)):
            facts.update({f"z_{c}": z[:, k] for k, c in enumerate(classes)})
    more = getattr(model, "object_facts", None)
    if callable(more):
        for name, values in dict(more(feed)).items():
            values = np.asarray(values)
            if name not in facts and values.shape == (n,):
                facts[str(name)] = values
    return facts


def fact_text(value: Any) -> str:
    """A fact as predictions.csv stores it: numbers to 6 digits, NaN as empty."""
    if isinstance(value, float | np.floating):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    """A cell's predictions.csv as columns: strings, and floats (NaN where empty) for
    probabilities, redshifts, numeric facts and a model's own columns whose values are
    all numbers (``object_facts``: numbers are written as numbers)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise BenchError(f"{path}: not readable ({exc.strerror or exc})") from None
    if not rows:
        raise BenchError(f"{path}: empty predictions file (expected a header row)")
    header, body = rows[0], rows[1:]
    columns: dict[str, np.ndarray] = {}
    for k, name in enumerate(header):
        values = [row[k] if k < len(row) else "" for row in body]
        columns[name] = np.array(values, dtype=object)
        numeric = name.startswith(("p_", "z_")) or name in NUMERIC_FACTS
        if numeric or (name not in TEXT_COLUMNS and any(values)):
            # a column whose values are not all numbers after all stays text
            with contextlib.suppress(ValueError):
                columns[name] = np.array([float(v) if v else np.nan for v in values])
    return columns


def objects_table(report: dict[str, Any], root: Path) -> dict[str, list[Any]]:
    """One row per ok cell x test object: the cell's keys, then its predictions.csv."""
    from bench.store.rundir import RunDir, predictions_of

    table: dict[str, list[Any]] = {"cell": [], **{k: [] for k in CELL_KEYS}}
    n = 0
    for r in report["results"]:
        if r["status"] != "ok":
            continue
        path = predictions_of(RunDir(root).report_json, r)
        if not path.exists():  # a report copied without its cells
            continue
        cols = read_predictions(path)
        m = len(next(iter(cols.values()), []))
        table["cell"] += [r["cell"]["id"]] * m
        for key in CELL_KEYS:
            table[key] += [r["cell"][key]] * m
        for name, values in cols.items():
            table.setdefault(name, [None] * n).extend(values.tolist())
        n += m
        for column in table.values():  # columns some cells lack stay aligned
            column.extend([None] * (n - len(column)))
    return table


def have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_table(columns: Mapping[str, Sequence[Any]], path: Path, fmt: str | None = None) -> Path:
    """Write ``columns`` to ``path`` as ``fmt`` (``parquet`` or ``csv``); without ``fmt``
    the suffix decides, and any other suffix gets ``.parquet`` when pyarrow is importable,
    else ``.csv``. Returns the path written."""
    if fmt is None and path.suffix in (".parquet", ".csv"):
        fmt = path.suffix[1:]
    elif fmt is None:
        fmt = "parquet" if have_pyarrow() else "csv"
        path = path.with_name(f"{path.name}.{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        names = list(columns)
        rows = zip(*(columns[n] for n in names), strict=True)
        write_csv(path, names, ([_csv_cell(v) for v in row] for row in rows))
        return path
    if not have_pyarrow():
        raise BenchError(
            f"{path}: writing Parquet needs pyarrow (pip install pyarrow), or use .csv"
        )
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table({k: list(v) for k, v in columns.items()}), tmp)
    tmp.replace(path)
    return path


def tidy_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows of dicts as columns; a nested dict becomes ``key_subkey`` columns."""
    flat = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, Mapping) or (
                value is None and any(isinstance(r.get(key), Mapping) for r in rows)
            ):
                sub = next(r[key] for r in rows if isinstance(r.get(key), Mapping))
                for k in sub:
                    out[f"{key}_{k}"] = None if value is None else value.get(k)
            else:
                out[key] = value
        flat.append(out)
    names = list(dict.fromkeys(k for row in flat for k in row))
    return {name: [row.get(name) for row in flat] for name in names}


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    return fact_text(value)


def write_objects_table(report: dict[str, Any], root: Path) -> Path:
    """The run's tidy table, ``objects.parquet`` or ``objects.csv`` in the run folder."""
    from bench.store.rundir import OBJECTS

    return write_table(objects_table(report, root), root / OBJECTS)


def top_mistakes(y: np.ndarray, proba: np.ndarray, per_pair: int = 3) -> np.ndarray:
    """Positions of the ``per_pair`` most confident mistakes for each (true, predicted)
    pair, most confident first within a pair; pairs in class order."""
    pred = np.argmax(proba, axis=1)
    picked: list[int] = []
    n_classes = proba.shape[1] if proba.ndim == 2 else 0
    for t in range(n_classes):
        for p in range(n_classes):
            at = np.flatnonzero((y == t) & (pred == p)) if t != p else np.array([], int)
            if len(at):
                order = np.argsort(-proba[at, p], kind="stable")[:per_pair]
                picked += at[order].tolist()
    return np.asarray(picked, dtype=np.int64)
