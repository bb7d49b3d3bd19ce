"""Which test set a cell was measured on, and why two runs' test sets differ.

A cell's test set is fixed by its dataset (and ``[test_dataset]``) with their options,
the protocol's spectrum limit, the train fraction (the test share is the rest, unless a
separate test dataset is used whole) and whether the run was a ``--quick`` one. Two
cells are on the same test set when all of these agree: the leaderboard ranks them
together, and ``bench compare`` says which of them differ before it judges.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TestSet:
    """A test set's identity (``key``, a digest) and how it reads in a table (``label``)."""

    key: str
    label: str


def run_kind(report: dict[str, Any]) -> str:
    """``quick`` or ``full`` (``unknown`` for a report that does not record it)."""
    quick = report.get("config", {}).get("quick")
    return "unknown" if quick is None else ("quick" if quick else "full")


def _dataset(report: dict[str, Any], label: str) -> Any:
    for spec in report.get("config", {}).get("datasets") or []:
        if isinstance(spec, dict) and (spec.get("label") or spec.get("name")) == label:
            return spec
    return None


def test_set(report: dict[str, Any], result: dict[str, Any]) -> TestSet:
    """The test set of one result of ``report``."""
    cell, config = result["cell"], report.get("config", {})
    separate = cell.get("test_dataset") or ""
    protocol = config.get("protocol") or {}
    identity = {
        "dataset": [cell["dataset"], _dataset(report, cell["dataset"])],
        "test_dataset": [separate, config.get("test_dataset") if separate else None],
        "max_spectra": protocol.get("max_spectra"),
        "train_fraction": None if separate else cell["train_fraction"],
        "kind": run_kind(report),
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    key = hashlib.sha256(text.encode()).hexdigest()[:8]
    share = "all" if separate else f"{1 - float(cell['train_fraction']):.0%}"
    where = f"{cell['dataset']} -> {separate}" if separate else cell["dataset"]
    n = result.get("n_test")
    size = f" ({n} spectra)" if isinstance(n, int) else ""
    return TestSet(key, f"{where}, {share} test{size}, {run_kind(report)}")


def config_differences(base: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What makes the two runs' test sets differ, one sentence each (empty when nothing)."""
    notes = []
    kinds = run_kind(base), run_kind(now)
    if kinds[0] != kinds[1]:
        notes.append(
            f"the baseline is a {kinds[0]} run and the current one a {kinds[1]} run: "
            "their test sets and training differ; compare runs of the same kind"
        )
    for name in sorted(_labels(base) & _labels(now)):
        changed = _changed(_dataset(base, name), _dataset(now, name))
        if changed:
            notes.append(f"dataset {name!r} has other options: {changed}")
    old, new = base.get("config", {}), now.get("config", {})
    changed = _changed(old.get("test_dataset"), new.get("test_dataset"))
    if changed:
        notes.append(f"the [test_dataset] differs: {changed}")
    limits = [(c.get("protocol") or {}).get("max_spectra") for c in (old, new)]
    if limits[0] != limits[1]:
        notes.append(f"max_spectra differs: {limits[0]} in the baseline, {limits[1]} now")
    return notes


def _labels(report: dict[str, Any]) -> set[str]:
    specs = report.get("config", {}).get("datasets") or []
    return {str(s.get("label") or s.get("name")) for s in specs if isinstance(s, dict)}


def _changed(old: Any, new: Any, limit: int = 4) -> str:
    """``key old -> new`` for the first keys that differ (flattened one level of params)."""
    flat = [_flat(old), _flat(new)]
    keys = sorted(set(flat[0]) | set(flat[1]))
    diffs = [
        f"{k} {flat[0].get(k)!r} -> {flat[1].get(k)!r}"
        for k in keys
        if flat[0].get(k) != flat[1].get(k)
    ]
    more = f" and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return ", ".join(diffs[:limit]) + more


def _flat(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        return {} if spec is None else {"value": spec}
    out = {k: v for k, v in spec.items() if k != "params"}
    out |= {f"{k}": v for k, v in (spec.get("params") or {}).items()}
    return out
