"""benchmarks.toml: parsed, type-checked and resolved against the plugin registry before
anything runs. Every error names the file and the key."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench.config.checks import (
    check_cell_ids,
    check_classes,
    check_name,
    check_protocol,
    check_unique,
    label_of,
)
from bench.config.overrides import apply_overrides
from bench.config.sections import Benchmark, Config, PluginSpec, Protocol
from bench.errors import BenchError, closest
from bench.options import Option, resolve_options
from bench.plugins.registry import Registry
from bench.spectra import CLASSES

QUICK_MAX_SPECTRA = 300
T = TypeVar("T")

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
        gt=0.0,
        lt=1.0,
    ),
    Option(
        "epochs",
        list,
        [20],
        "epoch counts (the paper: 20, 30, 40)",
        item_type=int,
        ge=1,
        le=100_000,
    ),
    Option(
        "seeds",
        list,
        [0],
        "seeds: each gives its own split and initialisation",
        item_type=int,
        ge=0,
        lt=2**32,
    ),
    Option(
        "batch_size", int, 32, "batch size (a model's own batch_size option wins)", ge=1, le=65536
    ),
    Option("max_spectra", int, None, "use at most this many spectra (stratified sample)", ge=2),
    Option(
        "quick_max_spectra",
        int,
        QUICK_MAX_SPECTRA,
        "spectra a --quick run uses (CI's gate: enough test objects to detect its fall)",
        ge=2,
    ),
    Option(
        "validation_fraction",
        float,
        0.1,
        "share of the training objects held out for validation (what fit's val_* means)",
        ge=0.0,
        lt=1.0,
    ),
    Option(
        "cell_timeout_s",
        float,
        None,
        "fail a cell that runs longer (seconds; unset: no limit); the other cells go on",
        gt=0.0,
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


class Problems(BenchError):
    """Several problems of one section, each its own line for `bench validate` (and all
    on one line, joined by "; ", when `bench run` stops at the first section)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _collect(items: list[T], check: Callable[[int, T], Any]) -> list[Any]:
    """``check(i, item)`` for every item, all of them even after a problem; Problems with
    every message when any raised BenchError."""
    done, problems = [], []
    for i, item in enumerate(items):
        try:
            done.append(check(i, item))
        except Problems as exc:
            problems += exc.messages
        except BenchError as exc:
            problems.append(str(exc))
    if problems:
        raise Problems(problems)
    return done


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


def load_config(
    path: Path, registry: Registry, quick: bool = False, overrides: Sequence[str] = ()
) -> Config:
    """Read and resolve ``path`` with ``--set`` ``overrides`` applied; ``quick`` shrinks it
    to a smoke run."""
    raw = apply_overrides(read_toml(path), list(overrides))
    config = resolve_config(raw, str(path), registry, quick)
    assert config is not None  # without an error list, problems raise
    config.overrides = list(overrides)
    return config


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
    return PluginSpec(name=name, params=options_of(cls.options, given, where))


