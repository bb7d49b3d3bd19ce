"""Apply a trained cell (its preprocessing, renderer and model) to spectrum files.

Besides the predictions: the true class (``true``, empty when unknown) from a labels
file (``--labels``, else a ``labels.csv`` beside the inputs; see :mod:`bench.data.labels`)
or else the class the file carries, a summary (counts per predicted class, agreement with
the true classes), and how many inputs look unlike the training data (median S/N or flux
scale outside the 1st-99th percentile of the training spectra; see
:mod:`bench.run.inputrange`). The output is written to a temporary file, then renamed:
it never replaces one of the inputs, and nothing is left on failure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.labels import Labels, labels_beside
from bench.errors import BenchError
from bench.feed import Feed, Pipeline
from bench.interfaces import Model
from bench.run.inputrange import outside
from bench.run.predict_checks import check_cell, check_not_input, check_writable, rebuild
from bench.spectra import ArraySource
from bench.store.rundir import CELL_JSON, read_cell_config

CHUNK = 1024
FORMATS = ("csv", "parquet")
# 1st-99th percentiles leave ~2 % of training spectra outside; warn above this share
OUTSIDE_WARN = 0.05


@dataclass
class PredictSummary:
    """What `bench predict` tells the user after writing the file."""

    out: Path
    n: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # per predicted class
    n_labelled: int = 0  # files whose class is one of the cell's classes
    n_agree: int = 0
    n_outside: int | None = None  # None: the cell records no training range
    labels_from: list[Path] = field(default_factory=list)  # labels files used
    n_from_labels: int = 0  # spectra whose class came from a labels file
    other_classes: dict[str, int] = field(default_factory=dict)  # classes the cell lacks

    @property
    def agreement(self) -> float | None:
        return self.n_agree / self.n_labelled if self.n_labelled else None

    @property
    def outside_warning(self) -> str | None:
        if not self.n or self.n_outside is None or self.n_outside <= OUTSIDE_WARN * self.n:
            return None
        return (
            f"{self.n_outside} of {self.n} spectra have a median S/N or flux scale outside the "
            "1st-99th percentile of the training spectra: predictions may not be reliable"
        )


def predict_files(
    cell_dir: Path, paths: list[Path], out: Path, fmt: str = "csv", labels: Path | None = None
) -> PredictSummary:
    """Write ``path,id,true,predicted,p_<CLASS>...`` for every readable file as CSV or
    Parquet; return the summary, with the (path, reason) of files that could not be read.
    ``labels``: a labels CSV (default: any ``labels.csv`` beside the inputs)."""
    from bench.backend import ensure_jax_backend
    from bench.data.readers import find_spectra

    if fmt not in FORMATS:
        raise BenchError(f"--format: unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    if fmt == "parquet" and not _have_pyarrow():
        raise BenchError("--format parquet needs pyarrow (pip install pyarrow); or --format csv")
    cell = read_cell_config(cell_dir)
    check_cell(cell, cell_dir / CELL_JSON)
    check_writable(out, "--out")
    ensure_jax_backend()
    rebuilt = rebuild(cell, cell_dir)
    files = find_spectra(paths)
    if not files:
        raise BenchError(
            f"no spectrum files (*.fits, *.fit, *.fits.gz) under {', '.join(map(str, paths))}"
        )
    truth = _labels(labels, paths, files)
    check_not_input(out, "--out", [*files, *truth.files], cell_dir)
    summary = PredictSummary(out, n_outside=0 if cell.get("input_range") else None)
    summary.labels_from = list(truth.files)
    columns = _predict(cell, cell_dir, rebuilt, files, truth, summary)
    if not summary.n:
        first = summary.failures[0] if summary.failures else ("", "no spectra")
        raise BenchError(
            f"none of the {len(files)} spectrum files could be read (first: {first[1]}); "
            f"{out} not written"
        )
    _write(columns, out, fmt)
    return summary


def _have_pyarrow() -> bool:
    from bench.results.objects import have_pyarrow

    return have_pyarrow()


def _labels(labels: Path | None, paths: list[Path], files: list[Path]) -> Labels:
    """The labels file given, else those beside the inputs (none: an empty Labels)."""
    if labels is None:
        return labels_beside(list(map(Path, paths)), files)
    if not Path(labels).is_file():
        raise BenchError(f"--labels {labels}: no such file; expected a labels CSV")
    truth = Labels()
    truth.read(Path(labels))
    return truth


def _predict(
    cell: dict[str, Any],
    cell_dir: Path,
    rebuilt: tuple[Pipeline, Model],
    files: list[Path],
    truth: Labels,
    summary: PredictSummary,
) -> dict[str, list[Any]]:
    """The rebuilt cell applied to ``files`` chunk by chunk: the output's columns."""
    from bench.data.readers import read_batch

    classes, (pipeline, model) = cell["classes"], rebuilt
    g = cell["grid"]
    grid = g["loglam0"] + g["dloglam"] * np.arange(g["n_pixels"])
    columns: dict[str, list[Any]] = {"path": [], "id": [], "true": [], "predicted": []}
    columns |= {f"p_{c}": [] for c in classes}
    for start in range(0, len(files), CHUNK):
        batch, bad = read_batch(files[start : start + CHUNK], grid)
        summary.failures += bad
        if len(batch) == 0:
            continue
        summary.n_from_labels += _relabel(batch, truth)
        feed = Feed(ArraySource(batch), np.arange(len(batch)), pipeline, classes, batch_size=64)
        proba, facts = _apply(model, feed, classes, cell_dir / CELL_JSON)
        if summary.n_outside is not None:
            summary.n_outside += int(outside(batch, cell["input_range"]).sum())
        _add_rows(columns, batch, proba, classes)
        _add_facts(columns, facts, len(batch))
    _summarise(summary, columns, classes)
    return columns


