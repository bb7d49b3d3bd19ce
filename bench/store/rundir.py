"""The run folder: its layout, its lock, reading and writing a cell. The only module
that knows these paths::

    <run>/
      .lock                    "PID HOST" of the run writing here (flock-ed while it runs)
      report.json report.md report.html objects.parquet (or objects.csv)
      cells/<cell id>/         model/  cell.json  predictions.csv  metrics.json  mistakes.npz
      cells/.tmp-<cell id>/    a cell being written, renamed into place when complete
      cells/.old-<cell id>/    the cell it replaces, deleted once the new one is in place
      logs/<cell id>.log       traceback of a failed cell
"""

from __future__ import annotations

import csv
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.store.files import atomic_write_text, write_csv

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


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _csv_rows(path: Path) -> int | None:
    """Data rows of a CSV whose every row has the header's width, else None."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = next(rows, None)
            if not header:
                return None
            n = 0
            for row in rows:
                if len(row) != len(header):
                    return None
                n += 1
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return n


@dataclass(frozen=True)
class StoredCell:
    """What :meth:`RunDir.inspect_cell` found: the result of a whole cell with the
    expected key, or why the cell cannot be reused ("" when there is no cell at all)."""

    result: dict[str, Any] | None
    reason: str = ""
    config: dict[str, Any] | None = None  # cell.json, when it parses


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
        self._lock_fd: int | None = None

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

    def finished_cells(self) -> list[str]:
        """Ids of the cells written here (complete ones: ``metrics.json`` present)."""
        cells = self.root / CELLS
        if not cells.is_dir():
            return []
        return sorted(p.name for p in cells.iterdir() if (p / METRICS).is_file())

    def load_result(self, cell_id: str, key: str) -> dict[str, Any] | None:
        """The stored result of a whole finished cell whose key matches, marked ``reused``."""
        return self.inspect_cell(cell_id, key).result

    def inspect_cell(self, cell_id: str, key: str, n_rows: int | None = None) -> StoredCell:
        """A finished cell is reusable when every file it should have is there and parses:
        ``metrics.json`` (status ok, this ``key``), ``cell.json`` (the same key),
        ``predictions.csv`` (``n_rows`` rows, or the result's ``n_test``), ``mistakes.npz``
        and a non-empty ``model/``. Otherwise the reason, for the console."""
        cell_dir = self.cell(cell_id)
        if not cell_dir.is_dir():
            return StoredCell(None)
        result = _read_json(cell_dir / METRICS)
        config = _read_json(cell_dir / CELL_JSON)
        if result is None:
            return StoredCell(None, f"{METRICS} is missing or unreadable", config)
        if result.get("status") != "ok":
            return StoredCell(None)  # a failed cell always runs again
        if result.get("cache_key") != key:
            return StoredCell(None, "its key changed", config)
        if config is None or config.get("cache_key") != key:
            return StoredCell(None, f"{CELL_JSON} is missing, unreadable or of another key")
        expected = n_rows if n_rows is not None else result.get("n_test")
        found = _csv_rows(cell_dir / PREDICTIONS)
        if found is None or (isinstance(expected, int) and found != expected):
            what = "is missing or unreadable" if found is None else f"has {found} rows"
            return StoredCell(None, f"{PREDICTIONS} {what}, expected {expected}", config)
        if not zipfile.is_zipfile(cell_dir / MISTAKES):
            return StoredCell(None, f"{MISTAKES} is missing or unreadable", config)
        model = model_dir(cell_dir)
        if not model.is_dir() or not any(p.is_file() for p in model.rglob("*")):
            return StoredCell(None, f"{MODEL}/ is missing or empty", config)
        return StoredCell({**result, "reused": True}, config=config)

    def adopt_cell(self, cell_id: str, source: Path) -> None:
        """Put the finished cell folder ``source`` (of another run) here as ``cell_id``:
        its files hard-linked (a cell's files are never rewritten in place), copied where
        links are impossible; written under a temporary name and renamed into place."""
        final = self.cell(cell_id)
        tmp = final.parent / f".tmp-{cell_id}"
        shutil.rmtree(tmp, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copytree(source, tmp, copy_function=_link_or_copy)
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def write_cell(
        self, cell_id: str, save_model: Callable[[Path], None], files: CellFiles
    ) -> None:
        """Write a whole cell under a temporary name, then swap it into place: a finished
        cell it replaces is kept (as ``.old-``) until the new one is complete. A failure
        (a full disk) removes the half-written cell, keeps the old one, and raises."""
        final = self.cell(cell_id)
        tmp, old = final.parent / f".tmp-{cell_id}", final.parent / f".old-{cell_id}"
        shutil.rmtree(tmp, ignore_errors=True)  # left by a run killed while writing it
        try:
            tmp.mkdir(parents=True)
            save_model(model_dir(tmp))
            write_csv(tmp / PREDICTIONS, files.header, files.rows)
            if files.arrays is not None:
                np.savez_compressed(tmp / MISTAKES, **files.arrays)
            atomic_write_text(tmp / CELL_JSON, json.dumps(files.config, indent=2))
            atomic_write_text(tmp / METRICS, json.dumps(files.result, indent=2))
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise OSError(exc.errno, f"{final}: no space left on the device") from exc
            raise
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)

    def recover(self) -> None:
        """Undo what a killed run left in ``cells/``: a replaced cell whose replacement never
        arrived is restored; half-written and replaced cells are removed."""
        cells = self.root / CELLS
        if not cells.is_dir():
            return
        for path in sorted(cells.glob(".old-*")):
            final = cells / path.name[len(".old-") :]
            if final.exists():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.rename(final)
        for path in cells.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)

    def write_log(self, cell_id: str, text: str) -> str:
        """Write a failed cell's traceback; return its path relative to the run folder."""
        atomic_write_text(self.root / log_path(cell_id), text)
        return log_path(cell_id)

    # --- the lock -------------------------------------------------------------------

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    def take_lock(self, on_takeover: Callable[[str], None]) -> None:
        """Hold an exclusive ``flock`` on the lock file for the run's lifetime (it dies with
        the process, so two runs on one host never both get it) and write "PID HOST" in it
        for humans and other hosts. A lock whose process died on this host is taken over
        (``on_takeover`` is told); a live one, or one from another host, is respected."""
        busy = BenchError(
            f"{self.root}: another run is writing here (remove {self.lock} if none is)"
        )
        for _ in range(5):
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise busy from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and removed by its owner between our open and flock
                os.close(fd)
                continue
            text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            if text and not _owner_is_stale(text):
                os.close(fd)
                raise busy
            if text:
                pid = _parse_owner(text)[0]
                on_takeover(f"{self.lock}: its run (pid {pid}) is gone; taking over")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
            self._lock_fd = fd
            return
        raise BenchError(f"{self.root}: another run took the lock first")

    def owner(self) -> str:
        """ "PID HOST" of this process, as :meth:`take_lock` writes it."""
        return f"{os.getpid()} {socket.gethostname()}"

    def check_owner(self, owner: str) -> None:
        """Raise unless the run ``owner`` ("PID HOST") still holds this folder's lock: a
        training process that outlived its run (a killed ``bench run``) writes nothing."""
        try:
            text = self.lock.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        if text != owner.strip() or _owner_is_stale(owner):
            raise BenchError(
                f"{self.root}: the run that started this training (pid {owner.split()[0]}) "
                "no longer holds the folder's lock; nothing written"
            )

    def release_lock(self) -> None:
        fd = getattr(self, "_lock_fd", None)
        if fd is None:
            return
        self.lock.unlink(missing_ok=True)  # removed while still held: no one takes it between
        os.close(fd)
        self._lock_fd = None


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def default_run_name(name: str, stamp: str, n: int) -> str:
    """``<name>-<stamp>``, then ``-2``, ``-3``... when runs start in the same second."""
    return f"{name}-{stamp}" if n == 1 else f"{name}-{stamp}-{n}"


def earlier_runs(output: Path, name: str, exclude: Path) -> list[Path]:
    """The default run folders of benchmark ``name`` under ``output``, newest first."""
    pattern = re.compile(rf"{re.escape(name)}-\d{{8}}-\d{{6}}(-\d+)?")
    try:
        found = [p for p in output.iterdir() if pattern.fullmatch(p.name) and p.is_dir()]
    except OSError:
        return []
    runs = [p.resolve() for p in found if p.resolve() != exclude.resolve()]
    return sorted(runs, key=lambda p: (p.name[: len(name) + 16], p.stat().st_mtime), reverse=True)


def _parse_owner(text: str) -> tuple[int | None, str | None]:
    fields = text.split()
    pid = int(fields[0]) if fields and fields[0].isdigit() else None
    return pid, fields[1] if len(fields) > 1 else None


def _owner_is_stale(text: str) -> bool:
    """Stale only when written on this host by a process that no longer exists; a lock
    from another host (shared file system) or in an unknown format is respected."""
    pid, host = _parse_owner(text)
    if pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False
