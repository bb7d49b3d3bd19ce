"""`bench data check`: read every spectrum file (the sdss plugin adds sample, download, ingest)."""

from __future__ import annotations

from pathlib import Path

from bench.cli import console


def check(paths: list[Path]) -> int:
    """Exit 0 only when every file under ``paths`` was read."""
    from bench.data.check import check_paths

    with console.Counter("reading") as bar:
        result = check_paths(paths, progress=bar.update)
    console.data_check_table(result)
    return 0 if not result.failures and result.n_read > 0 else 1