def _relabel(batch: Any, truth: Labels) -> int:
    """Each spectrum's class from the labels file where it lists it; how many it listed."""
    if not truth.files:
        return 0
    meta, n = batch.meta, 0
    for i, path in enumerate(meta["path"]):
        key = (int(meta["plate"][i]), int(meta["mjd"][i]), int(meta["fiber"][i]))
        found = truth.label(Path(str(path)), key if min(key) >= 0 else None)
        if found is not None:
            batch.labels[i], n = found, n + 1
    return n


def _apply(
    model: Model, feed: Feed, classes: list[str], where: Path
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The model's probabilities and per-object facts (``zwarning``: the core's data bits
    OR'ed with the model's); a plugin's exception (say, a model trained on other classes
    than the cell names) is one line naming the cell."""
    from bench.results import flags
    from bench.results.objects import model_facts

    try:
        proba = np.asarray(model.predict_proba(feed))
        _check_width(proba, len(feed.index), classes, where)
        facts = model_facts(model, feed, classes)
        data = flags.data_flags(feed.source, feed.index)
        return proba, facts | {"zwarning": flags.combined(data, facts.get("zwarning"))}
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the plugin raises, one line
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise BenchError(
            f"{where}: the model failed on these spectra ({type(exc).__name__}: {first}); "
            f"was it trained on other classes than {', '.join(classes)}?"
        ) from None


def _check_width(proba: np.ndarray, n: int, classes: list[str], where: Path) -> None:
    """The model's probabilities, one column per class of the cell (BenchError if not)."""
    if proba.ndim != 2 or proba.shape != (n, len(classes)):
        width = proba.shape[1] if proba.ndim == 2 else "no"
        raise BenchError(
            f"{where}: the model gives {width} class probabilities per spectrum, but the "
            f"cell names {len(classes)} classes ({', '.join(classes)}); it was trained on "
            "other classes than its cell.json says"
        )


def _add_rows(
    columns: dict[str, list[Any]], batch: Any, proba: np.ndarray, classes: list[str]
) -> None:
    columns["path"] += [str(p) for p in batch.meta["path"]]
    columns["id"] += [str(i) for i in batch.ids]
    columns["true"] += [str(label or "") for label in batch.labels]
    columns["predicted"] += [classes[int(k)] for k in np.argmax(proba, axis=1)]
    for k, c in enumerate(classes):
        columns[f"p_{c}"] += [float(p) for p in proba[:, k]]


def _add_facts(columns: dict[str, list[Any]], facts: dict[str, np.ndarray], n: int) -> None:
    """The model's per-object columns (``z_<CLASS>``...) after the rows just added; a
    column missing from some chunk is empty there."""
    done = len(columns["id"]) - n
    for name, values in facts.items():
        column = columns.setdefault(name, [None] * done)
        column += [v.item() if isinstance(v, np.generic) else v for v in values]
    for column in columns.values():
        column += [None] * (done + n - len(column))


def _summarise(summary: PredictSummary, columns: dict[str, list[Any]], classes: list[str]) -> None:
    summary.n = len(columns["predicted"])
    counts = Counter(columns["predicted"])
    summary.counts = {c: counts.get(c, 0) for c in classes}
    pairs = [(t, p) for t, p in zip(columns["true"], columns["predicted"], strict=True)]
    labelled = [(t, p) for t, p in pairs if t in classes]
    summary.n_labelled = len(labelled)
    summary.n_agree = sum(t == p for t, p in labelled)
    summary.other_classes = dict(Counter(t for t, _ in pairs if t and t not in classes))


def _write(columns: dict[str, list[Any]], out: Path, fmt: str) -> None:
    """Write to a temporary file beside ``out``, then rename it into place."""
    import os

    from bench.results.objects import write_table

    if not any(columns["true"]):  # the files carry no class: no empty column
        columns = {k: v for k, v in columns.items() if k != "true"}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        write_table(columns, tmp, fmt)
        os.replace(tmp, out)
    except OSError as exc:
        raise BenchError(f"{out}: cannot write the predictions ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
