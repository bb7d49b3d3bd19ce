"""``report.md``: the run in Markdown tables.

What each cell trained and was tested on (the test dataset named whenever it is another
one), validation and test figures side by side, figures across seeds, completeness and
purity against redshift, S/N and magnitude, and the paper's published figures beside ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.results import coverage, seeds
from bench.results.plots import final_cells
from bench.results.rates import clip_unit
from bench.results.tables import (
    TRANSFER_HEAD,
    TRANSFER_NOTE,
    WARNING_HEAD,
    WARNING_NOTE,
    ci_text,
    paper_data_note,
    paper_row,
    split_heading,
    transfer_heading,
    transfer_rows,
    validation_fraction,
    warning_rows,
)

MD_ESCAPES = {
    "|": "\\|", "`": "\\`", "\\": "\\\\",
    "\n": " ", "\r": " ", "\0": "",
}  # fmt: skip
STARTS_TAG = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/!?")


def md_escape(text: object) -> str:
    """Text for Markdown (a table cell, a heading, a list item) that reads as plain text in
    a terminal: backslash escapes, no HTML entities. No raw HTML (a ``<`` that could open a
    tag or an autolink becomes ``\\<``), no entity (``&`` before a name becomes ``\\&``),
    no link (a ``]`` before ``(``, ``[`` or ``:`` becomes ``\\]``), no code span, no
    pipe or line break, no leading ``#`` or ``>``; ``z < 2.1`` and ``[0.5, 1.0]`` stay
    as written."""
    chars = str(text)
    out = []
    for i, ch in enumerate(chars):
        after = chars[i + 1] if i + 1 < len(chars) else ""
        if ch == "<" and after in STARTS_TAG and after:
            out.append("\\<")
        elif ch == "&" and after and (after.isalnum() or after == "#"):
            out.append("\\&")
        elif ch == "]" and after in ("(", "[", ":"):  # no link, image or link definition
            out.append("\\]")
        elif ch in "#>" and not "".join(out).strip():
            out.append("\\" + ch)
        else:
            out.append(MD_ESCAPES.get(ch, ch))
    return "".join(out)


_md_cell = md_escape


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(_md_cell(c) for c in cells) + " |"


def data_lines(report: dict[str, Any]) -> list[str]:
    """One line per distinct data split: what it trained and was tested on, and its sizes."""
    seen: dict[str, dict[str, Any]] = {}
    for r in report["results"]:
        if r["status"] == "ok":
            seen.setdefault(split_heading(r["cell"], validation_fraction(report)), r)
    return [
        f"- {md_escape(text)}: {r.get('n_train', '?')} train, {r.get('n_validation', 0)} "
        f"validation, {r.get('n_test', '?')} test spectra"
        for text, r in seen.items()
    ]


def results_table(report: dict[str, Any]) -> list[str]:
    """One row per cell: sizes, final validation accuracy, test figures with intervals."""
    classes = report["config"]["benchmark"]["classes"]
    head = ["cell", "status", "train/val/test", "val accuracy", "test accuracy [95 % CI]"]
    head += ["macro F1 [95 % CI]", *(f"recall {c}" for c in classes), "fit s"]
    lines = [_row(head), "|" + "---|" * len(head)]
    for r in report["results"]:
        cell = r["cell"]["id"]
        if r["status"] != "ok":
            lines.append(_row([cell, f"failed: {r['error']['type']}", *[""] * (len(head) - 2)]))
            continue
        m, ci = r["metrics"], r["metrics"].get("intervals") or {}
        val = (r["history"].get("val_accuracy") or [None])[-1]
        sizes = f"{r.get('n_train', '?')}/{r.get('n_validation', 0)}/{r.get('n_test', '?')}"
        recalls = [
            ci_text(m["per_class"][c]["recall"], (ci.get("recall") or {}).get(c)) for c in classes
        ]
        lines.append(
            _row(
                [cell, "ok", sizes, "–" if val is None else f"{val:.3f}"]
                + [
                    ci_text(m["accuracy"], ci.get("accuracy")),
                    ci_text(m.get("macro_f1"), ci.get("macro_f1")),
                ]
                + recalls
                + [f"{r['timings']['fit_s']:.1f}"]
            )
        )
    return lines


def transfer_lines(report: dict[str, Any]) -> list[str]:
    """Validation (training dataset) against test (another dataset) accuracy per model,
    the gap and the rank agreement of the two orderings (``report["transfer"]``)."""
    from bench.results.transfer import tau_text

    section = report.get("transfer")
    if not section or not section.get("groups"):
        return []
    lines = [
        "",
        "## Validation against test: how far the training data is from the test data",
        "",
        TRANSFER_NOTE,
    ]
    for group in section["groups"]:
        lines += ["", f"### {md_escape(transfer_heading(group))}", ""]
        lines += [_row(TRANSFER_HEAD), "|" + "---|" * len(TRANSFER_HEAD)]
        lines += [_row(row) for row in transfer_rows(group)]
        lines += ["", md_escape(tau_text(group))]
    return lines


def seeds_table(report: dict[str, Any]) -> list[str]:
    """Mean, spread and 95 % interval across seeds of accuracy and macro F1, per group."""
    lines: list[str] = []
    for metric in ("accuracy", "macro_f1"):
        rows = seeds.across_seeds(report["results"], metric)
        if not rows:
            continue
        if not lines:
            head = [
                "data",
                "model",
                "f",
                "epochs",
                "metric",
                "seeds",
                "mean ± sd",
                "95 % CI of mean",
                "per seed",
            ]
            lines = ["", "## Across seeds", "", _row(head), "|" + "---|" * len(head)]
        for g in rows:
            data = g["dataset"] + (f" -> {g['test_dataset']}" if g["test_dataset"] else "")
            per_seed = ", ".join(
                f"s{s}: {v:.3f}" for s, v in zip(g["seeds"], g["values"], strict=True)
            )
            lines.append(
                _row(
                    [
                        data,
                        g["model"],
                        f"{g['train_fraction']!r}",
                        g["epochs"],
                        metric,
                        g["n_seeds"],
                    ]
                    + [
                        f"{g['mean']:.3f} ± {g['std']:.3f}",
                        _seed_interval(g),
                        per_seed,
                    ]
                )
            )
    return lines


def _seed_interval(group: dict[str, Any]) -> str:
    """The across-seeds interval of a [0, 1] metric, clipped to [0, 1]."""
    if group.get("low") is None or group.get("high") is None:
        return "–"
    low, high = clip_unit(float(group["low"]), float(group["high"]))
    return f"[{low:.3f}, {high:.3f}]"


def coverage_table(report: dict[str, Any]) -> list[str]:
    """Accuracy on the share of test objects each model is most sure of (its top class
    probability), for the last epoch count of each training run."""
    cells = [r for r in final_cells(report["results"]) if r["metrics"].get("coverage")]
    if not cells:
        return []
    shares = [row["coverage"] for row in cells[0]["metrics"]["coverage"]]
    head = ["cell"] + [f"{100 * c:.0f} % [95 % CI] (n)" for c in shares] + ["in words"]
    lines = [
        "",
        "## Accuracy on the objects each model is most sure of",
        "",
        "Objects ranked by the model's confidence (its top class probability, as in "
        "predictions.csv); each column keeps that share of the test set, most confident "
        "first. Accuracy that rises to the right means the confidence can be trusted.",
        "",
        _row(head),
        "|" + "---|" * len(head),
    ]
    for r in cells:
        rows = r["metrics"]["coverage"]
        values = [f"{ci_text(t['accuracy'], t['interval'])} ({t['n']})" for t in rows]
        lines.append(_row([r["cell"]["id"], *values, coverage.sentence(rows) or "–"]))
    return lines


def warning_table(report: dict[str, Any]) -> list[str]:
    """The warning flag's table, when any cell has one."""
    rows = warning_rows(report)
    if not rows:
        return []
    lines = ["", "## Objects flagged as uncertain", "", WARNING_NOTE, "", _row(WARNING_HEAD)]
    return lines + ["|" + "---|" * len(WARNING_HEAD), *(_row(row) for row in rows)]


