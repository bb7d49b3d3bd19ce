"""Plugin loading: every plugin, built-in or not, comes from the ``bench`` entry-point group.

The built-ins are entry points of our own distribution (``specclassbench``); they show the
source "built-in" and always load. ``BENCH_LOAD_PLUGINS`` (like llm's LLM_LOAD_PLUGINS)
limits third-party plugins: unset loads all installed ones; a comma-separated list loads
only those distributions; an empty string loads none. ``BENCH_DISABLE_PLUGINS`` leaves
plugins out by entry-point name, built-ins included (like pytest's ``-p no:name``), e.g.
``BENCH_DISABLE_PLUGINS=sdss,executors``.

An installed plugin that is broken (it fails to import, its hooks do not validate, or a
``register_*`` hook raises, e.g. registering a name another plugin has) is left out
whole, with one line in ``Registry.broken`` naming the variable that silences it; every
command still works, and a config that needs it fails on the unknown name with the
reason. Plugin objects handed in as ``extra`` (tests, embedding) still raise. Names in
the two variables that match no installed plugin are listed in ``Registry.warnings``.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from bench import hookspecs
from bench.errors import BenchError, closest
from bench.executors import Executor
from bench.interfaces import Command, Dataset, Model, Preprocessor, Renderer, ResultSink

ENTRY_POINT_GROUP = "bench"
OWN_DISTRIBUTION = "specclassbench"
BUILT_IN = "built-in"
CORE = "core"  # the source of the core's internal plugins (see with_internal_plugins)
# every kind of plugin class, with its base class and the hook that registers it
KINDS: dict[str, type[Any]] = {
    "dataset": Dataset,
    "preprocessor": Preprocessor,
    "renderer": Renderer,
    "model": Model,
    "executor": Executor,
}
HOOKS = {
    "dataset": "register_datasets",
    "preprocessor": "register_preprocessors",
    "renderer": "register_renderers",
    "model": "register_models",
    "executor": "register_executors",
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


def _names_in(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {v.strip().lower() for v in value.split(",") if v.strip()}


class BenchPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution provided each plugin, and the
    installed plugins it left out as broken."""

    def __init__(self) -> None:
        super().__init__("bench")
        self.dist_source: dict[str, str] = {}
        self.broken: dict[str, str] = {}
        self.warnings: list[str] = []

    def leave_out(self, name: str, source: str, why: str) -> None:
        """Record installed plugin ``name`` as broken (one line) and unregister it."""
        if self.has_plugin(name):
            self.unregister(name=name)
        self.broken[name] = (
            f"plugin {name!r} ({source}) left out: {why} "
            f"(set BENCH_DISABLE_PLUGINS={name} to leave it out silently)"
        )


class _BrokenHook(Exception):
    """An installed plugin's register hook raised (``build_registry`` leaves it out)."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(why)
        self.name, self.why = name, why


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _entry_points() -> Iterator[tuple[bool, metadata.EntryPoint]]:
    """(from our own distribution?, entry point) for the ``bench`` group, ours first."""
    points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))

    def own(ep: metadata.EntryPoint) -> bool:
        dist = ep.dist.metadata["Name"] if ep.dist else ""
        return (dist or "").lower().replace("_", "-") == OWN_DISTRIBUTION

    yield from ((True, ep) for ep in points if own(ep))
    yield from ((False, ep) for ep in points if not own(ep))


def _load(pm: BenchPluginManager, ep: metadata.EntryPoint, own: bool) -> None:
    """Import and register one entry point; a plugin that fails is left out, in one line."""
    dist_name = ep.dist.metadata["Name"] if ep.dist else "?"
    version = ep.dist.version if ep.dist else ""
    source = BUILT_IN if own else f"{dist_name} {version}"
    try:
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
        pm.leave_out(ep.name, source, f"failed to import: {_first_line(exc)}")
        return
    pm.dist_source[ep.name] = source


def _check_pending(pm: BenchPluginManager) -> None:
    """pluggy's check for misspelled hooks: an installed plugin with one is left out; a
    plugin object handed in (``extra``) raises."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin)
            if name is None or name not in pm.dist_source:
                raise
            pm.leave_out(name, pm.dist_source.pop(name), f"invalid hook: {_first_line(exc)}")


