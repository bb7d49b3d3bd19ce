"""`bench plot gallery`: a PNG of the first dataset's spectra as a model sees them."""

from __future__ import annotations

from pathlib import Path

from bench.cli import console
from bench.config import load_config
from bench.errors import BenchError
from bench.plugins.registry import Registry


def plot_gallery(
    config_path: Path, model_label: str | None, per_class: int, out: Path, registry: Registry
) -> int:
    """Render the first dataset's spectra as the chosen model sees them."""
    import numpy as np

    from bench.data.split import known_label_index, stratified_sample
    from bench.results.gallery import write_gallery
    from bench.run.pipeline import build_pipeline, renderer_for

    config = load_config(config_path, registry)
    specs = [m for m in config.models if model_label in (None, m.label)]
    if not specs:
        labels = ", ".join(m.label for m in config.models)
        raise BenchError(f"{config_path}: no model labelled {model_label!r}; labels: {labels}")
    spec = specs[0]
    model = registry.create("model", spec.name, spec.params, f"model {spec.label}")
    if model.input_kind != "image":
        raise BenchError(f"model {spec.label!r} reads 1-D flux, not images; choose an image model")
    data = config.datasets[0]
    source = registry.create("dataset", data.name, data.params, f"dataset {data.name}").open()
    classes = config.classes
    index = known_label_index(source.labels, classes)
    index = stratified_sample(source.labels, index, per_class * len(classes) * 4, seed=0)
    batch = source.read(np.asarray(index))
    shape = model.input_shape(len(source.loglam))
    pipeline = build_pipeline(
        registry, config.preprocess, renderer_for(model, spec, config.render, registry), shape
    )
    for step in pipeline.preprocessors:
        batch = step(batch)
    written = write_gallery(batch, pipeline.renderer, shape, out, per_class=per_class)
    console.info(f"wrote {written} ({spec.label}: {'x'.join(map(str, shape))})")
    return 0
