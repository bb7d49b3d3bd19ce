"""``report.html``: one self-contained page (plots inline as PNG data URIs) for a run.

Every string that comes from the run (names, labels, error messages) goes through
``html.escape``; nothing is loaded from outside the file.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from bench.results import figures as figures_
from bench.results import paper, plots
from bench.results.bins import EDGES
from bench.results.objects import read_predictions
from bench.results.tables import (
    TRANSFER_HEAD,
    TRANSFER_NOTE,
    WARNING_HEAD,
    WARNING_NOTE,
    paper_data_note,
    paper_row,
    split_heading,
    transfer_heading,
    transfer_rows,
    validation_fraction,
    warning_rows,
)
from bench.store.files import atomic_write_text
from bench.store.rundir import RunDir, mistakes_of, predictions_of

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
td,th{border:1px solid #ccc;padding:0.3em 0.6em;text-align:right}
td:first-child,th:first-child{text-align:left}
table.text td{text-align:left}.failed{color:#a00}.ci{color:#666;font-size:0.85em}img{max-width:100%}"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _table(header: list[str], rows: list[list[str]], css: str = "") -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _with_ci(value: float | None, interval: list[float] | None) -> str:
    if value is None:
        return "–"
    ci = f' <span class="ci">[{interval[0]:.3f}, {interval[1]:.3f}]</span>' if interval else ""
    return f"{value:.3f}{ci}"


def results_table(report: dict[str, Any]) -> str:
    classes = report["config"]["benchmark"]["classes"]
    header = ["cell", "status", "accuracy [95 % CI]", "macro F1 [95 % CI]", "ROC-AUC"]
    header += [f"recall {escape(c)}" for c in classes] + ["fit s"]
    rows = []
    for r in report["results"]:
        cell = escape(r["cell"]["id"])
        if r["status"] != "ok":
            message = escape(f"{r['error']['type']}: {r['error']['message']}")
            rows.append([cell, f'<span class="failed">{message}</span>'] + [""] * (len(header) - 2))
            continue
        m, ci = r["metrics"], r["metrics"].get("intervals") or {}
        recalls = [
            _with_ci(m["per_class"][c]["recall"], (ci.get("recall") or {}).get(c)) for c in classes
        ]
        auc = m.get("roc_auc")
        rows.append(
            [
                cell,
                "ok",
                _with_ci(m["accuracy"], ci.get("accuracy")),
                _with_ci(m.get("macro_f1"), ci.get("macro_f1")),
                "–" if auc is None else f"{auc:.3f}",
                *recalls,
                f"{r['timings']['fit_s']:.1f}",
            ]
        )
    return _table(header, rows)


def transfer_html(report: dict[str, Any]) -> str:
    """Validation against test accuracy per model and the rank agreement (Kendall tau),
    when the run tested on another dataset than it trained on."""
    from bench.results.transfer import tau_text

    section = report.get("transfer")
    if not section or not section.get("groups"):
        return ""
    parts = [
        "<h2>Validation against test: how far the training data is from the test data</h2>",
        f"<p>{escape(TRANSFER_NOTE)}</p>",
    ]
    for group in section["groups"]:
        rows = [[escape(cell) for cell in row] for row in transfer_rows(group)]
        parts.append(f"<h3>{escape(transfer_heading(group))}</h3>")
        parts.append(_table([escape(h) for h in TRANSFER_HEAD], rows))
        parts.append(f"<p>{escape(tau_text(group))}</p>")
    return "".join(parts)


def warning_html(report: dict[str, Any]) -> str:
    """The warning flag per model: accuracy on the flagged and the clean test objects."""
    rows = [[escape(cell) for cell in row] for row in warning_rows(report)]
    if not rows:
        return ""
    return f"<h2>Objects flagged as uncertain</h2><p>{escape(WARNING_NOTE)}</p>" + _table(
        [escape(h) for h in WARNING_HEAD], rows
    )


def figures(report: dict[str, Any], root: Path | None = None) -> str:
    """Per (dataset, train fraction, seed): confusion grid, loss and accuracy curves, and,
    from each cell's files under ``root``: ROC and precision-recall, accuracy against
    coverage, completeness and
    purity versus redshift, S/N and magnitude, the mistakes gallery (recall versus bins
    from report.json when the cells' files are absent)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in plots.final_cells(report["results"]):
        c = r["cell"]
        groups[(c["dataset"], c.get("test_dataset"), c["train_fraction"], c["seed"])].append(r)
    classes = report["config"]["benchmark"]["classes"]
    parts = []
    for (_, _, _, seed), cells in groups.items():
        data = split_heading(cells[0]["cell"], validation_fraction(report))
        title = f"{data}, seed {seed}, {cells[0]['cell']['epochs']} epochs"
        parts.append(f"<h3>{escape(title)}</h3>")
        parts.append(_img(plots.confusion_grid(cells, title), f"confusion matrices: {title}"))
        parts.append(_img(plots.loss_curves(cells, title), f"loss and accuracy curves: {title}"))
        parts += _object_figures(cells, classes, title, root)
    spread = plots.seed_spread(report["results"], report["config"]["benchmark"]["name"])
    if spread is not None:
        parts.append(f"<h3>Across seeds</h3>{_img(spread, 'across seeds: accuracy and macro F1')}")
    return "\n".join(parts)


def _object_figures(
    cells: list[dict[str, Any]], classes: list[str], title: str, root: Path | None
) -> list[str]:
    """The figures drawn from per-object files; recall versus bins without them."""
    report_path = RunDir(root or Path(".")).report_json
    read = [(r, predictions_of(report_path, r)) for r in cells] if root is not None else []
    with_preds = [(r, read_predictions(path)) for r, path in read if path.exists()]
    if not with_preds:
        parts = []
        for kind, name in (("redshift", "redshift"), ("snr", "S/N")):
            png = plots.recall_vs_bins(cells, kind, f"recall versus {name}: {title}")
            if png is not None:
                parts.append(_img(png, f"recall versus {name}: {title}"))
        return parts
    pngs = [(figures_.roc_pr(with_preds, classes, title), f"ROC and precision-recall: {title}")]
    png = figures_.risk_coverage(with_preds, classes, title)
    pngs.append((png, f"accuracy against coverage: {title}"))
    for kind in EDGES:
        png = figures_.completeness_purity(with_preds, classes, kind, title)
        pngs.append((png, f"completeness and purity versus {plots.KIND_NAMES[kind]}: {title}"))
    for r in cells:
        path = mistakes_of(report_path, r)
        if path.exists():
            with np.load(path) as m:
                png = figures_.mistakes_gallery(r, dict(m), classes)
            pngs.append((png, f"mistakes gallery: {r['cell']['id']}"))
    return [_img(png, alt) for png, alt in pngs if png is not None]


def paper_section(report: dict[str, Any]) -> str:
    if not paper.relevant(report):
        return ""
    keys = ["model", "train_fraction", "class", "metric", "paper", "ours", "where"]
    rows = [[escape(str(row[k])) for k in keys] for row in map(paper_row, paper.comparison(report))]
    return (
        f"<h2>Published figures ({escape(paper.PAPER)}) beside ours</h2>"
        f"<p>{escape(paper_data_note(report))} Only figures the paper's text states in numbers; "
        "where it names no metric we show our one-vs-rest accuracy, precision and recall.</p>"
        + _table([escape(k) for k in keys], rows, "text")
    )


def render_html(report: dict[str, Any], root: Path | None = None) -> str:
    """The page for ``report``; figures from per-object files need the run folder ``root``."""
    name = report["config"]["benchmark"]["name"]
    prov = report["provenance"]
    summary = report["summary"]
    meta = (
        f"bench {prov['bench_version']} (commit {prov.get('git_commit') or 'unknown'}), "
        f"keras {prov['versions'].get('keras')} on {prov['keras_backend']}, host {prov['host']}, "
        f"started {prov['started']}, seeds {prov['seeds']}; {summary['ok']} of "
        f"{summary['n_cells']} cells ok"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(f'Benchmark report: {name}')}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(f'Benchmark report: {name}')}</h1><p>{escape(meta)}</p>"
        f"<h2>Results</h2>{results_table(report)}{transfer_html(report)}{warning_html(report)}"
        f"<h2>Figures</h2>{figures(report, root)}{paper_section(report)}</body></html>\n"
    )


def write_html(report: dict[str, Any], out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` atomically and return its path."""
    path = RunDir(Path(out_dir)).report_html
    atomic_write_text(path, render_html(report, Path(out_dir)))
    return path