KINDS = (("redshift", "redshift"), ("snr", "S/N"), ("magnitude", "magnitude"))


def bins_tables(report: dict[str, Any]) -> list[str]:
    """Completeness and purity per class per bin (count and 95 % Wilson interval), for the
    last epoch count of each training run."""
    classes = report["config"]["benchmark"]["classes"]
    lines: list[str] = []
    for r in final_cells(report["results"]):
        for kind, name in KINDS:
            rows = (r["metrics"].get("bins") or {}).get(kind)
            if not rows:
                continue
            head = ["bin", "n"] + [f"{c} completeness" for c in classes]
            head += [f"{c} purity" for c in classes]
            lines += [
                "",
                f"### {md_escape(r['cell']['id'])}: against {name}",
                "",
                _row(head),
                "|" + "---|" * len(head),
            ]
            for b in rows:
                comp = [
                    _rate(b["recall"][c], b["recall_interval"][c], b["support"][c]) for c in classes
                ]
                pur = [
                    _rate(b["purity"][c], b["purity_interval"][c], b["n_predicted"][c])
                    for c in classes
                ]
                lines.append(_row([b["bin"], b["n"], *comp, *pur]))
    if lines:
        lines = ["", "## Completeness and purity by redshift, S/N and magnitude"] + lines
    return lines


