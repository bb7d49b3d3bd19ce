"""benchmarks.toml: parsed, type-checked and resolved against the plugin registry before
anything runs. Every error names the file and the key."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.config.sections import Benchmark, Config, PluginSpec, Protocol
from bench.errors import BenchError, closest
from bench.options import Option, resolve_options
from bench.plugins.manager import Registry
from bench.spectra import CLASSES

QUICK_MAX_SPECTRA = 300

BENCHMARK_KEYS = (
    Option("name", str, "benchmark", "name of the benchmark, used in report paths"),
    Option("output", str, "reports", "folder under which runs are written"),
    Option("classes", list, list(CLASSES), "class labels, in report order", item_type=str),
)
PROTOCOL_KEYS = (
    Option(
        "train_fractions",
        list,
        [0.8],
        "train fractions (the paper: 0.6, 0.7, 0.8)",
        item_type=float,
    ),
    Option("epochs", list, [20], "epoch counts (the paper: 20, 30, 40)", item_type=int),
    Option("seeds", list, [0], "seeds: each gives its own split and initialisation", item_type=int),
    Option("batch_size", int, 32, "batch size (a model's own batch_size option wins)"),
    Option("max_spectra", int, None, "use at most this many spectra (stratified sample)"),
    Option(
        "validation_fraction",
        float,
        0.1,
        "share of the training objects held out for validation (what fit's val_* means)",
    ),
)
SECTIONS = (
    "benchmark",
    "dataset",
    "datasets",
    "test_dataset",
    "preprocess",
    "render",
    "models",
    "protocol",
    "executor",
)
MODEL_RESERVED = ("name", "label", "render")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read config: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{path}: invalid TOML: {exc}") from None


def load_config(path: Path, registry: Registry, quick: bool = False) -> Config:
    """Read and resolve ``path``; ``quick`` shrinks it to a smoke run."""
    return resolve_config(read_toml(path), str(path), registry, quick)


def _table(raw: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise BenchError(f"{where}: [{key}] must be a table, got {type(value).__name__}")
    return value


def _tables(raw: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BenchError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return value


def _plugin(
    entry: Mapping[str, Any],
    kind: str,
    registry: Registry,
    where: str,
    reserved: tuple[str, ...] = ("name",),
) -> PluginSpec:
    name = entry.get("name")
    if not isinstance(name, str):
        raise BenchError(f"{where}: missing 'name' (a {kind} plugin name)")
    try:
        cls = registry.get(kind, name)
    except BenchError as exc:
        raise BenchError(f"{where}.name: {exc}") from None
    given = {k: v for k, v in entry.items() if k not in reserved}
    return PluginSpec(name=name, params=resolve_options(cls.options, given, where))


def resolve_config(
    raw: dict[str, Any], path: str, registry: Registry, quick: bool = False
) -> Config:
    """Check ``raw`` (a parsed TOML file at ``path``) and resolve every plugin it names."""
    for key in raw:
        if key not in SECTIONS:
            raise BenchError(
                f"{path}: unknown section [{key}]{closest(key, SECTIONS)}; valid: {', '.join(SECTIONS)}"
            )
    benchmark = Benchmark(
        **resolve_options(BENCHMARK_KEYS, _table(raw, "benchmark", path), f"{path}: [benchmark]")
    )
    protocol = Protocol(
        **resolve_options(PROTOCOL_KEYS, _table(raw, "protocol", path), f"{path}: [protocol]")
    )
    _check_protocol(protocol, f"{path}: [protocol]")
    _check_classes(benchmark.classes, f"{path}: [benchmark].classes")
    config = Config(
        path,
        benchmark,
        _datasets(raw, path, registry),
        _test_dataset(raw, path, registry),
        [
            _plugin(e, "preprocessor", registry, f"{path}: [[preprocess]][{i}]")
            for i, e in enumerate(_tables(raw, "preprocess", path))
        ],
        _plugin(
            _table(raw, "render", path) or {"name": "line"},
            "renderer",
            registry,
            f"{path}: [render]",
        ),
        _models(raw, path, registry),
        protocol,
        quick,
        raw,
        _executor(raw, path, registry),
    )
    check_cell_ids(config)
    return shrink(config, registry) if quick else config


def _datasets(raw: Mapping[str, Any], path: str, registry: Registry) -> list[PluginSpec]:
    if "dataset" in raw and "datasets" in raw:
        raise BenchError(f"{path}: give either [dataset] or [[datasets]], not both")
    entries = [_table(raw, "dataset", path)] if "dataset" in raw else _tables(raw, "datasets", path)
    if not entries:
        raise BenchError(f"{path}: no dataset: add a [dataset] table with a name")
    datasets = []
    for i, entry in enumerate(entries):
        where = f"{path}: [datasets][{i}]"
        spec = _plugin(entry, "dataset", registry, where, ("name", "label"))
        spec.label = _label(entry, spec.name, where)
        datasets.append(spec)
    _unique([d.label for d in datasets], f"{path}: dataset", "[[datasets]]")
    return datasets


def _test_dataset(raw: Mapping[str, Any], path: str, registry: Registry) -> PluginSpec | None:
    if "test_dataset" not in raw:
        return None
    entry, where = _table(raw, "test_dataset", path), f"{path}: [test_dataset]"
    spec = _plugin(entry, "dataset", registry, where, ("name", "label"))
    spec.label = _label(entry, spec.name, where)
    return spec


def _models(raw: Mapping[str, Any], path: str, registry: Registry) -> list[PluginSpec]:
    models = []
    for i, entry in enumerate(_tables(raw, "models", path)):
        where = f"{path}: [[models]][{i}]"
        spec = _plugin(entry, "model", registry, where, MODEL_RESERVED)
        spec.label = _label(entry, spec.name, where)
        if "render" in entry:
            if not isinstance(entry["render"], dict):
                raise BenchError(f'{where}.render: expected a table like {{ name = "line" }}')
            spec.render = _plugin(entry["render"], "renderer", registry, f"{where}.render")
        models.append(spec)
    if not models:
        raise BenchError(f"{path}: no model: add at least one [[models]] table with a name")
    _unique([m.label for m in models], f"{path}: model", "[[models]]")
    return models


def _executor(raw: Mapping[str, Any], path: str, registry: Registry) -> PluginSpec:
    where = f"{path}: [executor]"
    executor = _plugin(
        _table(raw, "executor", path) or {"name": "local"}, "executor", registry, where
    )
    # built now (nothing starts before map) so `bench validate` sees bad values
    registry.create("executor", executor.name, executor.params, where)
    return executor


def _label(entry: Mapping[str, Any], default: str, where: str) -> str:
    """A dataset or model label: it goes into cell ids and folder names, so no ``/``, no
    leading ``.``, and none of the ids' separators ``__`` and ``~``."""
    label = entry.get("label", default)
    if (
        not isinstance(label, str)
        or not label
        or label.startswith(".")
        or any(bad in label for bad in ("/", "\\", "__", "~"))
    ):
        raise BenchError(
            f"{where}.label: expected a non-empty name without '/', '\\', '__' or '~', "
            f"got {label!r}"
        )
    return label


