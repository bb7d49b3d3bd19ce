"""Building the chain that turns spectra into model inputs from the config: preprocessors,
then a renderer, at the input shape a model asks for (:class:`bench.feed.Pipeline`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.config import PluginSpec
from bench.feed import Pipeline
from bench.interfaces import Model, Preprocessor, Renderer
from bench.plugins.registry import Registry

__all__ = ["Pipeline", "build_pipeline", "pipeline_from_config", "renderer_for"]


def build_pipeline(
    registry: Registry, preprocess: Sequence[PluginSpec], render: PluginSpec, shape: tuple[int, ...]
) -> Pipeline:
    steps: list[Preprocessor] = [
        registry.create("preprocessor", p.name, p.params, "preprocess") for p in preprocess
    ]
    renderer: Renderer = registry.create("renderer", render.name, render.params, "render")
    return Pipeline(steps, renderer, tuple(shape))


def pipeline_from_config(registry: Registry, cfg: dict[str, Any]) -> Pipeline:
    """Rebuild a pipeline from :meth:`Pipeline.to_config` output (a cell's ``cell.json``)."""
    pre = [PluginSpec(p["name"], p["params"]) for p in cfg["preprocess"]]
    render = PluginSpec(cfg["renderer"]["name"], cfg["renderer"]["params"])
    return build_pipeline(registry, pre, render, tuple(cfg["shape"]))


def renderer_for(
    model: Model | type[Model], spec: PluginSpec, default: PluginSpec, registry: Registry
) -> PluginSpec:
    """The renderer a model gets: its own ``render`` table, else the config's ``[render]``
    for image models, else the renderer registered as the default for flux vectors
    (``Renderer.default_for = "flux"``) for models that take flux vectors or spectra."""
    if spec.render is not None:
        return spec.render
    if model.input_kind == "image":
        return default
    return PluginSpec(registry.default_renderer("flux"), {})
