"""`bench data sample|download|ingest`: the SDSS catalog, the SAS and the spectrum cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import BenchError
from bench.interfaces import Command, CommandContext


def _sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--n", type=int, required=True, help="objects to draw (the paper: 300000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--z-min", type=float, default=0.0)
    parser.add_argument("--z-max", type=float, default=3.5)
    parser.add_argument("--class-column", default="CLASS", help="e.g. CLASS_PERSON for DR12Q")
    parser.add_argument("--any-zwarning", action="store_true", help="keep ZWARNING != 0 too")
    parser.add_argument("--out", type=Path, default=Path("sample.csv"))


def sample(args: argparse.Namespace, context: CommandContext) -> int:
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
    context.console.info(f"{len(drawn['class'])} objects ({counts}) written to {args.out}")
    return 0


def _counts(labels: object) -> str:
    """'GALAXY 10, QSO 10, STAR 10'."""
    import numpy as np

    names, n = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return ", ".join(f"{a} {b}" for a, b in zip(names, n, strict=True))


def _download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sample", type=Path, help="CSV written by `bench data sample`")
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--release", default="dr17")
    parser.add_argument("--base-url", default=None, help="mirror of the SAS (default: SDSS)")
    parser.add_argument("--workers", type=int, default=8)


def download(args: argparse.Namespace, context: CommandContext) -> int:
    from bench_plugins.sdss.catalog import load_sample
    from bench_plugins.sdss.download import SAS_BASE_URL, download_spectra, targets_from_sample

    console = context.console
    targets = targets_from_sample(load_sample(args.sample))
    with console.progress("downloading") as bar:
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


def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)


def ingest(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.readers import find_spectra
    from bench_plugins.sdss.cache import SpectrumCache

    console = context.console
    files = find_spectra(args.paths)
    cache = SpectrumCache(args.cache)
    with console.progress("ingesting") as bar:
        report = cache.ingest(files, workers=args.workers, progress=bar.update)
    for path, reason in report.problems:
        console.error(f"{path}: {reason}")
    console.info(
        f"{args.cache}: {report.ingested} files ingested, {report.unchanged} unchanged, "
        f"{len(report.problems)} with problems"
    )
    return 1 if report.problems else 0


COMMANDS = (
    Command(
        ("data", "sample"),
        "draw a seeded stratified sample from a spAll/specObj/DR12Q catalog",
        sample,
        _sample_arguments,
    ),
    Command(
        ("data", "download"),
        "fetch a sample's spectra from the SDSS SAS",
        download,
        _download_arguments,
    ),
    Command(
        ("data", "ingest"), "read spectrum files into an on-disk cache", ingest, _ingest_arguments
    ),
)
