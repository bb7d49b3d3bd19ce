"""The core's own commands, an internal plugin: ordinary :class:`bench.interfaces.Command`s
registered through ``register_commands``, like any plugin's (the CLI hands this module to
the registry first, as tox 4 registers its ``internal_plugins``). Each ``run`` turns the
parsed arguments into a call of :mod:`bench.cli.commands` and its neighbours."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from bench import hookimpl
from bench.cli.context import CliContext
from bench.interfaces import Command, CommandContext, add_set_argument
from bench.plugins.registry import Registry


def _registry(context: CommandContext) -> Registry:
    """The registry behind the CLI's context (the core's commands run only under it)."""
    assert isinstance(context, CliContext), context
    return context.registry


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", default="benchmarks.toml", type=Path, help="default: ./benchmarks.toml"
    )
    add_set_argument(parser)
    parser.add_argument(
        "--out", type=Path, help="output folder (default: <benchmark.output>/<name>-<time>)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: few spectra, 1 epoch, smallest inputs"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="train every cell; without it, finished cells with the same key are reused from "
        "--out, or (without --out) from earlier runs of the benchmark",
    )


def run(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli import commands

    return commands.run(
        args.config, args.out, args.quick, _registry(context), args.fresh, args.overrides
    )


def validate(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli import commands

    return commands.validate(args.config, _registry(context), args.overrides)


def plugins(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli import commands

    return commands.plugins(args.json, _registry(context), getattr(args, "kind", None))


def _plugins_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind", nargs="?", default=None, metavar="KIND",
        help="only this kind: dataset, preprocessor, renderer, model, executor or sink",
    )  # fmt: skip
    _json_flag(parser)


def _check_plugin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="+", metavar="[KIND] NAME", help="e.g. model logreg")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="a plugin option"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="fail a check that runs longer (default: no limit)",
    )


def check_plugin(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli.check_plugin import check_plugin

    return check_plugin(args.words, args.option, _registry(context), args.timeout)


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cell_dir", type=Path)
    parser.add_argument("paths", nargs="+", type=Path, help="spectrum files or folders")
    parser.add_argument(
        "--out", type=Path, default=None, help="default: predictions.csv (or .parquet)"
    )
    parser.add_argument(
        "--format", dest="fmt", default="csv", choices=("csv", "parquet"), help="output format"
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=None,
        metavar="FILE",
        help="a labels CSV (class and file, or plate/mjd/fiber columns) giving the true "
        "classes; default: a labels.csv beside the inputs, else the files' own classes",
    )


def predict(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli import console
    from bench.run.predict import predict_files

    out = args.out or Path(f"predictions.{args.fmt}")
    summary = predict_files(args.cell_dir, args.paths, out, args.fmt, args.labels)
    for path, reason in summary.failures:
        console.file_error(path, reason)
    console.predict_summary(summary)
    return 1 if summary.failures else 0


def data_check(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli.data_commands import check

    return check(args.paths)


def _gallery_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default="benchmarks.toml", type=Path)
    parser.add_argument("--model", help="label of the model whose input to show (default: first)")
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("gallery.png"))


def plot_gallery(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli.gallery import plot_gallery

    return plot_gallery(args.config, args.model, args.per_class, args.out, _registry(context))


def _leaderboard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="report.json files or folders (default: reports/)"
    )
    parser.add_argument("--metric", default="macro_f1", help="e.g. accuracy, macro_f1, recall:QSO")
    parser.add_argument(
        "--format", dest="fmt", default="table", choices=("table", "md", "html", "json")
    )
    parser.add_argument(
        "--export",
        type=Path,
        metavar="PATH",
        help="also write the table as Parquet (.parquet, needs pyarrow) or CSV (.csv); "
        "without a suffix: Parquet when pyarrow is installed, else CSV",
    )


def leaderboard(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli import commands

    return commands.leaderboard(args.paths, args.metric, args.fmt, args.export)


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", type=Path, help="a report.json or a run folder")
    parser.add_argument("current", type=Path, help="a report.json or a run folder")
    parser.add_argument("--tolerance", type=float, default=0.02, help="default: 0.02")
    parser.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    parser.add_argument(
        "--only-changed",
        action="store_true",
        help="show only the rows whose value changed or whose verdict is not ok",
    )


def compare(args: argparse.Namespace, context: CommandContext) -> int:
    from bench.cli import console
    from bench.results.compare import compare as compare_reports

    result = compare_reports(args.baseline, args.current, args.tolerance)
    console.compare_result(result, args.baseline, args.json, args.only_changed)
    return result.exit_code


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path)


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    _config(parser)
    add_set_argument(parser)


def _paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


# in the order `bench --help` lists them; `data` and `plot` are groups plugins share
COMMANDS = (
    Command(("run",), "run every cell of a benchmark", run, _run_arguments),
    Command(("validate",), "check a config without running it", validate, _validate_arguments),
    Command(("plugins",), "list registered plugins and their options", plugins, _plugins_arguments),
    Command(
        ("check-plugin",),
        "run the conformance suite on a plugin",
        check_plugin,
        _check_plugin_arguments,
    ),
    Command(("predict",), "apply a trained cell to spectrum files", predict, _predict_arguments),
    Command(
        ("data", "check"),
        "read every spectrum file; count classes; list bad files",
        data_check,
        _paths,
    ),
    Command(
        ("plot", "gallery"),
        "rendered model inputs per class (PNG)",
        plot_gallery,
        _gallery_arguments,
    ),
    Command(
        ("leaderboard",),
        "rank cells of one or more runs by a metric",
        leaderboard,
        _leaderboard_arguments,
    ),
    Command(("compare",), "CI gate: exit 1 when a metric regressed", compare, _compare_arguments),
)


@hookimpl
def register_commands(register: Callable[[Command], None]) -> None:
    for command in COMMANDS:
        register(command)
