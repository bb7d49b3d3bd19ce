"""Checks on resolved config values: labels, the matrix's cell ids, classes, protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.config.sections import Config, Protocol
from bench.errors import BenchError


def label_of(entry: Mapping[str, Any], default: str, where: str) -> str:
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


def check_unique(labels: list[str], what: str, table: str) -> None:
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise BenchError(
            f"{what} label {dupes[0]!r} is used twice; give each {table} a distinct label"
        )


def check_classes(classes: list[str], where: str) -> None:
    if len(classes) < 2:
        raise BenchError(f"{where}: must name at least two classes, got {classes}")
    dupes = sorted({c for c in classes if classes.count(c) > 1})
    if dupes:
        raise BenchError(f"{where}: {dupes[0]!r} is listed twice; list each class once")


def check_protocol(protocol: Protocol, where: str) -> None:
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
    if protocol.quick_max_spectra < 2:
        raise BenchError(f"{where}.quick_max_spectra: {protocol.quick_max_spectra} is too small")
    if protocol.max_spectra is not None and protocol.max_spectra < 2:
        raise BenchError(f"{where}.max_spectra: {protocol.max_spectra} is too small")
