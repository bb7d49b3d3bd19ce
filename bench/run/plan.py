"""Planning a benchmark: the matrix of cells and the training runs that produce them.

Each training run (one model on one split of one dataset, with one seed) trains once and
is snapshotted at every requested epoch count (20, 30, 40 -> one run of 40 epochs, three
cells): models continue training exactly where they stopped, so the cells are the same as
three separate runs. Planning opens the datasets, selects the usable spectra, splits them
and computes each cell's cache key; nothing trains here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from bench.config import Config, PluginSpec, cell_id
from bench.data.split import known_label_index, stratified_sample, stratified_split
from bench.errors import BenchError
from bench.interfaces import Model
from bench.plugins.registry import Registry
from bench.run.cellkey import cell_keys, data_fingerprint, plugin_code
from bench.run.pipeline import renderer_for
from bench.spectra import SpectrumSource


@dataclass(frozen=True)
class Cell:
    """One cell of the benchmark matrix."""

    dataset: str
    model: str
    plugin: str
    train_fraction: float
    epochs: int
    seed: int
    test_dataset: str = ""  # the [test_dataset]'s label when it is not the training dataset

    @property
    def id(self) -> str:
        return cell_id(
            self.dataset, self.model, self.train_fraction, self.epochs, self.seed, self.test_dataset
        )


@dataclass
class SplitIndex:
    """Positions of the training, validation and test spectra; the test positions index
    the ``[test_dataset]`` when ``separate_test``, else the training dataset. Validation
    always comes out of the training dataset's training share."""

    train: np.ndarray
    test: np.ndarray
    separate_test: bool = False
    validation: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def validation_seed(seed: int) -> int:
    """The validation split's own seed, derived from the cell seed."""
    return int(np.random.SeedSequence([seed, 0x5A11D]).generate_state(1)[0])


@dataclass(frozen=True)
class PluginOrigin:
    """How another process (a dask worker) rebuilds the registry a run was resolved on."""

    extra_modules: tuple[str, ...] = ()
    third_party: bool = True


@dataclass
class TrainTask:
    """One training run, self-contained and picklable: a worker reopens the dataset from
    its spec (datasets are deterministic) and checks it reads the same (``fingerprints``)."""

    index: int
    config: Config
    dataset: PluginSpec
    model: PluginSpec
    fraction: float
    seed: int
    split: SplitIndex
    fingerprints: dict[str, str]
    keys: dict[int, str]  # cache key of each cell, by epoch count
    run_dir: Path
    fresh: bool = False
    plugins: PluginOrigin = field(default_factory=PluginOrigin)
    code: dict[str, str] = field(default_factory=dict)  # plugin code hash, by role
    earlier: tuple[Path, ...] = ()  # earlier run folders whose finished cells it may reuse
    owner: str = ""  # "PID HOST" of the run holding the folder's lock: checked before writes

    def cells(self) -> list[Cell]:
        spec, test = self.model, self.config.test_dataset
        test_label = test.label if test is not None else ""
        return [
            Cell(self.dataset.label, spec.label, spec.name, self.fraction, e, self.seed, test_label)
            for e in sorted(self.config.protocol.epochs)
        ]


Sources = tuple[SpectrumSource, SpectrumSource | None]


@dataclass
class Plan:
    """The training runs of a matrix, the datasets opened for them (by label) and a
    summary of each dataset for the report."""

    tasks: list[TrainTask]
    sources: dict[str, Sources]
    summaries: dict[str, Any]


