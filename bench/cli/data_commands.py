"""`bench data check|sample|download|ingest`: SDSS file tooling (readers, catalog, SAS, cache)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli import console
from bench.errors import BenchError


def dispatch(args: argparse.Namespace) -> int:
    if args.data_command == "check":
        return check(args.paths)
    if args.data_command == "sample":
        return sample(args)
    if args.data_command == "download":
        return download(args)
    if args.data_command == "ingest":
        return ingest(args.paths, args.cache, args.workers)
    raise AssertionError(args.data_command)


def check(paths: list[Path]) -> int:
    """Exit 0 only when every file under ``paths`` was read."""
    from bench.data.check import check_paths

    with console.Counter("reading") as bar:
        result = check_paths(paths, progress=bar.update)
    console.data_check_table(result)
    return 0 if not result.failures and result.n_read > 0 else 1


def sample(args: argparse.Namespace) -> int:
    from bench_plugins.sdss.catalog import save_sample, select_sample

    if args.n < 1:
        raise BenchError(f"--n: {args.n} is not a positive number of objects")
    drawn = select_sample(
        args.catalog,
        args.n,
        seed=args.seed,
        z_min=args.z_min,
        z_max=args.z_max,
        zwarning_zero=not args.any_zwarning,
        class_column=args.class_column,
    )
    save_sample(drawn, args.out)
    counts = _counts(drawn["class"])
    console.info(f"{len(drawn['class'])} objects ({counts}) written to {args.out}")
    return 0


def _counts(labels: object) -> str:
    """'GALAXY 10, QSO 10, STAR 10'."""
    import numpy as np

    names, n = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return ", ".join(f"{a} {b}" for a, b in zip(names, n, strict=True))


def download(args: argparse.Namespace) -> int:
    from bench_plugins.sdss.catalog import load_sample
    from bench_plugins.sdss.download import SAS_BASE_URL, download_spectra, targets_from_sample

    targets = targets_from_sample(load_sample(args.sample))
    with console.Counter("downloading") as bar:
        summary = download_spectra(
            targets,
            args.dest,
            release=args.release,
            base_url=args.base_url or SAS_BASE_URL,
            workers=args.workers,
            progress=lambda done, total, _result: bar.update(done, total),
        )
    for url, reason in summary.failures:
        console.error(f"{url}: {reason}")
    console.info(
        f"downloaded {summary.count('downloaded')}, already there {summary.count('skipped')}, "
        f"failed {summary.count('failed')}"
    )
    return 1 if summary.failures else 0


def ingest(paths: list[Path], cache_dir: Path, workers: int) -> int:
    from bench.data.readers import find_spectra
    from bench_plugins.sdss.cache import SpectrumCache

    files = find_spectra(paths)
    cache = SpectrumCache(cache_dir)
    with console.Counter("ingesting") as bar:
        report = cache.ingest(files, workers=workers, progress=bar.update)
    for path, reason in report.problems:
        console.error(f"{path}: {reason}")
    console.info(
        f"{cache_dir}: {report.ingested} files ingested, {report.unchanged} unchanged, "
        f"{len(report.problems)} with problems"
    )
    return 1 if report.problems else 0
