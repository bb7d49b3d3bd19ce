"""Plugin loading: built-ins, then the ``bench`` entry-point group, into typed registries.

``BENCH_LOAD_PLUGINS`` (like llm's LLM_LOAD_PLUGINS) limits third-party plugins: unset
loads all installed ones; a comma-separated list loads only those distributions; an
empty string loads none. Built-in plugins always load.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from bench import hookspecs
from bench.errors import BenchError, closest
from bench.executors import Executor
from bench.interfaces import Dataset, Model, Plugin, Preprocessor, Renderer

ENTRY_POINT_GROUP = "bench"
INTERNAL_PLUGINS = (
    "bench_plugins.synthetic",
    "bench_plugins.sdss",
    "bench_plugins.preprocess",
    "bench_plugins.render",
    "bench_plugins.models",
    "bench_plugins.executors",
)
KINDS: dict[str, type[Plugin]] = {
    "dataset": Dataset,
    "preprocessor": Preprocessor,
    "renderer": Renderer,
    "model": Model,
}
# Executors are registered like the plugin kinds above but kept apart from them: they
# run tasks rather than process spectra, so the conformance suite and the cell cache
# (which walk KINDS and ``sources``) do not apply to them.
EXECUTOR = "executor"


@dataclass
class Registry:
    """Registered plugin classes by kind and name, with where each came from."""

    classes: dict[str, dict[str, type[Plugin]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    executors: dict[str, type[Executor]] = field(default_factory=dict)
    executor_sources: dict[str, str] = field(default_factory=dict)
    # how to rebuild this registry in another process (a dask worker)
    extra_modules: tuple[str, ...] = ()
    entry_points: bool = True

    def _names(self, kind: str) -> dict[str, Any]:
        return self.executors if kind == EXECUTOR else self.classes[kind]

    def add(self, kind: str, cls: type[Plugin], source: str) -> None:
        base = Executor if kind == EXECUTOR else KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise BenchError(f"plugin {source}: registered {cls!r}, expected a {kind} class")
        if not cls.name:
            raise BenchError(f"plugin {source}: {cls.__name__} has no name")
        names = self._names(kind)
        sources: dict[Any, str] = self.executor_sources if kind == EXECUTOR else self.sources
        key: Any = cls.name if kind == EXECUTOR else (kind, cls.name)
        if cls.name in names:
            raise BenchError(
                f"plugin {source}: {kind} {cls.name!r} is already registered by {sources[key]}"
            )
        names[cls.name] = cls
        sources[key] = source

    def get(self, kind: str, name: str) -> type[Plugin]:
        names = self._names(kind)
        if name not in names:
            valid = ", ".join(sorted(names)) or "none"
            raise BenchError(f"unknown {kind} {name!r}{closest(name, names)}; valid: {valid}")
        return names[name]

    def create(self, kind: str, name: str, params: dict[str, Any], where: str) -> Any:
        cls = self.get(kind, name)
        try:
            return cls(**params)
        except BenchError as exc:
            raise BenchError(f"{where}: {exc}") from None


def _allowed_distributions() -> set[str] | None:
    value = os.environ.get("BENCH_LOAD_PLUGINS")
    if value is None:
        return None
    return {v.strip().lower() for v in value.split(",") if v.strip()}


class BenchPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution provided each plugin."""

    def __init__(self) -> None:
        super().__init__("bench")
        self.dist_source: dict[str, str] = {}


def plugin_manager(extra: Iterable[object] = (), entry_points: bool = True) -> BenchPluginManager:
    """A manager with the built-ins, ``extra`` plugin objects and (optionally) entry points."""
    pm = BenchPluginManager()
    pm.add_hookspecs(hookspecs)
    for module_name in INTERNAL_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    for plugin in extra:
        pm.register(plugin)
    if entry_points:
        allowed = _allowed_distributions()
        for dist in metadata.distributions():
            dist_name = (dist.metadata["Name"] or "").lower()
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP or pm.has_plugin(ep.name):
                    continue
                if allowed is not None and dist_name not in allowed:
                    continue
                try:
                    plugin = ep.load()
                except Exception as exc:  # a broken third-party plugin must not hide the others
                    raise BenchError(
                        f"plugin {ep.name!r} from {dist_name} failed to import: {exc}"
                    ) from None
                pm.register(plugin, name=ep.name)
                pm.dist_source[ep.name] = f"{dist.metadata['Name']} {dist.version}"
    pm.check_pending()
    return pm


def _source_of(pm: BenchPluginManager, plugin: object) -> str:
    name = pm.get_name(plugin) or repr(plugin)
    if name in INTERNAL_PLUGINS:
        return "built-in"
    return pm.dist_source.get(name, name)


def build_registry(pm: BenchPluginManager) -> Registry:
    """Call every ``register_*`` hook implementation, recording each plugin's source."""
    registry = Registry()
    hooks: dict[str, Any] = {
        "dataset": pm.hook.register_datasets,
        "preprocessor": pm.hook.register_preprocessors,
        "renderer": pm.hook.register_renderers,
        "model": pm.hook.register_models,
        EXECUTOR: pm.hook.register_executors,
    }
    for kind, hook in hooks.items():
        for impl in reversed(hook.get_hookimpls()):
            source = _source_of(pm, impl.plugin)

            def register(cls: type[Plugin], kind: str = kind, source: str = source) -> None:
                registry.add(kind, cls, source)

            impl.function(register=register)
    return registry


_cached: Registry | None = None


def get_registry(extra: Iterable[object] = (), entry_points: bool = True) -> Registry:
    """The registry of this process (built once unless ``extra`` plugins are given)."""
    global _cached
    extra = list(extra)
    if extra or not entry_points:
        registry = build_registry(plugin_manager(extra, entry_points))
        registry.extra_modules = tuple(getattr(p, "__name__", "") for p in extra)
        registry.entry_points = entry_points
        return registry
    if _cached is None:
        _cached = build_registry(plugin_manager())
    return _cached


_rebuilt: dict[tuple[tuple[str, ...], bool], Registry] = {}


def registry_like(extra_modules: tuple[str, ...], entry_points: bool) -> Registry:
    """In another process (a dask worker): the registry a run was resolved against, from
    the names of its extra plugin modules; built once per process."""
    key = (extra_modules, entry_points)
    if key not in _rebuilt:
        modules = [importlib.import_module(name) for name in extra_modules]
        _rebuilt[key] = get_registry(modules, entry_points)
    return _rebuilt[key]