def plan_matrix(config: Config, registry: Registry, run_dir: Path, fresh: bool = False) -> Plan:
    """Open every dataset and list the training runs of the matrix, in report order."""
    classes, protocol = config.classes, config.protocol
    plan = Plan([], {}, {})
    fingerprints: dict[str, str] = {}
    test_source, test_usable = None, None
    if config.test_dataset is not None:
        spec = config.test_dataset
        test_source = registry.create("dataset", spec.name, spec.params, "[test_dataset]").open()
        fingerprints["test"] = data_fingerprint(test_source)
        test_usable = usable_index(
            test_source, classes, protocol.max_spectra, protocol.sample_seed, "[test_dataset]"
        )
        plan.summaries["test"] = summarize(test_source, test_usable, classes)
    origin = PluginOrigin(registry.extra_modules, registry.third_party)
    for spec in config.datasets:
        source = registry.create("dataset", spec.name, spec.params, f"dataset {spec.name}").open()
        plan.sources[spec.label] = (source, test_source)
        fingerprints["train"] = data_fingerprint(source)
        where = f"dataset {spec.label!r}"
        usable = usable_index(source, classes, protocol.max_spectra, protocol.sample_seed, where)
        plan.summaries[spec.label] = summarize(source, usable, classes)
        check_models(config, registry, len(source.loglam))
        for seed in protocol.seeds:
            for fraction in protocol.train_fractions:
                split = split_index(source, usable, test_source, test_usable, fraction, seed, where)
                split = with_validation(source, split, protocol.validation_fraction, seed, where)
                for model_spec in config.models:
                    model_cls = cast(type[Model], registry.get("model", model_spec.name))
                    render = renderer_for(model_cls, model_spec, config.render, registry)
                    plan.tasks.append(
                        TrainTask(
                            index=len(plan.tasks),
                            config=config,
                            dataset=spec,
                            model=model_spec,
                            fraction=fraction,
                            seed=seed,
                            split=split,
                            fingerprints=dict(fingerprints),
                            keys=cell_keys(
                                config,
                                registry,
                                spec,
                                model_spec,
                                render,
                                fraction,
                                seed,
                                fingerprints,
                            ),  # fmt: skip
                            run_dir=run_dir.resolve(),
                            fresh=fresh,
                            plugins=origin,
                            code=plugin_code(config, registry, spec, model_spec, render),
                        )
                    )
    return plan


def usable_index(
    source: SpectrumSource, classes: list[str], max_spectra: int | None, seed: int, where: str
) -> np.ndarray:
    """Positions of the spectra with a label in ``classes`` (a stratified sample of at
    most ``max_spectra`` of them when set)."""
    if len(source) == 0:
        raise BenchError(f"{where}: the dataset is empty{_why_empty(source)}")
    index = known_label_index(source.labels, classes)
    if len(index) == 0:
        found = sorted(set(map(str, source.labels)))[:5]
        raise BenchError(f"{where}: no spectrum has a label in {classes}; found {found}")
    present = set(source.labels[index].astype(str))
    absent = [c for c in classes if c not in present]
    if absent:
        raise BenchError(
            f"{where}: no spectrum of class {absent[0]!r}; remove it from [benchmark].classes "
            f"(classes found: {sorted(present)})"
        )
    refuse_duplicates(source, index, where)
    if max_spectra is not None:
        index = stratified_sample(source.labels, index, max_spectra, seed)
    return index


def refuse_duplicates(source: SpectrumSource, index: np.ndarray, where: str) -> None:
    """Two spectra of one object (one id: the same plate/mjd/fiber under two file names)
    would be counted twice, or sit on both sides of a split: BenchError naming both."""
    ids = source.ids[index].astype(str)
    unique, counts = np.unique(ids, return_counts=True)
    if len(unique) == len(ids):
        return
    twice = unique[counts > 1][0]
    a, b = index[np.flatnonzero(ids == twice)[:2]]
    table = getattr(source, "table", None)
    paths = table.get("path") if isinstance(table, dict) else None
    if paths is not None and len(paths) == len(source.ids):
        both = f"{paths[a]} and {paths[b]}"
    else:
        both = f"spectra {a} and {b}"
    raise BenchError(
        f"{where}: object {twice!r} appears twice ({both}); keep one of them, or the "
        "metrics count it twice"
    )


def check_models(config: Config, registry: Registry, n_pixels: int) -> None:
    """Each model built with its options and asked its input shape for ``n_pixels``
    (``image_size = [0, 0]`` refused here, before any run folder exists)."""
    for spec in config.models:
        model = registry.create("model", spec.name, spec.params, f"model {spec.label}")
        model.input_shape(n_pixels)


