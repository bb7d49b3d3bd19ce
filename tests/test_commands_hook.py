"""The register_commands hook: plugins add `bench` subcommands, in groups shared with the core."""

from __future__ import annotations

import types

import pytest

from bench import hookimpl
from bench.cli import main
from bench.interfaces import Command
from bench.plugins import manager
from tests.plugins import commands


def test_a_plugin_command_runs_with_its_arguments_and_exit_code(capsys):
    with manager.using_registry(manager.get_registry(extra=[commands], third_party=False)):
        assert main(["greet", "world"]) == 3
        assert capsys.readouterr().out == "hello world\n"
        assert main(["data", "count"]) == 0


def test_plugin_commands_are_listed_in_their_group(capsys):
    registry = manager.get_registry(extra=[commands], third_party=False)
    with manager.using_registry(registry), pytest.raises(SystemExit):
        main(["data", "--help"])
    out = capsys.readouterr().out
    for action in ("check", "sample", "download", "ingest", "count"):
        assert action in out


def test_built_in_commands_come_from_their_plugins():
    registry = manager.get_registry(third_party=False)
    assert registry.commands[("data", "sample")][1] == "built-in"
    assert registry.commands[("plot", "spectra")][1] == "built-in"


def test_a_plugin_command_may_not_replace_a_core_command(capsys):
    plugin = types.ModuleType("clash")

    @hookimpl
    def register_commands(register):  # type: ignore[no-untyped-def]
        register(Command(("data", "check"), "mine", lambda args: 0))

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
