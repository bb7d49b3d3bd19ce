"""The run folder: its layout, its lock, reading and writing a cell. The only module
that knows these paths::

    <run>/
      .lock                    "PID HOST" of the run writing here
      report.json report.md report.html objects.parquet (or objects.csv)
      cells/<cell id>/         model/  cell.json  predictions.csv  metrics.json  mistakes.npz
      cells/.tmp-<cell id>/    a cell being written, renamed into place when complete
      logs/<cell id>.log       traceback of a failed cell
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.io import atomic_write_text, write_csv

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
CELLS = "cells"
LOGS = "logs"
LOCK = ".lock"
MODEL = "model"
CELL_JSON = "cell.json"
PREDICTIONS = "predictions.csv"
METRICS = "metrics.json"
MISTAKES = "mistakes.npz"  # the most confident mistakes: flux, model input, ids, z, proba
OBJECTS = "objects"  # the run's tidy table; .parquet or .csv added by its writer


def cell_path(cell_id: str) -> str:
    """Where a cell lives, relative to the run folder (as ``report.json`` records it)."""
    return f"{CELLS}/{cell_id}"


def log_path(cell_id: str) -> str:
    return f"{LOGS}/{cell_id}.log"


def model_dir(cell_dir: Path) -> Path:
    return cell_dir / MODEL


def predictions_of(report_path: Path, result: dict[str, Any]) -> Path:
    """The ``predictions.csv`` of one result of the report at ``report_path``."""
    return report_path.parent / result.get("path", cell_path(result["cell"]["id"])) / PREDICTIONS


def mistakes_of(report_path: Path, result: dict[str, Any]) -> Path:
    """The ``mistakes.npz`` of one result of the report at ``report_path``."""
    return report_path.parent / result.get("path", cell_path(result["cell"]["id"])) / MISTAKES


def read_cell_config(cell_dir: Path) -> dict[str, Any]:
    """A trained cell's ``cell.json`` (BenchError when it is not a cell)."""
    path = cell_dir / CELL_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{cell_dir}: not a trained cell (no {CELL_JSON})") from None
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: unreadable cell description: {exc}") from None


@dataclass(frozen=True)
class CellFiles:
    """What a finished cell stores besides its model."""

    config: dict[str, Any]
    result: dict[str, Any]
    header: Sequence[str]
    rows: list[list[Any]]
    arrays: dict[str, Any] | None = None  # written to mistakes.npz when given


class RunDir:
    """One run folder (``root``), created on demand."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def report_json(self) -> Path:
        return self.root / REPORT_JSON

    @property
    def report_md(self) -> Path:
        return self.root / REPORT_MD

    @property
    def report_html(self) -> Path:
        return self.root / REPORT_HTML

    @property
    def logs(self) -> Path:
        return self.root / LOGS

    def cell(self, cell_id: str) -> Path:
        return self.root / cell_path(cell_id)

    def load_result(self, cell_id: str, key: str) -> dict[str, Any] | None:
        """The stored result of a finished cell whose key matches, marked ``reused``."""
        cell_dir = self.cell(cell_id)
        try:
            result = json.loads((cell_dir / METRICS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(result, dict) or result.get("status") != "ok":
            return None
        if result.get("cache_key") != key or not model_dir(cell_dir).exists():
            return None
        return {**result, "reused": True}

    def write_cell(
        self, cell_id: str, save_model: Callable[[Path], None], files: CellFiles
    ) -> None:
        """Write a whole cell under a temporary name, then rename it into place."""
        final = self.cell(cell_id)
        tmp = final.parent / f".tmp-{cell_id}"
        if tmp.exists():  # left by a run that was killed while writing this cell
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        save_model(model_dir(tmp))
        write_csv(tmp / PREDICTIONS, files.header, files.rows)
        if files.arrays is not None:
            np.savez_compressed(tmp / MISTAKES, **files.arrays)
        atomic_write_text(tmp / CELL_JSON, json.dumps(files.config, indent=2))
        atomic_write_text(tmp / METRICS, json.dumps(files.result, indent=2))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)

    def write_log(self, cell_id: str, text: str) -> str:
        """Write a failed cell's traceback; return its path relative to the run folder."""
        atomic_write_text(self.root / log_path(cell_id), text)
        return log_path(cell_id)

    # --- the lock -------------------------------------------------------------------

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    def take_lock(self, on_takeover: Callable[[str], None]) -> None:
        """Create the lock holding "PID HOST"; take over a lock whose process died on this
        host (``on_takeover`` is told)."""
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if not _lock_is_stale(self.lock):
                    raise BenchError(
                        f"{self.root}: another run is writing here (remove {self.lock} if none is)"
                    ) from None
                pid = _lock_owner(self.lock)[0]
                on_takeover(f"{self.lock}: its run (pid {pid}) is gone; taking over")
                self.lock.unlink(missing_ok=True)
                continue
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
            os.close(fd)
            return
        raise BenchError(f"{self.root}: another run took the lock first")

    def release_lock(self) -> None:
        self.lock.unlink(missing_ok=True)


def _lock_owner(lock: Path) -> tuple[int | None, str | None]:
    try:
        fields = lock.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None, None
    pid = int(fields[0]) if fields and fields[0].isdigit() else None
    return pid, fields[1] if len(fields) > 1 else None


def _lock_is_stale(lock: Path) -> bool:
    """Stale only when written on this host by a process that no longer exists; a lock
    from another host (shared file system) or in an unknown format is respected."""
    pid, host = _lock_owner(lock)
    if pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False