def _why_empty(source: SpectrumSource) -> str:
    """Name the first unreadable file when every file of a dataset failed (sdss records them)."""
    failures = source.describe().get("failures")
    if not isinstance(failures, list) or not failures:
        return ""
    first = failures[0]
    reason = first.get("reason", "") if isinstance(first, dict) else str(first)
    path = first.get("path", "") if isinstance(first, dict) else ""
    if path and not reason.startswith(path):
        reason = f"{path}: {reason}"
    n = len(failures)
    return f"; {n} file{'s' if n > 1 else ''} failed to read, e.g. {reason}"


def summarize(source: SpectrumSource, usable: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """The report's summary of one dataset: sizes, class counts, the source's own facts."""
    labels = source.labels[usable].astype(str)
    return {
        "n_total": len(source),
        "n_used": len(usable),
        "n_unknown_label": int(len(source) - np.isin(source.labels.astype(str), classes).sum()),
        "class_counts": {c: int((labels == c).sum()) for c in classes},
        "n_pixels": len(source.loglam),
        "source": dict(source.describe()),
    }


def split_index(
    source: SpectrumSource,
    usable: np.ndarray,
    test_source: SpectrumSource | None,
    test_usable: np.ndarray | None,
    fraction: float,
    seed: int,
    where: str,
) -> SplitIndex:
    """Split ``usable`` by object; with a separate test dataset, its usable spectra minus
    any object also in the training share are the test set."""
    train, test = stratified_split(source.ids, source.labels, usable, fraction, seed, where)
    if test_source is None or test_usable is None:
        return SplitIndex(train, test)
    overlap = np.isin(test_source.ids[test_usable].astype(str), source.ids[train].astype(str))
    return SplitIndex(train, test_usable[~overlap], separate_test=True)


def with_validation(
    source: SpectrumSource, split: SplitIndex, fraction: float, seed: int, where: str
) -> SplitIndex:
    """Hold ``fraction`` of the training objects out for validation (stratified, by
    object id, with :func:`validation_seed`); ``fraction`` 0 keeps no validation set."""
    if fraction <= 0:
        return split
    train, validation = stratified_split(
        source.ids, source.labels, split.train, 1.0 - fraction, validation_seed(seed),
        f"{where}: validation split ([protocol].validation_fraction = {fraction:g}; 0 trains "
        "without one)",
    )  # fmt: skip
    return SplitIndex(train, split.test, split.separate_test, validation)


def check_plan(config: Config, registry: Registry) -> list[str]:
    """Every problem planning would meet, without training: each dataset opened, its
    usable spectra, every split (train / validation / test) of the matrix, and each
    model's input shape for its pixel count. One message per problem."""
    problems: list[str] = []
    classes, protocol = config.classes, config.protocol
    test_source, test_usable = None, None
    if config.test_dataset is not None:
        spec, where = config.test_dataset, "[test_dataset]"
        try:
            test_source = registry.create("dataset", spec.name, spec.params, where).open()
            test_usable = usable_index(
                test_source, classes, protocol.max_spectra, protocol.sample_seed, where
            )
        except BenchError as exc:
            problems.append(str(exc))
    for spec in config.datasets:
        where = f"dataset {spec.label!r}"
        try:
            source = registry.create("dataset", spec.name, spec.params, where).open()
            usable = usable_index(
                source, classes, protocol.max_spectra, protocol.sample_seed, where
            )
            for seed in protocol.seeds:
                for fraction in protocol.train_fractions:
                    split = split_index(
                        source, usable, test_source, test_usable, fraction, seed, where
                    )
                    with_validation(source, split, protocol.validation_fraction, seed, where)
        except BenchError as exc:
            problems.append(str(exc))
            continue
        for model_spec in config.models:
            try:
                one = replace(config, models=[model_spec])
                check_models(one, registry, len(source.loglam))
            except BenchError as exc:
                problems.append(str(exc))
    return list(dict.fromkeys(problems))
