"""The benchmark config: ``benchmarks.toml`` read, checked and resolved into typed sections."""

from bench.config.load import (
    BENCHMARK_KEYS,
    PROTOCOL_KEYS,
    QUICK_MAX_SPECTRA,
    SECTIONS,
    check_config,
    load_config,
    read_toml,
    resolve_config,
    shrink,
)
from bench.config.overrides import apply_overrides
from bench.config.sections import Benchmark, Config, PluginSpec, Protocol, cell_id

__all__ = [
    "BENCHMARK_KEYS",
    "PROTOCOL_KEYS",
    "QUICK_MAX_SPECTRA",
    "SECTIONS",
    "Benchmark",
    "Config",
    "PluginSpec",
    "Protocol",
    "apply_overrides",
    "cell_id",
    "check_config",
    "load_config",
    "read_toml",
    "resolve_config",
    "shrink",
]
