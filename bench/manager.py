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
from bench.interfaces import Dataset, Model, Plugin, Preprocessor, Renderer

ENTRY_POINT_GROUP = "bench"
INTERNAL_PLUGINS = (
    "bench_plugins.synthetic",
    "bench_plugins.sdss",
    "bench_plugins.preprocess",
    "bench_plugins.render",
    "bench_plugins.models",
)
KINDS: dict[str, type[Plugin]] = {
    "dataset": Dataset,
    "preprocessor": Preprocessor,
    "renderer": Renderer,
    "model": Model,
}


@dataclass
class Registry:
    """Registered plugin classes by kind and name, with where each came from."""

    classes: dict[str, dict[str, type[Plugin]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    sources: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, kind: str, cls: type[Plugin], source: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, KINDS[kind])):
            raise BenchError(f"plugin {source}: registered {cls!r}, expected a {kind} class")
        if not cls.name:
            raise BenchError(f"plugin {source}: {cls.__name__} has no name")
        if cls.name in self.classes[kind]:
            other = self.sources[(kind, cls.name)]
            raise BenchError(
                f"plugin {source}: {kind} {cls.name!r} is already registered by {other}"
            )
        self.classes[kind][cls.name] = cls
        self.sources[(kind, cls.name)] = source

    def get(self, kind: str, name: str) -> type[Plugin]:
        names = self.classes[kind]
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
        return build_registry(plugin_manager(extra, entry_points))
    if _cached is None:
        _cached = build_registry(plugin_manager())
    return _cached
