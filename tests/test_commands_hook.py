"""The register_commands hook: plugins add `bench` subcommands, in groups shared with the
core, whose own commands are ordinary Commands of an internal plugin; every command is
handed a CommandContext and imports nothing of the CLI."""

from __future__ import annotations

import argparse
import types

import pytest

from bench import hookimpl
from bench.cli import main
from bench.cli.context import CliContext
from bench.cli.main import INTERNAL_PLUGINS, cli_registry
from bench.interfaces import Command, CommandContext
from bench.plugins import manager
from tests.plugins import commands

CORE = ["run", "validate", "plugins", "check-plugin", "predict", "data check", "plot gallery"]


def test_a_plugin_command_runs_with_its_arguments_and_exit_code(capsys):
    with manager.using_registry(manager.get_registry(extra=[commands], third_party=False)):
        assert main(["greet", "world"]) == 3  # run(args, context): prints through it
        assert capsys.readouterr().out == "hello world\n"
        assert main(["data", "count"]) == 0  # run(args): one argument still works


def test_plugin_commands_are_listed_in_their_group(capsys):
    registry = manager.get_registry(extra=[commands], third_party=False)
    with manager.using_registry(registry), pytest.raises(SystemExit):
        main(["data", "--help"])
    out = capsys.readouterr().out
    for action in ("check", "sample", "download", "ingest", "count"):
        assert action in out


def test_core_commands_are_commands_of_an_internal_plugin_registered_first():
    registry = manager.with_internal_plugins(
        manager.get_registry(third_party=False), INTERNAL_PLUGINS
    )
    paths = [" ".join(path) for path in registry.commands]
    assert paths[: len(CORE) + 2] == [*CORE, "leaderboard", "compare"]
    assert {registry.commands[tuple(p.split())][1] for p in paths[: len(CORE)]} == {"core"}
    assert registry.commands[("data", "sample")][1] == "built-in"
    assert registry.commands[("plot", "spectra")][1] == "built-in"
    assert [sink.name for sink in registry.sinks][:2] == ["objects_table", "report_html"]


def test_the_process_registry_itself_holds_no_core_command():
    assert ("run",) not in manager.get_registry(third_party=False).commands
    assert ("run",) in cli_registry().commands


def test_a_plugin_command_may_not_replace_a_core_command(capsys):
    plugin = types.ModuleType("clash")

    @hookimpl
    def register_commands(register):  # type: ignore[no-untyped-def]
        register(Command(("data", "check"), "mine", lambda args, context: 0))

    plugin.register_commands = register_commands  # type: ignore[attr-defined]
    with manager.using_registry(manager.get_registry(extra=[plugin], third_party=False)):
        assert main(["data", "check", "x"]) == 2
    assert "command 'data check' is a core command" in capsys.readouterr().err


def test_two_plugins_may_not_register_the_same_command():
    with pytest.raises(Exception, match="already registered"):
        manager.get_registry(
            extra=[
                commands,
                types.SimpleNamespace(
                    register_commands=hookimpl(
                        lambda register: register(Command(("greet",), "again", lambda args: 0))
                    )
                ),
            ],
            third_party=False,
        )


def test_the_cli_context_is_a_command_context(toy_registry, tmp_path, capsys):
    from tests.test_core import CONFIG, write

    context: CommandContext = CliContext(toy_registry)
    config = context.load_benchmark(write(tmp_path, CONFIG))
    spec = config.datasets[0]
    source = context.create_plugin("dataset", spec.name, spec.params, "dataset").open()
    assert len(source) > 0 and config.classes
    context.console.info("to stderr")
    context.console.print_json('{"a": 1}')
    with context.console.progress("counting") as bar:
        bar.update(1, 2)
    out, err = capsys.readouterr()
    assert "to stderr" in err and '"a": 1' in out


def test_a_core_command_runs_through_the_same_dispatch(toy_registry, tmp_path, capsys):
    from tests.test_core import CONFIG, write

    command = cli_registry().commands[("validate",)][0]
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)  # the arguments exactly as `bench validate` parses them
    args = parser.parse_args([str(write(tmp_path, CONFIG))])
    assert command.run(args, CliContext(cli_registry())) == 0
    assert "valid" in capsys.readouterr().out
