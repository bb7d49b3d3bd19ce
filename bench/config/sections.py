"""The typed sections of a resolved benchmark: what `bench run` reads, by attribute."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.spectra import CLASSES


def cell_id(
    dataset: str, model: str, fraction: float, epochs: int, seed: int, test_dataset: str = ""
) -> str:
    """A cell's id and folder name: ``<dataset>[~<test dataset>]__<model>__f<fraction>__e<epochs>__s<seed>``.

    The fraction is written exactly (``repr``: 0.8 -> ``0.8``, 0.80000001 stays distinct),
    and labels may not contain ``__`` or ``~``, so distinct cells have distinct ids."""
    data = f"{dataset}~{test_dataset}" if test_dataset else dataset
    return f"{data}__{model}__f{fraction!r}__e{epochs}__s{seed}"


@dataclass
class PluginSpec:
    """A plugin chosen in the config: registered ``name`` and its resolved ``params``."""

    name: str
    params: dict[str, Any]
    label: str = ""
    render: PluginSpec | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "params": self.params}
        if self.label:
            out["label"] = self.label
        if self.render is not None:
            out["render"] = self.render.to_json()
        return out


@dataclass
class Benchmark:
    """``[benchmark]``: the name used in report paths, where runs go, the classes."""

    name: str = "benchmark"
    output: str = "reports"
    classes: list[str] = field(default_factory=lambda: list(CLASSES))


@dataclass
class Protocol:
    """``[protocol]``: the grid of train fractions x epoch counts x seeds, and batch size."""

    train_fractions: list[float] = field(default_factory=lambda: [0.8])
    epochs: list[int] = field(default_factory=lambda: [20])
    seeds: list[int] = field(default_factory=lambda: [0])
    batch_size: int = 32
    max_spectra: int | None = None
    validation_fraction: float = 0.1
    quick_max_spectra: int = 300
    cell_timeout_s: float | None = None  # a cell running longer fails (bench.run.guard)

    @property
    def sample_seed(self) -> int:
        """The seed of the ``max_spectra`` sample (the first seed: one sample for all)."""
        return self.seeds[0]


@dataclass
class Config:
    """A resolved benchmark: every plugin exists and every option is typed."""

    path: str
    benchmark: Benchmark
    datasets: list[PluginSpec]
    test_dataset: PluginSpec | None
    preprocess: list[PluginSpec]
    render: PluginSpec
    models: list[PluginSpec]
    protocol: Protocol
    executor: PluginSpec
    quick: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)  # `--set KEY=VALUE`, in order

    @property
    def classes(self) -> list[str]:
        return self.benchmark.classes

    def cell_ids(self) -> list[tuple[str, str]]:
        """Every cell of the matrix as (id, where it comes from in the config)."""
        p, test = self.protocol, self.test_dataset.label if self.test_dataset else ""
        out = []
        for i, d in enumerate(self.datasets):
            for j, m in enumerate(self.models):
                for a, f in enumerate(p.train_fractions):
                    for b, e in enumerate(p.epochs):
                        for c, s in enumerate(p.seeds):
                            origin = (
                                f"datasets[{i}], models[{j}], train_fractions[{a}], "
                                f"epochs[{b}], seeds[{c}]"
                            )
                            out.append((cell_id(d.label, m.label, float(f), e, s, test), origin))
        return out

    @property
    def n_cells(self) -> int:
        return len(self.cell_ids())

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "quick": self.quick,
            "overrides": list(self.overrides),
            "benchmark": asdict(self.benchmark),
            "datasets": [d.to_json() for d in self.datasets],
            "test_dataset": self.test_dataset.to_json() if self.test_dataset else None,
            "preprocess": [p.to_json() for p in self.preprocess],
            "render": self.render.to_json(),
            "models": [m.to_json() for m in self.models],
            "protocol": asdict(self.protocol),
            "executor": self.executor.to_json(),
        }
