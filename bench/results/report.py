"""The versioned run report: provenance, resolved config, one result per cell.

``report.json`` follows ``bench/schema/report-1.json`` and is validated before it is
written; ``report.md`` (``report_md.py``) is the same in human-readable tables. It is
strict JSON: a NaN or infinite number (a plugin's loss, a ``describe()`` value) is written
as null, and ``non_finite`` maps its place (``results/0/history/loss/2``) to what it was.
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import BenchError
from bench.store.files import atomic_write_text
from bench.store.rundir import RunDir

SCHEMA = "bench.report/1"


@cache
def report_schema() -> dict[str, Any]:
    text = files("bench").joinpath("schema/report-1.json").read_text(encoding="utf-8")
    return json.loads(text)


def validate_report(report: dict[str, Any], where: str = "report") -> None:
    """Raise BenchError naming the first schema violation."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(report_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(report))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise BenchError(f"{where}: does not follow {SCHEMA} at {path}: {error.message}")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _devices() -> list[str]:
    if "jax" not in sys.modules:
        return []
    import jax

    return [f"{d.platform}:{d.id}" for d in jax.devices()]


def provenance(started: str, seeds: list[int]) -> dict[str, Any]:
    return {
        "bench_version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("keras", "jax", "jaxlib", "numpy", "scikit-learn", "astropy", "pluggy")
        },
        "keras_backend": os.environ.get("KERAS_BACKEND", "jax"),
        "devices": _devices(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "started": started,
        "finished": now(),
        "seeds": seeds,
    }


def build_report(
    config_json: dict[str, Any],
    results: list[dict[str, Any]],
    datasets: dict[str, Any],
    started: str,
    seeds: list[int],
) -> dict[str, Any]:
    ok = sum(r["status"] == "ok" for r in results)
    return {
        "schema": SCHEMA,
        "provenance": provenance(started, seeds),
        "config": config_json,
        "datasets": datasets,
        "summary": {"n_cells": len(results), "ok": ok, "failed": len(results) - ok},
        "results": results,
    }


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    """Validate, then write report.json (strict JSON: non-finite numbers as null, listed
    in ``non_finite``) and report.md atomically; return the json path. Cells tested on
    another dataset than they trained on add ``report["transfer"]`` first (validation
    against test accuracy, read with the cells' files under ``out_dir``)."""
    from bench.results.transfer import transfer_section

    classes = report["config"].get("benchmark", {}).get("classes") or []
    transfer = transfer_section(report["results"], classes, Path(out_dir))
    if transfer is not None:
        report["transfer"] = transfer
    strict, bad = finite_json(report)
    if bad:
        strict["non_finite"] = bad
    validate_report(strict)
    run_dir = RunDir(out_dir)
    from bench.results.report_md import markdown

    atomic_write_text(run_dir.report_md, markdown(report))
    atomic_write_text(run_dir.report_json, json.dumps(strict, indent=2, allow_nan=False))
    return run_dir.report_json


def finite_json(value: Any, where: str = "") -> tuple[Any, dict[str, str]]:
    """``value`` as plain JSON data with every NaN or infinite number replaced by None,
    and where each was (``a/0/b``) with what it was (``NaN``, ``Infinity``, ``-Infinity``)."""
    bad: dict[str, str] = {}

    def clean(v: Any, at: str) -> Any:
        if isinstance(v, Mapping):
            return {str(k): clean(x, f"{at}/{k}" if at else str(k)) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x, f"{at}/{i}" if at else str(i)) for i, x in enumerate(v)]
        if hasattr(v, "tolist") and not isinstance(v, str | bytes):  # numpy, jax
            return clean(v.tolist(), at)
        if isinstance(v, float) and not math.isfinite(v):
            bad[at] = "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
            return None
        if v is None or isinstance(v, str | int | float | bool):
            return v
        raise BenchError(f"report: {at}: not JSON serialisable ({type(v).__name__})")

    return clean(value, where), bad


def load_report(path: Path) -> dict[str, Any]:
    """Read and validate a report.json (BenchError on any problem)."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{path}: report not found") from None
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: not a readable JSON report: {exc}") from None
    except RecursionError:
        raise BenchError(f"{path}: not a readable JSON report: nested too deeply") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        found = report.get("schema") if isinstance(report, dict) else type(report).__name__
        raise BenchError(f"{path}: schema is {found!r}, expected {SCHEMA!r}")
    try:
        validate_report(report, str(path))
    except RecursionError:
        raise BenchError(f"{path}: not a report: nested too deeply to check") from None
    return report
