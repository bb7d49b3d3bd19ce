"""The `bench` command. Thin: parse arguments, call the core, print through bench.cli.console."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import __version__
from bench.cli.helpformat import Parser
from bench.errors import USER_ERROR_EXIT, BenchError


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bench", description="Benchmark classifiers of astrophysical spectra.")
    parser.add_argument("--version", action="version", version=f"specclassbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run every cell of a benchmark")
    run.add_argument(
        "config", nargs="?", default="benchmarks.toml", type=Path, help="default: ./benchmarks.toml"
    )
    run.add_argument(
        "--out", type=Path, help="output folder (default: <benchmark.output>/<name>-<time>)"
    )
    run.add_argument(
        "--quick", action="store_true", help="smoke run: few spectra, 1 epoch, smallest inputs"
    )
    run.add_argument(
        "--fresh", action="store_true", help="rerun every cell, even those finished in --out"
    )

    validate = sub.add_parser("validate", help="check a config without running it")
    validate.add_argument("config", type=Path)

    plugins = sub.add_parser("plugins", help="list registered plugins and their options")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    check_plugin = sub.add_parser("check-plugin", help="run the conformance suite on a plugin")
    check_plugin.add_argument("words", nargs="+", metavar="[KIND] NAME", help="e.g. model logreg")
    check_plugin.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="a plugin option"
    )

    predict = sub.add_parser("predict", help="apply a trained cell to spectrum files")
    predict.add_argument("cell_dir", type=Path)
    predict.add_argument("paths", nargs="+", type=Path, help="spectrum files or folders")
    predict.add_argument(
        "--out", type=Path, default=None, help="default: predictions.csv (or .parquet)"
    )
    predict.add_argument(
        "--format", dest="fmt", default="csv", choices=("csv", "parquet"), help="output format"
    )

    data = sub.add_parser("data", help="work with spectrum files")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    check = data_sub.add_parser(
        "check", help="read every spectrum file; count classes; list bad files"
    )
    check.add_argument("paths", nargs="+", type=Path)
    sample = data_sub.add_parser(
        "sample", help="draw a seeded stratified sample from a spAll/specObj/DR12Q catalog"
    )
    sample.add_argument("catalog", type=Path)
    sample.add_argument("--n", type=int, required=True, help="objects to draw (the paper: 300000)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--z-min", type=float, default=0.0)
    sample.add_argument("--z-max", type=float, default=3.5)
    sample.add_argument("--class-column", default="CLASS", help="e.g. CLASS_PERSON for DR12Q")
    sample.add_argument("--any-zwarning", action="store_true", help="keep ZWARNING != 0 too")
    sample.add_argument("--out", type=Path, default=Path("sample.csv"))
    download = data_sub.add_parser("download", help="fetch a sample's spectra from the SDSS SAS")
    download.add_argument("sample", type=Path, help="CSV written by `bench data sample`")
    download.add_argument("--dest", type=Path, required=True)
    download.add_argument("--release", default="dr17")
    download.add_argument("--base-url", default=None, help="mirror of the SAS (default: SDSS)")
    download.add_argument("--workers", type=int, default=8)
    ingest = data_sub.add_parser("ingest", help="read spectrum files into an on-disk cache")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--cache", type=Path, required=True)
    ingest.add_argument("--workers", type=int, default=2)

    plot = sub.add_parser("plot", help="draw pictures of spectra and of what models see")
    plot_sub = plot.add_subparsers(dest="plot_command", required=True, metavar="WHAT")
    spectra = plot_sub.add_parser("spectra", help="synthetic examples per class, beside real ones")
    spectra.add_argument("--real", type=Path, help="folder of real spec-lite files to show beside")
    spectra.add_argument("--seed", type=int, default=0)
    spectra.add_argument("--out", type=Path, default=Path("spectra.png"))
    gallery = plot_sub.add_parser("gallery", help="rendered model inputs per class (PNG)")
    gallery.add_argument("config", nargs="?", default="benchmarks.toml", type=Path)
    gallery.add_argument("--model", help="label of the model whose input to show (default: first)")
    gallery.add_argument("--per-class", type=int, default=4)
    gallery.add_argument("--out", type=Path, default=Path("gallery.png"))

    board = sub.add_parser("leaderboard", help="rank cells of one or more runs by a metric")
    board.add_argument(
        "paths", nargs="*", type=Path, help="report.json files or folders (default: reports/)"
    )
    board.add_argument("--metric", default="macro_f1", help="e.g. accuracy, macro_f1, recall:QSO")
    board.add_argument(
        "--format", dest="fmt", default="table", choices=("table", "md", "html", "json")
    )
    board.add_argument(
        "--export",
        type=Path,
        metavar="PATH",
        help="also write the table as Parquet (.parquet, needs pyarrow) or CSV (.csv); "
        "without a suffix: Parquet when pyarrow is installed, else CSV",
    )

    compare = sub.add_parser("compare", help="CI gate: exit 1 when a metric regressed")
    compare.add_argument("baseline", type=Path)
    compare.add_argument("current", type=Path)
    compare.add_argument("--tolerance", type=float, default=0.02, help="default: 0.02")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from bench.cli import console

    try:
        return int(_dispatch(args))
    except BenchError as exc:
        console.error(str(exc))
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from bench.cli import commands

    if args.command == "run":
        return commands.run(args.config, args.out, args.quick, args.fresh)
    if args.command == "validate":
        return commands.validate(args.config)
    if args.command == "plugins":
        return commands.plugins(args.json)
    if args.command == "check-plugin":
        from bench.cli.check_plugin import check_plugin

        return check_plugin(args.words, args.option)
    if args.command == "predict":
        out = args.out or Path(f"predictions.{args.fmt}")
        return commands.predict(args.cell_dir, args.paths, out, args.fmt)
    if args.command == "data":
        from bench.cli import data_commands

        return data_commands.dispatch(args)
    if args.command == "plot" and args.plot_command == "spectra":
        return commands.plot_spectra(args.out, args.real, args.seed)
    if args.command == "plot" and args.plot_command == "gallery":
        return commands.plot_gallery(args.config, args.model, args.per_class, args.out)
    if args.command == "leaderboard":
        return commands.leaderboard(args.paths, args.metric, args.fmt, args.export)
    if args.command == "compare":
        return commands.compare(args.baseline, args.current, args.tolerance)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
