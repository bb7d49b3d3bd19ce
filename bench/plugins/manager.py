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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

import pluggy

from bench import hookspecs
from bench.errors import BenchError
from bench.interfaces import Command, ResultSink
from bench.plugins.registry import CORE, Registry

ENTRY_POINT_GROUP = "bench"
OWN_DISTRIBUTION = "specclassbench"
BUILT_IN = "built-in"
# the hook that registers each kind of plugin class
HOOKS = {
    "dataset": "register_datasets",
    "preprocessor": "register_preprocessors",
    "renderer": "register_renderers",
    "model": "register_models",
    "executor": "register_executors",
}


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
