"""``--set KEY=VALUE``: one key of the parsed TOML changed for one run, before the config
is checked, so every check applies to the result. ``KEY`` is dotted (``protocol.epochs``,
``dataset.n``); an entry of an array of tables (``[[models]]``, ``[[datasets]]``,
``[[preprocess]]``) is addressed by its label, else its name, else its index
(``models.mnist_cnn.batch_size``). ``VALUE`` is a TOML value (``[3]``, ``16``, ``"gaf"``);
a bare word (``gaf``) is taken as a string."""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

from bench.errors import BenchError, closest

_BARE_WORD = re.compile(r"[A-Za-z_][\w\-./]*")
_TOML_WORDS = {"true", "false", "inf", "nan"}


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"protocol.epochs=[3]"`` -> (``["protocol", "epochs"]``, ``[3]``)."""
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(p.strip() for p in parts):
        raise BenchError(f"--set {text}: expected KEY=VALUE with a dotted KEY, e.g. dataset.n=500")
    value = value.strip()
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        if not _BARE_WORD.fullmatch(value) or value in _TOML_WORDS:
            raise BenchError(
                f'--set {text}: {value!r} is not a TOML value (e.g. 3, 0.5, [1, 2], "text")'
            ) from None
        parsed = value
    return [p.strip() for p in parts], parsed


def _entry(items: list[Any], step: str, where: str) -> dict[str, Any]:
    """The entry of an array of tables named by ``step``: its label, else a name only one
    entry has, else an index."""
    tables = [t for t in items if isinstance(t, dict)]
    by_label = [t for t in tables if t.get("label", t.get("name")) == step]
    by_name = [t for t in tables if t.get("name") == step]
    for found in (by_label, by_name if len(by_name) == 1 else []):
        if found:
            return found[0]
    if step.isdigit() and int(step) < len(items) and isinstance(items[int(step)], dict):
        return items[int(step)]
    names = [str(t.get("label", t.get("name"))) for t in tables]
    raise BenchError(
        f"--set {where}: no entry with label or name {step!r}{closest(step, names)}; "
        f"entries: {', '.join(names) or 'none'}"
    )


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of ``raw`` with every ``KEY=VALUE`` of ``overrides`` set, in order."""
    out = copy.deepcopy(raw)
    for text in overrides:
        parts, value = parse_override(text)
        where = text.partition("=")[0].strip()
        node: dict[str, Any] | list[Any] = out
        for i, step in enumerate(parts[:-1]):
            if isinstance(node, list):
                node = _entry(node, step, where)
                continue
            child = node.setdefault(step, {})
            if not isinstance(child, dict | list):
                key = ".".join(parts[: i + 1])
                raise BenchError(f"--set {where}: {key} is a value, not a table")
            node = child
        if isinstance(node, list):
            raise BenchError(
                f"--set {where}: {'.'.join(parts[:-1])} is an array of tables; "
                "name an entry and its key, e.g. models.mnist_cnn.batch_size=16"
            )
        node[parts[-1]] = value
    return out