def _rate(value: float | None, interval: list[float] | None, n: int) -> str:
    if value is None:
        return f"– (n={n})"
    return f"{ci_text(value, interval)} (n={n})"


def paper_lines(report: dict[str, Any]) -> list[str]:
    from bench.results import paper

    if not paper.relevant(report):
        return []
    keys = ["model", "train_fraction", "class", "metric", "paper", "ours", "where"]
    lines = [
        "",
        f"## Published figures ({paper.PAPER}) beside ours",
        "",
        f"{paper_data_note(report)} Only figures the paper's text states in numbers; where "
        "it names no metric, ours shows one-vs-rest accuracy, precision and recall.",
        "",
        _row(keys),
        "|" + "---|" * len(keys),
    ]
    rows = [paper_row(row) for row in paper.comparison(report)]
    return lines + [_row([row[k] for k in keys]) for row in rows]


def overrides_lines(report: dict[str, Any]) -> list[str]:
    """``Overrides (--set): ...`` when the run changed its config file's keys, else none."""
    overrides = report["config"].get("overrides") or []
    if not overrides:
        return []
    shown = ", ".join(md_escape(text) for text in overrides)
    where = md_escape(report["config"].get("path", "the config"))
    return [f"Overrides of {where} (--set): {shown}", ""]


def markdown(report: dict[str, Any]) -> str:
    """The whole run in Markdown."""
    prov = report["provenance"]
    lines = [
        f"# Benchmark report: {md_escape(report['config']['benchmark']['name'])}",
        "",
        f"bench {prov['bench_version']}, keras {prov['versions']['keras']} on "
        f"{prov['keras_backend']}, started {prov['started']}, host {prov['host']}",
        "",
        *overrides_lines(report),
        *data_lines(report),
        "",
        "Validation figures are on objects held out of the training share (what `fit` saw "
        "as validation); test figures are on the test set, used for nothing else.",
        "",
        *results_table(report),
        *transfer_lines(report),
        *seeds_table(report),
        *coverage_table(report),
        *warning_table(report),
        *bins_tables(report),
        *paper_lines(report),
    ]
    return "\n".join(lines) + "\n"
