"""`bench check-plugin [KIND] NAME [--option key=value ...]`: the conformance suite."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bench.errors import BenchError
from bench.plugins.registry import SPECTRUM_KINDS, Registry


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value is read as JSON when it parses (``n=40``, ``z=[0, 1]``),
    else kept as a string (``path=data/sdss``)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BenchError(f"--option {pair!r}: expected key=value, e.g. path=data/sdss")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def check_plugin(
    words: Sequence[str],
    option_pairs: Sequence[str],
    registry: Registry,
    timeout_s: float | None = None,
) -> int:
    """Run the suite on ``[KIND] NAME``, print a table; 0 when every check passed, else 1."""
    from bench.cli import console
    from bench.conformance import check, resolve_kind

    if len(words) == 2:
        kind, name = words
    elif len(words) == 1:
        name = words[0]
        kind = resolve_kind(name, registry)
    else:
        raise BenchError(f"check-plugin: expected [KIND] NAME, got {' '.join(words)!r}")
    if kind not in SPECTRUM_KINDS:
        raise BenchError(
            f"check-plugin: kind {kind!r} is not valid; expected one of {list(SPECTRUM_KINDS)}"
        )
    options = parse_options(option_pairs)
    if timeout_s is not None and not timeout_s > 0:
        raise BenchError(f"--timeout {timeout_s:g}: expected a number of seconds > 0")
    results = check(kind, name, options, registry, timeout_s)
    console.conformance_table(results)
    return 0 if all(r.ok for r in results) else 1
