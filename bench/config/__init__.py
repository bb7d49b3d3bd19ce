"""The benchmark config: ``benchmarks.toml`` read, checked and resolved into typed sections."""

from bench.config.load import (
    BENCHMARK_KEYS,
    PROTOCOL_KEYS,
    QUICK_MAX_SPECTRA,
    SECTIONS,
    load_config,
    read_toml,
    resolve_config,
    shrink,
)
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
    "cell_id",
    "load_config",
    "read_toml",
    "resolve_config",
    "shrink",
]