def _unknown_names(pm: BenchPluginManager, disabled: set[str], allowed: set[str] | None) -> None:
    """One warning per name in the two variables that matches no installed plugin."""
    points = [ep for _, ep in _entry_points()]
    names = {ep.name.lower() for ep in points}
    dists = {(ep.dist.metadata["Name"] or "").lower() for ep in points if ep.dist}
    for name in sorted(disabled - names):
        pm.warnings.append(
            f"BENCH_DISABLE_PLUGINS names {name!r}, which no installed plugin is "
            f"(plugins: {', '.join(sorted(names)) or 'none'})"
        )
    for name in sorted((allowed or set()) - dists):
        pm.warnings.append(
            f"BENCH_LOAD_PLUGINS names {name!r}, which no installed distribution with "
            f"bench plugins is (distributions: {', '.join(sorted(dists)) or 'none'})"
        )


def plugin_manager(extra: Iterable[object] = (), third_party: bool = True) -> BenchPluginManager:
    """A manager with our entry points, ``extra`` plugin objects and (optionally) the
    installed third-party entry points, less those named in ``BENCH_DISABLE_PLUGINS``."""
    pm = BenchPluginManager()
    pm.add_hookspecs(hookspecs)
    disabled = _names_in("BENCH_DISABLE_PLUGINS") or set()
    allowed = _names_in("BENCH_LOAD_PLUGINS")
    points = [(own, ep) for own, ep in _entry_points() if ep.name.lower() not in disabled]
    for own, ep in points:
        if own and not pm.has_plugin(ep.name):
            _load(pm, ep, own=True)
    for plugin in extra:
        pm.register(plugin)
    for own, ep in points:
        if own or not third_party or pm.has_plugin(ep.name):
            continue
        dist_name = ((ep.dist.metadata["Name"] if ep.dist else "") or "").lower()
        if allowed is None or dist_name in allowed:
            _load(pm, ep, own=False)
    _check_pending(pm)
    _unknown_names(pm, disabled, allowed)
    return pm


def build_registry(pm: BenchPluginManager) -> Registry:
    """Call every ``register_*`` hook implementation, recording each plugin's source; an
    installed plugin whose hook raises is left out whole (the registry is built again
    without it), one line in ``broken``."""
    while True:
        try:
            registry = _registry_of(pm)
        except _BrokenHook as exc:
            pm.leave_out(exc.name, pm.dist_source.pop(exc.name), exc.why)
            continue
        registry.broken, registry.warnings = dict(pm.broken), list(pm.warnings)
        return registry


def _call(pm: BenchPluginManager, impl: Any, hook: str, register: Any) -> None:
    """One hook implementation; an installed plugin's failure becomes :class:`_BrokenHook`."""
    name = pm.get_name(impl.plugin) or repr(impl.plugin)
    try:
        impl.function(register=register)
    except Exception as exc:
        if name not in pm.dist_source or pm.dist_source[name] == CORE:
            raise  # a plugin object handed in (tests, embedding), or the core's own
        why = f"{hook} raised {_first_line(exc)}"
    else:
        return
    raise _BrokenHook(name, why)


def _built_ins_first(pm: BenchPluginManager, impls: list[Any]) -> list[Any]:
    """``impls`` with the built-ins' first (otherwise in order), so that a plugin taking
    a built-in's name is the one left out."""
    return sorted(
        impls, key=lambda impl: pm.dist_source.get(pm.get_name(impl.plugin) or "") != BUILT_IN
    )


def _registry_of(pm: BenchPluginManager) -> Registry:
    registry = Registry()
    for kind, hook_name in HOOKS.items():
        impls = reversed(getattr(pm.hook, hook_name).get_hookimpls())
        for impl in _built_ins_first(pm, list(impls)):
            name = pm.get_name(impl.plugin) or repr(impl.plugin)
            source = pm.dist_source.get(name, name)

            def register(cls: type[Any], kind: str = kind, source: str = source) -> None:
                registry.add(kind, cls, source)

            _call(pm, impl, hook_name, register)
    for impl in _built_ins_first(pm, list(reversed(pm.hook.register_commands.get_hookimpls()))):
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        source = pm.dist_source.get(name, name)

        def add(command: Command, source: str = source) -> None:
            registry.add_command(command, source)

        _call(pm, impl, "register_commands", add)
    for impl in pm.hook.register_result_sinks.get_hookimpls():  # in registration order
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        source = pm.dist_source.get(name, name)

        def add_sink(cls: type[ResultSink], source: str = source) -> None:
            registry.add_sink(cls, source)

        _call(pm, impl, "register_result_sinks", add_sink)
    return registry


