"""The `bench` command. Thin: parse arguments, call the core, print through bench.cli.console.

The parser holds the core commands plus those plugins add through the
``register_commands`` hook; groups such as ``data`` and ``plot`` are shared.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import __version__
from bench.cli.helpformat import Parser
from bench.errors import USER_ERROR_EXIT, BenchError
from bench.interfaces import Command

# the help of each command group, and the dest its subcommand's name is stored under
GROUPS = {
    "data": ("work with spectrum files", "ACTION"),
    "plot": ("draw pictures of spectra and of what models see", "WHAT"),
}
# the subparsers of each command group, by the words that call it
Groups = dict[tuple[str, ...], Any]


def _run_arguments(sub: Any) -> None:
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


def _plugin_arguments(sub: Any) -> None:
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


def _group_arguments(groups: Groups) -> None:
    check = groups[("data",)].add_parser(
        "check", help="read every spectrum file; count classes; list bad files"
    )
    check.add_argument("paths", nargs="+", type=Path)
    gallery = groups[("plot",)].add_parser("gallery", help="rendered model inputs per class (PNG)")
    gallery.add_argument("config", nargs="?", default="benchmarks.toml", type=Path)
    gallery.add_argument("--model", help="label of the model whose input to show (default: first)")
    gallery.add_argument("--per-class", type=int, default=4)
    gallery.add_argument("--out", type=Path, default=Path("gallery.png"))


def _results_arguments(sub: Any) -> None:
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


def _group(groups: Groups, sub: Any, path: tuple[str, ...], help: str = "", meta: str = "") -> Any:
    """The subparsers of the group called by ``path`` (``("data",)``), made on first use."""
    if path not in groups:
        parser = sub.add_parser(path[-1], help=help or f"{' '.join(path)} commands")
        groups[path] = parser.add_subparsers(
            dest=f"{'_'.join(path)}_command", required=True, metavar=meta or "ACTION"
        )
    return groups[path]


def _add_plugin_commands(
    sub: Any, groups: Groups, commands: Mapping[tuple[str, ...], tuple[Command, str]]
) -> None:
    core = {"run", "validate", "plugins", "check-plugin", "predict", "leaderboard", "compare"}
    taken = {("data", "check"), ("plot", "gallery")}
    for path, (command, source) in commands.items():
        if path in taken or path[0] in core or path in groups:
            raise BenchError(f"plugin {source}: command {' '.join(path)!r} is a core command")
        parent = sub
        for depth in range(1, len(path)):
            parent = _group(groups, parent, path[:depth])
        parser = parent.add_parser(path[-1], help=command.help)
        command.add_arguments(parser)
        parser.set_defaults(plugin_command=command)


def _parser(
    commands: Mapping[tuple[str, ...], tuple[Command, str]] | None = None,
) -> argparse.ArgumentParser:
    """The core commands plus ``commands`` (default: those the registered plugins add)."""
    if commands is None:
        from bench.plugins.manager import get_registry

        commands = get_registry().commands
    parser = Parser(prog="bench", description="Benchmark classifiers of astrophysical spectra.")
    parser.add_argument("--version", action="version", version=f"specclassbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _run_arguments(sub)
    _plugin_arguments(sub)
    groups: Groups = {}
    for name, (help, metavar) in GROUPS.items():
        _group(groups, sub, (name,), help, metavar)
    _group_arguments(groups)
    _results_arguments(sub)
    _add_plugin_commands(sub, groups, commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = _parser()
    except BenchError as exc:  # a broken plugin: say so in one line
        from bench.cli import console

        console.error(str(exc))
        return USER_ERROR_EXIT
    args = parser.parse_args(argv)
    from bench.cli import console

    try:
        return int(_dispatch(args))
    except BenchError as exc:
        console.error(str(exc))
        return USER_ERROR_EXIT
    except OSError as exc:  # a folder or file the user named cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        console.error(f"{where}{exc.strerror or exc}")
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from bench.cli import commands

    if getattr(args, "plugin_command", None) is not None:
        return int(args.plugin_command.run(args))
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
    if args.command == "data" and args.data_command == "check":
        from bench.cli.data_commands import check

        return check(args.paths)
    if args.command == "plot" and args.plot_command == "gallery":
        from bench.cli.gallery import plot_gallery

        return plot_gallery(args.config, args.model, args.per_class, args.out)
    if args.command == "leaderboard":
        return commands.leaderboard(args.paths, args.metric, args.fmt, args.export)
    if args.command == "compare":
        return commands.compare(args.baseline, args.current, args.tolerance)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
