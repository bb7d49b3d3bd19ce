"""How long the report of the paper preset (27 cells: 3 models x 3 train fractions x 3
epoch counts) takes to build, and how large it is (run on demand, not collected by pytest).

The 27 cells are synthesised from a real run's cells (no 27 models are trained): each ok
cell of RUN_DIR is copied once per (train fraction, epoch count), its history stretched
to the epoch count. Then report.html (every figure) and the objects table are written,
best of ``--repeats``.

    bench run --quick --out /tmp/quick        # 3 cells: inception_v3, resnet50, mnist_cnn
    .venv/bin/python tests/perf/bench_report.py /tmp/quick [--repeats 2]

Prints the figures, then one line of JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results.html import write_html
from bench.results.objects import write_objects_table
from bench.results.report import load_report

FRACTIONS = (0.6, 0.7, 0.8)
EPOCHS = (20, 30, 40)


def synthesise(source: Path, out: Path) -> dict[str, Any]:
    """A 27-cell report in ``out`` made of ``source``'s ok cells."""
    report = load_report(source / "report.json")
    cells = [r for r in report["results"] if r["status"] == "ok"]
    results = []
    for r in cells:
        for fraction in FRACTIONS:
            for epochs in EPOCHS:
                new = copy.deepcopy(r)
                c = new["cell"]
                c["train_fraction"], c["epochs"] = fraction, epochs
                c["id"] = f"{c['dataset']}__{c['model']}__f{fraction:g}__e{epochs}__s{c['seed']}"
                new["path"] = f"cells/{c['id']}"
                for key, values in new["history"].items():
                    new["history"][key] = [values[k % len(values)] for k in range(epochs)]
                shutil.copytree(source / r["path"], out / new["path"])
                results.append(new)
    report["results"] = results
    report["summary"] = {**report["summary"], "n_cells": len(results), "ok": len(results)}
    (out / "report.json").write_text(json.dumps(report))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        report = synthesise(args.run_dir, out)
        html_s, table_s = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            html = write_html(report, out)
            html_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            table = write_objects_table(report, out)
            table_s.append(time.perf_counter() - t0)
        n_figures = html.read_text().count("<img ")
        figures = {
            "cells": len(report["results"]),
            "figures": n_figures,
            "html_s": round(min(html_s), 2),
            "html_mb": round(html.stat().st_size / 1e6, 2),
            "objects_table_s": round(min(table_s), 3),
            "objects_table": table.name,
            "objects_rows": sum(r["n_test"] for r in report["results"]),
        }
    print(f"27-cell report: {figures['figures']} figures, report.html {figures['html_mb']} MB "
          f"in {figures['html_s']} s; {figures['objects_table']} ({figures['objects_rows']} rows) "
          f"in {figures['objects_table_s']} s")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
