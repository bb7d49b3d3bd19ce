"""What `bench predict` checks before any work: the cell's ``cell.json`` has every key it
reads, the model and pipeline rebuild, ``--out`` can be written. Each problem is one
line naming the file or key (BenchError)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.feed import Pipeline
from bench.interfaces import Model
from bench.plugins.manager import get_registry
from bench.store.rundir import CELL_JSON, model_dir


def rebuild(cell: dict[str, Any], cell_dir: Path) -> tuple[Pipeline, Model]:
    """The cell's pipeline and trained model; BenchError naming cell.json or the model."""
    from bench.run.pipeline import pipeline_from_config

    registry, where = get_registry(), cell_dir / CELL_JSON
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


def check_cell(cell: object, where: Path) -> None:
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


def check_not_input(out: Path, what: str, inputs: list[Path], cell_dir: Path) -> None:
    """Refuse an output that would replace one of the inputs (a spectrum file, a labels
    file, or an existing file of the cell)."""
    if not out.exists():
        return
    target = out.resolve()
    for path in inputs:
        if path.resolve() == target or (path.exists() and os.path.samefile(path, out)):
            raise BenchError(f"{what} {out}: is one of the inputs ({path}); give another file name")
    if target.is_relative_to(Path(cell_dir).resolve()):
        raise BenchError(f"{what} {out}: is a file of the cell {cell_dir}; give another file name")


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
