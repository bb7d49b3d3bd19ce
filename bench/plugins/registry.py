"""The registry: every loaded plugin class by kind and name, the commands and result sinks,
with where each came from. :mod:`bench.plugins.manager` fills it from pluggy hooks; the
rest of the core only reads it (``get``, ``create``, the defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError, closest
from bench.executors import Executor
from bench.interfaces import Command, Dataset, Model, Preprocessor, Renderer, ResultSink

CORE = "core"  # the source of the core's internal plugins (see with_internal_plugins)
# every kind of plugin class, with its base class and the hook that registers it
KINDS: dict[str, type[Any]] = {
    "dataset": Dataset,
    "preprocessor": Preprocessor,
    "renderer": Renderer,
    "model": Model,
    "executor": Executor,
}
# the kinds that process spectra: the conformance suite and the cell cache walk these;
# executors run tasks rather than process spectra, so neither applies to them
SPECTRUM_KINDS = ("dataset", "preprocessor", "renderer", "model")


@dataclass
class Registry:
    """Registered plugin classes by kind and name, with where each came from."""

    classes: dict[str, dict[str, type[Any]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    # CLI subcommands from the register_commands hook, by the words that call them
    commands: dict[tuple[str, ...], tuple[Command, str]] = field(default_factory=dict)
    # ResultSink classes from the register_result_sinks hook, in registration order
    sinks: list[type[ResultSink]] = field(default_factory=list)
    # how to rebuild this registry in another process (a dask worker)
    extra_modules: tuple[str, ...] = ()
    third_party: bool = True
    # installed plugins left out, by entry-point name: one line each saying why
    broken: dict[str, str] = field(default_factory=dict)
    # other one-line warnings (unknown names in BENCH_DISABLE_PLUGINS, BENCH_LOAD_PLUGINS)
    warnings: list[str] = field(default_factory=list)

    def add(self, kind: str, cls: type[Any], source: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, KINDS[kind])):
            raise BenchError(f"plugin {source}: registered {cls!r}, expected a {kind} class")
        if not cls.name:
            raise BenchError(f"plugin {source}: {cls.__name__} has no name")
        names = self.classes[kind]
        if cls.name in names:
            raise BenchError(
                f"plugin {source}: {kind} {cls.name!r} is already registered by "
                f"{self.sources[(kind, cls.name)]}"
            )
        names[cls.name] = cls
        self.sources[(kind, cls.name)] = source

    def add_command(self, command: Command, source: str) -> None:
        if not isinstance(command, Command) or not command.path:
            raise BenchError(f"plugin {source}: registered {command!r}, expected a Command")
        path = tuple(command.path)
        clash = [p for p in self.commands if p[: len(path)] == path or path[: len(p)] == p]
        if clash:
            owner = self.commands[clash[0]][1]
            taken = "a core command" if owner == CORE else f"already registered by {owner}"
            raise BenchError(f"plugin {source}: command {' '.join(path)!r} is {taken}")
        self.commands[path] = (command, source)

    def add_sink(self, cls: type[ResultSink], source: str) -> None:
        """A result sink class; a second one of the same name is ignored (first wins)."""
        if not (isinstance(cls, type) and issubclass(cls, ResultSink)):
            raise BenchError(f"plugin {source}: registered {cls!r}, expected a ResultSink class")
        if all(known.name != cls.name for known in self.sinks):
            self.sinks.append(cls)
            self.sources[("sink", cls.name)] = source

    def get(self, kind: str, name: str) -> type[Any]:
        names = self.classes[kind]
        if name not in names:
            valid = ", ".join(sorted(names)) or "none"
            left_out = "; ".join(self.broken.values())
            left_out = f"; left out: {left_out}" if left_out else ""
            raise BenchError(
                f"unknown {kind} {name!r}{closest(name, names)}; valid: {valid}{left_out}"
            )
        return names[name]

    def create(self, kind: str, name: str, params: Mapping[str, Any], where: str) -> Any:
        """An instance of plugin ``name`` with ``params``; errors name ``where``. A model
        gets :meth:`Model.make_members` with this registry's model factory, so a
        composite (``blend``) creates its members from the same plugins (a dask worker's
        registry of the run's extra modules, not the process default)."""
        cls = self.get(kind, name)
        try:
            instance = cls(**params)
            if isinstance(instance, Model):
                instance.make_members(self.model_factory)
            return instance
        except BenchError as exc:
            raise BenchError(f"{where}: {exc}") from None
        except SystemExit as exc:  # a plugin never ends the process while it is created
            raise BenchError(
                f"{where}: {kind} {name!r} called sys.exit({exc.code!r}) while being created"
            ) from None

    def model_class(self, name: str) -> type[Model]:
        """The registered model class ``name`` (a BenchError listing the valid ones)."""
        cls: type[Model] = self.get("model", name)
        return cls

    def model_factory(self, name: str, params: Mapping[str, Any], where: str) -> Model:
        """A :data:`bench.interfaces.ModelFactory` over the registered models."""
        model: Model = self.create("model", name, dict(params), where)
        return model

    def default_executor(self) -> str:
        """The first registered executor whose class sets ``is_default`` (the one a config
        without an ``[executor]`` table runs on); a BenchError when none does."""
        for name, cls in self.classes["executor"].items():
            if getattr(cls, "is_default", False):
                return name
        raise BenchError(
            "no executor is registered as the default (an executor class with is_default = "
            "True); name one in [executor]"
        )

    def default_renderer(self, input_kind: str) -> str:
        """The renderer registered as the default for ``input_kind`` ("image" or "flux";
        its class sets ``default_for``; "spectra" models get the flux one: their batches
        carry flux vectors); a BenchError naming the kind when none is."""
        if input_kind == "spectra":
            input_kind = "flux"
        for name, cls in self.classes["renderer"].items():
            if getattr(cls, "default_for", "") == input_kind:
                return name
        raise BenchError(
            f"no renderer is registered as the default for {input_kind!r} inputs "
            "(a renderer class with default_for = " + repr(input_kind) + ")"
        )
