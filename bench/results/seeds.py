"""Figures across seeds: each (dataset, test dataset, model, train fraction, epochs) group
of cells run with several seeds, summarised by mean, standard deviation and a 95 %
Student-t interval of the mean beside the per-seed values."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.results.metrics import metric_value
from bench.results.rates import clip_unit


def group_key(cell: dict[str, Any]) -> tuple[Any, ...]:
    """Cells that differ only in their seed share this key."""
    return (
        cell["dataset"],
        cell.get("test_dataset") or "",
        cell["model"],
        cell["train_fraction"],
        cell["epochs"],
    )


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation and 95 % t interval of the mean of the finite
    ``values``; ``n_non_finite`` counts the NaN or infinite ones left out (``values``
    keeps them all, in order)."""
    from scipy.stats import t

    everything = np.asarray(values, dtype=np.float64)
    x = everything[np.isfinite(everything)]
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    half = float(t.ppf(0.975, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
    return {
        "n_seeds": n,
        "n_non_finite": len(everything) - n,
        "mean": mean,
        "std": std,
        # every metric a group is summarised on lives in [0, 1]: so does its interval
        "low": clip_unit(mean - half, mean + half)[0] if n > 1 else None,
        "high": clip_unit(mean - half, mean + half)[1] if n > 1 else None,
        "values": [float(v) for v in everything],
    }


def across_seeds(results: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """One row per group of ok cells with two or more seeds of finite ``metric``: the
    group's cell fields (minus the seed), its seeds, and :func:`summarize` of ``metric``."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if r["status"] == "ok":
            groups[group_key(r["cell"])].append(r)
    rows = []
    for key, cells in groups.items():
        values = [metric_value(r["metrics"], metric)[0] for r in cells]
        pairs = [
            (r["cell"]["seed"], v) for r, v in zip(cells, values, strict=True) if v is not None
        ]
        if sum(math.isfinite(v) for _, v in pairs) < 2:
            continue  # a spread needs two finite values
        dataset, test, model, fraction, epochs = key
        rows.append(
            {
                "dataset": dataset,
                "test_dataset": test,
                "model": model,
                "train_fraction": fraction,
                "epochs": epochs,
                "metric": metric,
                "seeds": [s for s, _ in pairs],
                **summarize([v for _, v in pairs]),
            }
        )
    return rows
