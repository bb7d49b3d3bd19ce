"""Bootstrap speed: 1000 draws on 10^4 test objects, three ways, timed in the same run.

    .venv/bin/python tests/perf/bench_metrics.py [n_objects] [n_draws]

Prints seconds and the speed-up of bench.results.metrics (multinomial draw of confusion matrices)
over resampling indices with numpy and over scikit-learn per draw (extrapolated from 20).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main(n: int = 10_000, draws: int = 1000) -> None:
    from sklearn.metrics import f1_score

    from bench.results.metrics import bootstrap_intervals, compute_metrics, rates

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, n)
    y_pred = np.where(rng.random(n) < 0.85, y_true, rng.integers(0, 3, n))
    classes = ["STAR", "GALAXY", "QSO"]
    bootstrap_intervals(y_true, y_pred, classes, n_draws=10)  # warm-up

    t0 = time.perf_counter()
    ours = bootstrap_intervals(y_true, y_pred, classes, n_draws=draws)
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    idx = rng.integers(0, n, size=(draws, n))
    code = (y_true[idx] * 3 + y_pred[idx]) + (np.arange(draws) * 9)[:, None]
    counts = np.bincount(code.ravel(), minlength=draws * 9).reshape(draws, 3, 3)
    index_f1 = np.percentile(rates(counts)["f1"].mean(axis=-1), [2.5, 97.5])
    t_index = time.perf_counter() - t0

    few = 20
    t0 = time.perf_counter()
    for _ in range(few):
        i = rng.integers(0, n, n)
        f1_score(y_true[i], y_pred[i], average="macro")
    t_sklearn = (time.perf_counter() - t0) * draws / few

    t0 = time.perf_counter()
    compute_metrics(y_true, np.eye(3)[y_pred], classes, redshift=rng.uniform(0, 3.5, n))
    t_all = time.perf_counter() - t0

    print(f"{n} objects, {draws} draws")
    print(f"multinomial (bench.results.metrics): {t_ours:.4f} s  macro F1 CI {ours['macro_f1']}")
    print(f"index resampling (numpy):    {t_index:.4f} s  macro F1 CI {index_f1.round(6).tolist()}")
    print(f"scikit-learn per draw:       {t_sklearn:.2f} s (extrapolated from {few})")
    print(
        f"speed-up vs index resampling: {t_index / t_ours:.0f}x; vs scikit-learn: {t_sklearn / t_ours:.0f}x"
    )
    print(f"compute_metrics with bins and intervals: {t_all:.3f} s")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]))