def options_of(declared: Any, given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """:func:`resolve_options`, with every bad key reported (Problems), not the first."""
    try:
        return resolve_options(declared, given, where)
    except BenchError:
        _collect(list(given.items()), lambda _, kv: resolve_options(declared, dict([kv]), where))
        raise


def resolve_config(
    raw: dict[str, Any],
    path: str,
    registry: Registry,
    quick: bool = False,
    errors: list[str] | None = None,
) -> Config | None:
    """Check ``raw`` (a parsed TOML file at ``path``) and resolve every plugin it names.

    Without ``errors`` the first problem raises BenchError; with a list, every section is
    checked, each problem appended, and None returned when there was any."""
    found: list[str] = [] if errors is None else errors
    n_before = len(found)
    config, _ = _resolve(raw, path, registry, found, raise_first=errors is None)
    if len(found) > n_before or config is None:
        return None
    config.quick = quick
    return shrink(config, registry) if quick else config


def check_config(
    raw: dict[str, Any], path: str, registry: Registry
) -> tuple[Config | None, list[str], set[str]]:
    """`bench validate`'s one pass: (the config with the sections that resolved, every
    problem found, the sections that broke). The config is None when the benchmark,
    protocol or datasets broke; a broken section's field holds its empty value."""
    problems: list[str] = []
    config, broken = _resolve(raw, path, registry, problems, raise_first=False)
    return config, problems, broken


def _resolve(
    raw: dict[str, Any], path: str, registry: Registry, found: list[str], raise_first: bool
) -> tuple[Config | None, set[str]]:
    """Every section resolved, problems appended to ``found`` (or the first raised); the
    cell-id check run whenever the sections it reads resolved."""
    broken: set[str] = set()

    def take(section: str, fn: Callable[..., T], *args: Any) -> T | None:
        try:
            return fn(*args)
        except BenchError as exc:
            if raise_first:
                raise
            found.extend(exc.messages if isinstance(exc, Problems) else [str(exc)])
            broken.add(section)
            return None

    for key in raw:
        if key not in SECTIONS:
            take(
                key,
                _fail,
                f"{path}: unknown section [{key}]{closest(key, SECTIONS)}; valid: {', '.join(SECTIONS)}",
            )
    benchmark = take("benchmark", _benchmark, raw, path)
    protocol = take("protocol", _protocol, raw, path)
    datasets = take("datasets", _datasets, raw, path, registry)
    test_dataset = take("test_dataset", _test_dataset, raw, path, registry)
    preprocess = take("preprocess", _preprocess, raw, path, registry) or []
    render = take("render", _render, raw, path, registry)
    batch_size = protocol.batch_size if protocol is not None else None
    models = take("models", _models, raw, path, registry, batch_size) or []
    executor = take("executor", _executor, raw, path, registry)
    if benchmark is None or protocol is None or datasets is None:
        return None, broken
    config = Config(
        path, benchmark, datasets, test_dataset, preprocess, render, models, protocol,  # type: ignore[arg-type]
        executor, False, raw,  # type: ignore[arg-type]
    )  # fmt: skip
    relative_to_config(config, Path(path).parent)
    if not broken & {"models", "test_dataset"}:
        take("cells", check_cell_ids, config)
    return config, broken


def is_path_option(name: str) -> bool:
    """Options that name files or folders: ``path``, ``*_path``, ``*_dir``, ``*_catalog``."""
    return name == "path" or name.endswith(("_path", "_dir", "_catalog"))


def _resolved(value: Any, base: Path) -> Any:
    """A relative path (or list of them) joined to ``base``; others as they are."""
    if isinstance(value, list):
        return [_resolved(v, base) for v in value]
    if not isinstance(value, str) or not value or "://" in value:
        return value
    path = Path(value).expanduser()
    return value if path.is_absolute() else str(base / path)


def relative_to_config(config: Config, base: Path) -> None:
    """Relative paths in dataset and model options are relative to the config file's
    folder (``base``), so a preset runs from any current folder; ``output`` stays
    relative to the current folder (where the runs are written)."""
    specs = [*config.datasets, *config.models, *config.preprocess]
    specs += [config.test_dataset] if config.test_dataset is not None else []
    for spec in specs:
        spec.params = {
            k: _resolved(v, base) if is_path_option(k) else v for k, v in spec.params.items()
        }


def _fail(message: str) -> None:
    raise BenchError(message)


def _preprocess(raw: Mapping[str, Any], path: str, registry: Registry) -> list[PluginSpec]:
    def one(i: int, entry: Mapping[str, Any]) -> PluginSpec:
        return _plugin(entry, "preprocessor", registry, f"{path}: [[preprocess]][{i}]")

    return _collect(_tables(raw, "preprocess", path), one)


def _benchmark(raw: Mapping[str, Any], path: str) -> Benchmark:
    where = f"{path}: [benchmark]"
    benchmark = Benchmark(**options_of(BENCHMARK_KEYS, _table(raw, "benchmark", path), where))
    check_classes(benchmark.classes, f"{where}.classes")
    check_name(benchmark.name, f"{where}.name")
    for i, name in enumerate(benchmark.classes):
        check_name(name, f"{where}.classes[{i}]")
    return benchmark


def _protocol(raw: Mapping[str, Any], path: str) -> Protocol:
    where = f"{path}: [protocol]"
    protocol = Protocol(**options_of(PROTOCOL_KEYS, _table(raw, "protocol", path), where))
    check_protocol(protocol, where)
    return protocol


def _datasets(raw: Mapping[str, Any], path: str, registry: Registry) -> list[PluginSpec]:
    if "dataset" in raw and "datasets" in raw:
        raise BenchError(f"{path}: give either [dataset] or [[datasets]], not both")
    entries = [_table(raw, "dataset", path)] if "dataset" in raw else _tables(raw, "datasets", path)
    if not entries:
        raise BenchError(f"{path}: no dataset: add a [dataset] table with a name")

    def one(i: int, entry: Mapping[str, Any]) -> PluginSpec:
        where = f"{path}: [datasets][{i}]"
        spec = _plugin(entry, "dataset", registry, where, ("name", "label"))
        spec.label = label_of(entry, spec.name, where)
        registry.create("dataset", spec.name, spec.params, where)  # its own checks (opens nothing)
        return spec

    datasets = _collect(entries, one)
    check_unique([d.label for d in datasets], f"{path}: dataset", "[[datasets]]")
    return datasets


def _test_dataset(raw: Mapping[str, Any], path: str, registry: Registry) -> PluginSpec | None:
    if "test_dataset" not in raw:
        return None
    entry, where = _table(raw, "test_dataset", path), f"{path}: [test_dataset]"
    spec = _plugin(entry, "dataset", registry, where, ("name", "label"))
    spec.label = label_of(entry, spec.name, where)
    return spec


def _models(
    raw: Mapping[str, Any], path: str, registry: Registry, batch_size: int | None = None
) -> list[PluginSpec]:
    """The [[models]] tables; a model that declares a ``batch_size`` option and is not given
    one takes the protocol's ``batch_size`` (its own default no longer hides it)."""

    def one(i: int, entry: Mapping[str, Any]) -> PluginSpec:
        where = f"{path}: [[models]][{i}]"
        spec = _plugin(entry, "model", registry, where, MODEL_RESERVED)
        declared = {o.name for o in registry.get("model", spec.name).options}
        if batch_size is not None and "batch_size" in declared and "batch_size" not in entry:
            spec.params["batch_size"] = batch_size
        spec.label = label_of(entry, spec.name, where)
        if "render" in entry:
            if not isinstance(entry["render"], dict):
                raise BenchError(f'{where}.render: expected a table like {{ name = "..." }}')
            spec.render = _plugin(entry["render"], "renderer", registry, f"{where}.render")
        registry.create("model", spec.name, spec.params, where)  # its own checks (builds nothing)
        return spec

    models = _collect(_tables(raw, "models", path), one)
    if not models:
        raise BenchError(f"{path}: no model: add at least one [[models]] table with a name")
    check_unique([m.label for m in models], f"{path}: model", "[[models]]")
    return models


def _render(raw: Mapping[str, Any], path: str, registry: Registry) -> PluginSpec:
    """``[render]``, else the renderer registered as the default for images."""
    where = f"{path}: [render]"
    table = _table(raw, "render", path)
    table = table or {"name": _default(registry.default_renderer, where, "image")}
    return _plugin(table, "renderer", registry, where)


def _default(pick: Callable[..., str], where: str, *args: Any) -> str:
    """The name ``pick(*args)`` returns: a registry's default plugin, errors naming ``where``."""
    try:
        return pick(*args)
    except BenchError as exc:
        raise BenchError(f"{where}: {exc}") from None


def _executor(raw: Mapping[str, Any], path: str, registry: Registry) -> PluginSpec:
    where = f"{path}: [executor]"
    table = _table(raw, "executor", path) or {"name": _default(registry.default_executor, where)}
    executor = _plugin(table, "executor", registry, where)
    # built now (nothing starts before map) so `bench validate` sees bad values
    registry.create("executor", executor.name, executor.params, where)
    return executor


def shrink(config: Config, registry: Registry) -> Config:
    """A smoke run: few spectra, one epoch, one split, the smallest inputs each model accepts."""
    p = config.protocol
    p.epochs = [1]
    p.train_fractions = p.train_fractions[:1]
    p.seeds = p.seeds[:1]
    p.max_spectra = min(p.max_spectra or p.quick_max_spectra, p.quick_max_spectra)
    for spec in config.models:
        cls = registry.get("model", spec.name)  # composite models shrink their members too
        spec.params.update(cls.quick_params(spec.params, registry.model_class))
    return config
