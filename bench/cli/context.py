"""What the CLI hands every command's ``run``: a :class:`bench.interfaces.CommandContext`
over the terminal (:mod:`bench.cli.console`) and the registry of this process, so a
plugin's command needs neither ``bench.cli``, ``bench.config`` nor ``bench.plugins``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cli import console
from bench.config import Config, load_config
from bench.plugins.registry import Registry


class TerminalConsole:
    """A :class:`bench.interfaces.CommandConsole` on the terminal."""

    def info(self, message: str) -> None:
        console.info(message)

    def error(self, message: str) -> None:
        console.error(message)

    def print(self, text: str) -> None:
        console.out.print(text, markup=False, highlight=False)

    def print_json(self, text: str) -> None:
        console.out.print_json(text)

    def progress(self, what: str) -> console.Counter:
        return console.Counter(what)


@dataclass(frozen=True)
class CliContext:
    """A :class:`bench.interfaces.CommandContext` over ``registry`` (the core's own
    commands read ``registry`` itself)."""

    registry: Registry
    console: TerminalConsole = field(default_factory=TerminalConsole)

    def load_benchmark(self, path: Path, overrides: Sequence[str] = ()) -> Config:
        """``path`` read and resolved against the registry, with ``--set`` ``overrides``
        applied (a BenchError on a problem)."""
        return load_config(path, self.registry, overrides=overrides)

    def create_plugin(self, kind: str, name: str, params: Mapping[str, Any], where: str) -> Any:
        """An instance of the registered ``kind`` plugin ``name`` (errors name ``where``)."""
        return self.registry.create(kind, name, params, where)
