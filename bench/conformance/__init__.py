"""The conformance suite plugin authors run against their plugin (``bench check-plugin``).

``check(kind, name)`` builds the plugin with tiny inputs on a few synthetic-like spectra
and returns one :class:`CheckResult` per property; each failure says what to fix.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.conformance import steps
from bench.conformance.fixtures import Failed, check_options, dirty, spectra
from bench.errors import BenchError, closest
from bench.interfaces import Dataset, Model, Plugin, Preprocessor, Renderer
from bench.plugins.manager import get_registry
from bench.plugins.registry import KINDS, SPECTRUM_KINDS, Registry
from bench.run.guard import Guard, one_line

__all__ = ["CheckResult", "check", "dirty", "resolve_kind", "spectra"]


@dataclass(frozen=True)
class CheckResult:
    """One property of one plugin: passed, or failed with a message saying what to fix."""

    kind: str
    name: str
    check: str
    ok: bool
    message: str = ""


def resolve_kind(name: str, registry: Registry) -> str:
    """The one kind that has a plugin ``name``; BenchError when none or several do."""
    kinds = [kind for kind in SPECTRUM_KINDS if name in registry.classes[kind]]
    if len(kinds) == 1:
        return kinds[0]
    if kinds:
        raise BenchError(f"plugin {name!r} is a {' and a '.join(kinds)}; give the kind first")
    every = {n for kind in SPECTRUM_KINDS for n in registry.classes[kind]}
    raise BenchError(f"no plugin named {name!r}{closest(name, every)}; see `bench plugins`")


def _made(plugin: Plugin, registry: Registry) -> Plugin:
    """``plugin`` with its members made, as a run makes them (composite models)."""
    if isinstance(plugin, Model):
        try:
            plugin.make_members(registry.model_factory)
        except BenchError as exc:
            raise Failed(f"make_members raised: {exc}") from None
    return plugin


def check(
    kind: str,
    name: str,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
    timeout_s: float | None = None,
) -> list[CheckResult]:
    """Run the conformance checks of plugin ``name`` of ``kind`` built with ``options``;
    a check running past ``timeout_s`` fails (a ``sys.exit`` too), the others still run."""
    if kind not in SPECTRUM_KINDS:
        raise BenchError(f"kind {kind!r} is not valid; expected one of {list(SPECTRUM_KINDS)}")
    registry = registry or get_registry()
    cls = registry.get(kind, name)
    results: list[CheckResult] = []

    def run(label: str, step: Callable[[], Any]) -> Any:
        try:
            with Guard(timeout_s, "--timeout") as guard, guard.limit():
                value = step()
        except Failed as exc:
            results.append(CheckResult(kind, name, label, False, str(exc)))
            return None
        except BaseException as exc:  # a crash, a sys.exit: a failed check, not the end
            if not guard.is_failure(exc):
                raise  # the user's own Ctrl-C
            if not isinstance(exc, Exception):
                results.append(CheckResult(kind, name, label, False, one_line(exc)))
                return None
            message = f"raised {type(exc).__name__}: {exc}".splitlines()[0]
            if isinstance(exc, BenchError):
                message += " (options the plugin needs: --option key=value, or options={...})"
            results.append(CheckResult(kind, name, label, False, message))
            return None
        results.append(CheckResult(kind, name, label, True))
        return value if value is not None else True

    options = dict(options or {})
    if kind == "model":
        from bench.backend import ensure_jax_backend

        ensure_jax_backend()  # before any Keras model imports keras
        options = {**getattr(cls, "quick_options", {}), **options}  # the given ones win
        own = inspect.getattr_static(cls, "quick_params")
        if own is not inspect.getattr_static(Model, "quick_params"):  # a composite's
            options = {**options, **cls.quick_params(options, registry.model_class)}
    plugin = run("options", lambda: _made(check_options(cls, options), registry))
    if plugin is None:
        return results
    suites: dict[type[Plugin], Callable[..., None]] = {
        Dataset: steps.dataset_checks,
        Preprocessor: steps.preprocessor_checks,
        Renderer: steps.renderer_checks,
        Model: steps.model_checks,
    }
    suites[KINDS[kind]](plugin, run, registry)
    return results
