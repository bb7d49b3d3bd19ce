"""Power of the CI regression gate (run on demand, not collected by pytest).

Takes a run folder with per-cell ``predictions.csv`` (default: the committed
``reports/baseline``, i.e. what ``.ci/run`` compares against), degrades one cell at a time
on purpose by each fall in ``--falls`` (that share of the test objects turned from right
to wrong), and runs ``bench compare`` on it: for each fall, the metrics that failed the
gate (per-class figures can fail before accuracy: the flipped objects share classes).
With ``--time-quick`` it first times ``bench run benchmarks.toml --quick`` (CI's step).

    .venv/bin/python tests/perf/gate_power.py [--baseline reports/baseline/report.json]
        [--falls 0.01,0.015,0.02,0.025,0.03,0.04] [--tolerance 0.02] [--time-quick]

Prints the figures, then one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.results.compare import compare  # noqa: E402
from tests.test_compare import _degraded_copy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, default=ROOT / "reports/baseline/report.json")
    parser.add_argument("--falls", default="0.01,0.015,0.02,0.025,0.03,0.04")
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--time-quick", action="store_true")
    args = parser.parse_args()
    out: dict[str, object] = {"baseline": str(args.baseline), "tolerance": args.tolerance}
    if args.time_quick:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            cmd = ["bench", "run", "benchmarks.toml", "--quick", "--out", f"{tmp}/q"]
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            out["quick_run_s"] = round(time.perf_counter() - t0, 1)
            print(f"bench run benchmarks.toml --quick: {out['quick_run_s']} s")
    report = json.loads(args.baseline.read_text())
    falls = [float(f) for f in args.falls.split(",")]
    caught: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in report["results"]:
            cell = r["cell"]["id"]
            caught[cell] = {}
            for fall in falls:
                now = _degraded_copy(Path(tmp) / f"{cell}-{fall}", cell, fall)
                result = compare(args.baseline, now, args.tolerance)
                metrics = sorted({x["metric"] for x in result.regressions})
                caught[cell][str(fall)] = ",".join(metrics) if metrics else "passed"
            line = "  ".join(f"{f:g}: {caught[cell][str(f)]}" for f in falls)
            print(f"{cell} (n_test {r['n_test']}): {line}")
    out["caught"] = caught
    print(json.dumps(out))


if __name__ == "__main__":
    main()
