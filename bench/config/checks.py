"""Checks on resolved config values: labels, the matrix's cell ids, classes, protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.config.sections import Config, Protocol
from bench.errors import BenchError


def label_of(entry: Mapping[str, Any], default: str, where: str) -> str:
    """A dataset or model label: it goes into cell ids and folder names, so a name
    (:func:`check_name`) without the ids' separators ``__`` and ``~``."""
    label = check_name(entry.get("label", default), f"{where}.label")
    if "__" in label or "~" in label:
        raise BenchError(f"{where}.label: {label!r} contains '__' or '~' (cell id separators)")
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
    """What the declared bounds (``PROTOCOL_KEYS``) cannot say: the grid is not empty."""
    for key in ("train_fractions", "epochs", "seeds"):
        if not getattr(protocol, key):
            raise BenchError(f"{where}.{key}: must not be empty")


MAX_NAME = 100


def check_name(value: object, where: str) -> str:
    """A name that becomes part of a path and is printed: non-empty, at most 100
    characters, printable, not only spaces, no '/' or '\\', not starting with '.'."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_NAME
        or not value.isprintable()
        or "/" in value
        or "\\" in value
        or value.startswith(".")
    ):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise BenchError(
            f"{where}: expected a name of 1 to {MAX_NAME} printable characters, without "
            f"'/' or '\\', not only spaces, not starting with '.'; got {shown}"
        )
    return value