def with_internal_plugins(registry: Registry, plugins: Iterable[object]) -> Registry:
    """``registry`` with the hooks of the core's own ``plugins`` called first, as tox 4
    registers its ``internal_plugins`` before any entry point: their commands and result
    sinks come first, with the source "core", and a plugin command on one of their paths
    is an error. The caller (the CLI) hands them in, so this module imports nothing above
    it; ``registry`` itself is left as it is."""
    pm = BenchPluginManager()
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        pm.register(plugin)
        pm.dist_source[pm.get_name(plugin) or repr(plugin)] = CORE
    pm.check_pending()
    merged = build_registry(pm)
    merged.extra_modules, merged.third_party = registry.extra_modules, registry.third_party
    merged.broken, merged.warnings = dict(registry.broken), list(registry.warnings)
    for kind, names in registry.classes.items():
        for name, cls in names.items():
            merged.add(kind, cls, registry.sources[(kind, name)])
    for command, source in registry.commands.values():
        try:
            merged.add_command(command, source)
        except BenchError as exc:  # an installed plugin's command on a core command's path
            installed = source == BUILT_IN or source not in registry.extra_modules
            if not installed or not registry.third_party and source != BUILT_IN:
                raise  # a plugin object handed in (tests, embedding)
            merged.broken[f"{source}: {' '.join(command.path)}"] = (
                f"{exc}; left out (BENCH_DISABLE_PLUGINS=<its name> leaves the plugin out)"
            )
    for sink in registry.sinks:
        merged.add_sink(sink, registry.sources.get(("sink", sink.name), ""))
    return merged


def _build(extra: Iterable[object], third_party: bool) -> Registry:
    extra = list(extra)
    registry = build_registry(plugin_manager(extra, third_party))
    registry.extra_modules = tuple(getattr(p, "__name__", "") for p in extra)
    registry.third_party = third_party
    return registry


@functools.cache
def _default_registry(third_party: bool, load: str | None, disable: str | None) -> Registry:
    return _build((), third_party)


_overrides: list[Registry] = []


def get_registry(extra: Iterable[object] = (), third_party: bool = True) -> Registry:
    """The registry of this process: built once per setting of the two environment
    variables (fresh each call when ``extra`` plugin objects are given). Inside
    :func:`using_registry`, the registry given there."""
    extra = list(extra)
    if extra:
        return _build(extra, third_party)
    if _overrides and third_party:
        return _overrides[-1]
    env = os.environ
    return _default_registry(
        third_party, env.get("BENCH_LOAD_PLUGINS"), env.get("BENCH_DISABLE_PLUGINS")
    )


@contextmanager
def using_registry(registry: Registry) -> Iterator[Registry]:
    """Within the block, ``get_registry()`` returns ``registry`` (tests; embedding)."""
    _overrides.append(registry)
    try:
        yield registry
    finally:
        _overrides.remove(registry)


def registry_like(extra_modules: tuple[str, ...], third_party: bool) -> Registry:
    """In another process (a dask worker): the registry a run was resolved against, from
    the names of its extra plugin modules; built once per process."""
    if not extra_modules:
        return get_registry(third_party=third_party)
    return _registry_with(extra_modules, third_party)


@functools.cache
def _registry_with(extra_modules: tuple[str, ...], third_party: bool) -> Registry:
    modules = [importlib.import_module(name) for name in extra_modules]
    return get_registry(modules, third_party)


def clear_registry_cache() -> None:
    """Forget the registries built so far (after installing a plugin in this process)."""
    _default_registry.cache_clear()
    _registry_with.cache_clear()
