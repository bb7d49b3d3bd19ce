"""Time `bench check-plugin` on built-in plugins (run on demand, not collected by pytest).

    .venv/bin/python tests/perf/bench_conformance.py [MODEL ...]

Prints seconds per plugin and the ratio to the `logreg` model's check measured in the
same run (the machine is shared: compare ratios, not seconds). The JAX compilation cache
is on, so a second run of a Keras model is faster than the first.
"""

from __future__ import annotations

import sys
import time

from bench.conformance import check
from bench.plugins.manager import SPECTRUM_KINDS, get_registry


def timed(kind: str, name: str, options: dict[str, object] | None = None) -> tuple[float, bool]:
    t0 = time.perf_counter()
    results = check(kind, name, options, registry)
    return time.perf_counter() - t0, all(r.ok for r in results)


registry = get_registry(third_party=False)
models = sys.argv[1:] or sorted(registry.classes["model"])
timed("model", "logreg")  # warm-up: imports sklearn
baseline, _ = timed("model", "logreg")
print(f"{'plugin':<28} {'seconds':>8} {'x logreg':>9}  result")
for kind in SPECTRUM_KINDS:
    for name in sorted(registry.classes[kind]):
        if name == "sdss" or (kind == "model" and name not in models):
            continue
        seconds, ok = timed(kind, name)
        print(
            f"{kind + ' ' + name:<28} {seconds:8.2f} {seconds / baseline:9.2f}  {'pass' if ok else 'FAIL'}"
        )
print(f"baseline: model logreg {baseline:.2f} s")
