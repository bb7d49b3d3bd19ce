"""Apply a trained cell (its preprocessing, renderer and model) to spectrum files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.feed import Feed, Pipeline
from bench.interfaces import Model
from bench.io import write_csv
from bench.plugins.manager import get_registry
from bench.run.rundir import model_dir, read_cell_config
from bench.spectra import ArraySource

CHUNK = 1024


def predict_files(
    cell_dir: Path, paths: list[Path], out: Path
) -> tuple[int, list[tuple[Path, str]]]:
    """Write ``path,predicted,p_<CLASS>...`` for every readable file; return the row count
    and the (path, reason) of files that could not be read."""
    from bench.backend import ensure_jax_backend
    from bench.data.readers import find_spectra, read_batch

    cell = read_cell_config(cell_dir)
    _check_cell(cell, cell_dir / "cell.json")
    check_writable(out, "--out")
    ensure_jax_backend()
    classes = cell["classes"]
    pipeline, model = _rebuild(cell, cell_dir)
    g = cell["grid"]
    grid = g["loglam0"] + g["dloglam"] * np.arange(g["n_pixels"])
    files = find_spectra(paths)
    if not files:
        raise BenchError(
            f"no spectrum files (*.fits, *.fit, *.fits.gz) under {', '.join(map(str, paths))}"
        )
    rows: list[list[object]] = []
    failures: list[tuple[Path, str]] = []
    for start in range(0, len(files), CHUNK):
        batch, bad = read_batch(files[start : start + CHUNK], grid)
        failures += bad
        if len(batch) == 0:
            continue
        feed = Feed(ArraySource(batch), np.arange(len(batch)), pipeline, classes, batch_size=64)
        proba = model.predict_proba(feed)
        for i in range(len(batch)):
            rows.append(
                [
                    batch.meta["path"][i],
                    classes[int(np.argmax(proba[i]))],
                    *(f"{p:.6g}" for p in proba[i]),
                ]
            )
    try:
        write_csv(out, ["path", "predicted", *(f"p_{c}" for c in classes)], rows)
    except OSError as exc:
        raise BenchError(f"{out}: cannot write the predictions ({exc.strerror or exc})") from None
    return len(rows), failures


def _rebuild(cell: dict[str, Any], cell_dir: Path) -> tuple[Pipeline, Model]:
    """The cell's pipeline and trained model; BenchError naming cell.json or the model."""
    from bench.pipeline import pipeline_from_config

    registry, where = get_registry(), cell_dir / "cell.json"
    try:
        pipeline = pipeline_from_config(registry, cell["pipeline"])
        spec = cell["model"]
        model: Model = registry.create("model", spec["name"], spec["params"], str(cell_dir))
    except BenchError as exc:
        raise BenchError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise BenchError(f"{where}: cannot rebuild the pipeline ({reason})") from None
    try:
        model.load(model_dir(cell_dir))
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a missing or damaged model file, whatever the plugin
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BenchError(f"{model_dir(cell_dir)}: cannot load the model ({first})") from None
    return pipeline, model


CELL_KEYS: dict[str, type | tuple[type, ...]] = {
    "classes": list,
    "pipeline": dict,
    "model": dict,
    "grid": dict,
    "model.name": str,
    "model.params": dict,
    "grid.loglam0": (int, float),
    "grid.dloglam": (int, float),
    "grid.n_pixels": int,
}


def _check_cell(cell: object, where: Path) -> None:
    """Every key `bench predict` reads, of the expected type (BenchError naming the key)."""
    if not isinstance(cell, dict):
        raise BenchError(f"{where}: expected a JSON object, got {type(cell).__name__}")
    for dotted, kind in CELL_KEYS.items():
        value: object = cell
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BenchError(f"{where}: key {dotted!r} is missing or not a {_name(kind)}")


def _name(kind: type | tuple[type, ...]) -> str:
    return (
        "number" if isinstance(kind, tuple) else {"dict": "table"}.get(kind.__name__, kind.__name__)
    )


def check_writable(path: Path, what: str) -> None:
    """Fail before any work when ``path`` cannot be written as a file."""
    if path.is_dir():
        raise BenchError(f"{what} {path}: is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BenchError(f"{what} {path}: folder {parent} does not exist")
    try:  # a real probe: permissions alone say nothing for root or a read-only mount
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BenchError(f"{what} {path}: not writable ({exc.strerror or exc})") from None
