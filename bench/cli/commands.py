"""What each CLI command does; returns the exit code. Output goes through bench.cli.console."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli import console
from bench.config import load_config
from bench.errors import BenchError
from bench.plugins.manager import KINDS, get_registry


def validate(config_path: Path) -> int:
    config = load_config(config_path, get_registry())
    console.out.print(f"{config_path}: valid, {config.n_cells} cells", markup=False)
    return 0


def plugins(as_json: bool) -> int:
    registry = get_registry()
    rows = []
    listed = [(kind, registry.classes[kind], registry.sources) for kind in KINDS]
    executors = {("executor", n): src for n, src in registry.executor_sources.items()}
    listed.append(("executor", registry.executors, executors))  # type: ignore[arg-type]
    for kind, classes, sources in listed:
        for name, cls in sorted(classes.items()):
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "source": sources[(kind, name)],
                    "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
                    "options": [
                        {
                            "name": o.name,
                            "type": o.type.__name__,
                            "default": o.default,
                            "help": o.help,
                        }
                        | ({"choices": list(o.choices)} if o.choices else {})
                        for o in cls.options
                    ],
                }
            )
    if as_json:
        console.out.print_json(json.dumps(rows))
    else:
        console.plugins_table(rows)
    return 0


def run(config_path: Path, out: Path | None, quick: bool, fresh: bool = False) -> int:
    """Run a benchmark into ``out``; finished cells there are reused unless ``fresh``."""
    from bench.backend import ensure_jax_backend
    from bench.run.benchmark import prepare_run_dir, run_benchmark

    registry = get_registry()
    config = load_config(config_path, registry, quick=quick)
    ensure_jax_backend()
    run_dir, created = prepare_run_dir(out, config, console.info)
    with console.RunProgress() as progress:
        outcome = run_benchmark(config, registry, run_dir, created, progress, fresh)
    for message in outcome.sink_errors:
        console.error(message)
    report = outcome.report
    console.summary_table(report)
    console.info(f"report: {run_dir.report_json}")
    if run_dir.report_html.exists():
        console.info(f"open:   {run_dir.report_html}")
    failed = report["summary"]["failed"]
    if failed:
        console.error(
            f"{failed} of {report['summary']['n_cells']} cells failed; see {run_dir.logs}"
        )
    return 1 if failed else 0


def predict(cell_dir: Path, paths: list[Path], out: Path, fmt: str = "csv") -> int:
    from bench.run.predict import predict_files

    summary = predict_files(cell_dir, paths, out, fmt)
    for path, reason in summary.failures:
        console.error(reason if str(path) in reason else f"{path}: {reason}")
    console.predict_summary(summary)
    return 1 if summary.failures else 0


def leaderboard(paths: list[Path], metric: str, fmt: str, export: Path | None = None) -> int:
    from bench.results.leaderboard import format_leaderboard
    from bench.results.leaderboard import leaderboard as rank

    rows = rank(paths or [Path("reports")], metric)
    if export is not None:
        from bench.results.objects import tidy_columns, write_table

        console.info(f"wrote {write_table(tidy_columns(rows), export)}")
    shown = format_leaderboard(rows, fmt)
    if isinstance(shown, list):
        console.leaderboard_table(shown, metric)
    else:
        console.out.print(shown, markup=False, highlight=False, soft_wrap=True, end="")
    return 0


def compare(baseline: Path, current: Path, tolerance: float) -> int:
    from bench.results.compare import compare as compare_reports

    result = compare_reports(baseline, current, tolerance)
    console.out.print(result.markdown(), markup=False, highlight=False, soft_wrap=True, end="")
    if result.exit_code:
        console.error(f"regression against {baseline}")
    return result.exit_code


def plot_spectra(out: Path, real: Path | None, seed: int) -> int:
    from bench_plugins.synthetic.plot import plot_examples

    if real is not None and not real.is_dir():
        raise BenchError(f"{real}: --real must be a folder of spec-lite files")
    console.info(f"wrote {plot_examples(out, real_dir=real, seed=seed)}")
    return 0


def plot_gallery(config_path: Path, model_label: str | None, per_class: int, out: Path) -> int:
    """Render the first dataset's spectra as the chosen model sees them."""
    import numpy as np

    from bench.data.split import known_label_index, stratified_sample
    from bench.pipeline import build_pipeline, renderer_for
    from bench_plugins.render import write_gallery

    registry = get_registry()
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
        registry, config.preprocess, renderer_for(model, spec, config.render), shape
    )
    for step in pipeline.preprocessors:
        batch = step(batch)
    written = write_gallery(batch, pipeline.renderer, shape, out, per_class=per_class)
    console.info(f"wrote {written} ({spec.label}: {'x'.join(map(str, shape))})")
    return 0