def check_cell_ids(config: Config) -> None:
    """Refuse a matrix in which two cells would share an id, naming both."""
    seen: dict[str, str] = {}
    for cell, origin in config.cell_ids():
        if cell in seen:
            raise BenchError(
                f"{config.path}: cells ({seen[cell]}) and ({origin}) would share the id "
                f"{cell!r}; list each value once"
            )
        seen[cell] = origin


def _unique(labels: list[str], what: str, table: str) -> None:
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise BenchError(
            f"{what} label {dupes[0]!r} is used twice; give each {table} a distinct label"
        )


def _check_classes(classes: list[str], where: str) -> None:
    if len(classes) < 2:
        raise BenchError(f"{where}: must name at least two classes, got {classes}")
    dupes = sorted({c for c in classes if classes.count(c) > 1})
    if dupes:
        raise BenchError(f"{where}: {dupes[0]!r} is listed twice; list each class once")


def _check_protocol(protocol: Protocol, where: str) -> None:
    for key in ("train_fractions", "epochs", "seeds"):
        if not getattr(protocol, key):
            raise BenchError(f"{where}.{key}: must not be empty")
    for f in protocol.train_fractions:
        if not 0.0 < f < 1.0:
            raise BenchError(f"{where}.train_fractions: {f} is not between 0 and 1")
    for e in protocol.epochs:
        if e < 1:
            raise BenchError(f"{where}.epochs: {e} is not a positive integer")
    if protocol.batch_size < 1:
        raise BenchError(f"{where}.batch_size: {protocol.batch_size} is not a positive integer")
    if not 0.0 <= protocol.validation_fraction < 1.0:
        raise BenchError(
            f"{where}.validation_fraction: {protocol.validation_fraction} is not in [0, 1)"
        )
    if protocol.max_spectra is not None and protocol.max_spectra < 2:
        raise BenchError(f"{where}.max_spectra: {protocol.max_spectra} is too small")


def shrink(config: Config, registry: Registry) -> Config:
    """A smoke run: few spectra, one epoch, one split, the smallest inputs each model accepts."""
    p = config.protocol
    p.epochs = [1]
    p.train_fractions = p.train_fractions[:1]
    p.seeds = p.seeds[:1]
    p.max_spectra = min(p.max_spectra or QUICK_MAX_SPECTRA, QUICK_MAX_SPECTRA)
    for spec in config.models:
        cls = registry.get("model", spec.name)
        spec.params.update(getattr(cls, "quick_options", {}))
    return config
