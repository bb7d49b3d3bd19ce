"""The `bench` command. Thin: parse arguments, run the command, print through bench.cli.console.

Every command is a :class:`bench.interfaces.Command` of the registry: the core's own come
from the internal plugins in :data:`INTERNAL_PLUGINS`, handed to the registry first (as
tox 4 registers its ``internal_plugins``), the others from plugins' ``register_commands``.
Groups such as ``data`` and ``plot`` are shared. A command's ``run`` gets the parsed
arguments and a :class:`bench.interfaces.CommandContext`.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from bench import __version__
from bench.cli import core_commands
from bench.cli.helpformat import Parser
from bench.errors import USER_ERROR_EXIT, BenchError
from bench.interfaces import Command, CommandContext
from bench.plugins.manager import get_registry, with_internal_plugins
from bench.plugins.registry import Registry
from bench.results import sinks

# the core's own plugins: its commands, and its report writers as result sinks
INTERNAL_PLUGINS: tuple[object, ...] = (core_commands, sinks)
# the help of each command group, and the metavar of its subcommand
GROUPS: dict[tuple[str, ...], tuple[str, str]] = {
    ("data",): ("work with spectrum files", "ACTION"),
    ("plot",): ("draw pictures of spectra and of what models see", "WHAT"),
}
# the subparsers of each command group, by the words that call it
Groups = dict[tuple[str, ...], Any]


def cli_registry() -> Registry:
    """The registry of this process with the core's internal plugins first."""
    return with_internal_plugins(get_registry(), INTERNAL_PLUGINS)


def _group(groups: Groups, sub: Any, path: tuple[str, ...]) -> Any:
    """The subparsers of the group called by ``path`` (``("data",)``), made on first use."""
    if path not in groups:
        help, metavar = GROUPS.get(path, (f"{' '.join(path)} commands", "ACTION"))
        parser = sub.add_parser(path[-1], help=help)
        groups[path] = parser.add_subparsers(
            dest=f"{'_'.join(path)}_command", required=True, metavar=metavar
        )
    return groups[path]


def _parser(
    commands: Mapping[tuple[str, ...], tuple[Command, str]] | None = None,
) -> argparse.ArgumentParser:
    """A parser of ``commands`` (default: those of :func:`cli_registry`), in their order."""
    if commands is None:
        commands = cli_registry().commands
    parser = Parser(prog="bench", description="Benchmark classifiers of astrophysical spectra.")
    parser.add_argument("--version", action="version", version=f"specclassbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: Groups = {}
    for path, (command, _source) in commands.items():
        parent = sub
        for depth in range(1, len(path)):
            parent = _group(groups, parent, path[:depth])
        words = parent.add_parser(path[-1], help=command.help)
        command.add_arguments(words)
        words.set_defaults(bench_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bench.cli import console
    from bench.cli.context import CliContext

    try:
        registry = cli_registry()
        parser = _parser(registry.commands)
    except BenchError as exc:  # a broken plugin: say so in one line
        console.error(str(exc))
        return USER_ERROR_EXIT
    for line in [*registry.broken.values(), *registry.warnings]:  # one line each, then on
        console.warning(line)
    args = parser.parse_args(argv)
    try:
        return _run(args.bench_command, args, CliContext(registry))
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


def _run(command: Command, args: argparse.Namespace, context: CommandContext) -> int:
    """``command.run(args, context)``, or ``run(args)`` for a command whose ``run`` takes
    one positional argument (written before commands were handed a context)."""
    try:
        parameters = inspect.signature(command.run).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature: the current form
        return int(command.run(args, context))
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return int(command.run(args, context))
    one_argument: Any = command.run
    return int(one_argument(args))


if __name__ == "__main__":
    sys.exit(main())
