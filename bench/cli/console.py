"""All terminal output (rich). The rest of the code returns data."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
for _console in (out, err):
    if not _console.is_terminal and "COLUMNS" not in os.environ:
        _console.width = 160  # logs and CI: keep tables whole rather than 80 columns wide


def error(message: str) -> None:
    """One line on stderr, no traceback."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)


def info(message: str) -> None:
    err.print(message, markup=False, soft_wrap=True)


class _Bar:
    """A transient progress bar on stderr (hidden when stderr is not a terminal)."""

    def __init__(self, what: str) -> None:
        self.progress = Progress(
            TextColumn(f"[bold]{escape(what)}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not sys.stderr.isatty(),
        )
        self.task: Any = None

    def __enter__(self) -> Any:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)


def eta_seconds(elapsed: float, trained: int, remaining: int) -> float | None:
    """Seconds left: the mean time of the cells trained so far (reused cells cost none)
    times the cells left; None before the first trained cell, when nothing tells."""
    if trained <= 0 or remaining <= 0 or elapsed <= 0:
        return None
    return elapsed / trained * remaining


class _EtaColumn(ProgressColumn):
    """``eta 0:03:10`` from the finished cells' times; blank until a cell has trained
    (rich's own estimate forgets samples after 30 s and shows ``-:--:--`` for long cells)."""

    def render(self, task: Task) -> Text:
        left = eta_seconds(
            task.elapsed or 0.0, task.fields.get("trained", 0), int(task.remaining or 0)
        )
        if left is None:
            return Text("")
        minutes, seconds = divmod(int(round(left)), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"eta {hours}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


class RunProgress(_Bar):
    """Draws the runner's events: a bar over cells with elapsed time, ETA (once a cell has
    trained), the current cell and its stage (loading, first epoch, epoch k of n with its
    loss, fitting, evaluating), and one line per finished cell. Without a terminal, each
    stage is printed as a line instead."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__("cells")
        console = console or err
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]cells"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            _EtaColumn(),
            TextColumn("{task.fields[stage]}", markup=False),
            console=console,
            transient=True,
            disable=not self.live,
        )
        self.trained = 0

    def run_started(self, n_cells: int) -> None:
        self.task = self.progress.add_task("", total=n_cells, stage="", trained=0)

    def stage(self, cell: Any, text: str) -> None:
        line = f"{cell.id}: {text}"
        if self.live:
            self.progress.update(self.task, stage=line)
        else:
            self.progress.console.print(f"...     {line}", markup=False, soft_wrap=True)

    def cell_finished(self, cell: Any, result: dict[str, Any]) -> None:
        if result["status"] == "ok":
            acc = result["metrics"]["accuracy"]
            done = "reused" if result.get("reused") else f"fit {result['timings']['fit_s']:.1f}s"
            line = f"ok      {cell.id}  accuracy {acc:.3f}  {done}"
        else:
            line = f"FAILED  {cell.id}  {result['error']['type']}: {result['error']['message']}"
        if not result.get("reused"):
            self.trained += 1
        self.progress.console.print(line, markup=False, soft_wrap=True)
        self.progress.update(self.task, advance=1, trained=self.trained)

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, soft_wrap=True)


def predict_summary(summary: Any) -> None:
    """`bench predict`: counts per predicted class, agreement with the files' classes, and
    a warning when the inputs look unlike the training data."""
    counts = ", ".join(f"{c} {n}" for c, n in summary.counts.items())
    info(f"{summary.n} predictions written to {summary.out}: {counts}")
    if summary.agreement is not None:
        info(
            f"agreement with the files' classes: {summary.agreement:.3f} "
            f"({summary.n_agree} of {summary.n_labelled} labelled spectra)"
        )
    if summary.labels_from:
        used = ", ".join(map(str, summary.labels_from))
        info(f"true classes from {used} for {summary.n_from_labels} of {summary.n} spectra")
    if summary.other_classes:
        other = ", ".join(f"{c} {n}" for c, n in sorted(summary.other_classes.items()))
        warning(
            f"{sum(summary.other_classes.values())} spectra have classes the cell was not "
            f"trained on ({other}); left out of the agreement"
        )
    if summary.outside_warning:
        warning(summary.outside_warning)


def warning(message: str) -> None:
    """One warning line on stderr."""
    err.print(f"[bold yellow]warning:[/] {escape(message)}", soft_wrap=True)


def compare_result(result: Any, baseline: object, as_json: bool, only_changed: bool) -> None:
    """`bench compare`: what differs, the table and the verdict (or all of it as JSON)."""
    if as_json:
        out.print(result.to_json(only_changed), markup=False, highlight=False, soft_wrap=True)
    else:
        text = result.markdown(only_changed)
        out.print(text, markup=False, highlight=False, soft_wrap=True, end="")
    if result.exit_code:
        error(f"regression against {baseline}")


def summary_table(report: dict[str, Any]) -> None:
    classes = report["config"]["benchmark"]["classes"]
    name = escape(str(report["config"]["benchmark"]["name"]))
    table = Table(title=f"{name}: validation accuracy, test accuracy and per-class recall")
    numeric = ("val acc", "test acc", "epochs", "seed", "train")
    for col in ("dataset", "model", "train", "epochs", "seed", "status", "val acc", "test acc"):
        table.add_column(col, justify="right" if col in numeric else "left")
    for c in classes:
        table.add_column(f"recall {escape(str(c))}", justify="right")
    for r in report["results"]:
        cell = r["cell"]
        test = cell.get("test_dataset")
        row = [
            escape(f"{cell['dataset']} -> {test} (test)" if test else cell["dataset"]),
            escape(cell["model"]),
            f"{cell['train_fraction']!r}",
            str(cell["epochs"]),
            str(cell["seed"]),
        ]
        if r["status"] == "ok":
            m = r["metrics"]
            val = (r["history"].get("val_accuracy") or [None])[-1]
            row += [
                "ok",
                "–" if val is None else f"{val:.3f}",
                f"{m['accuracy']:.3f}",
                *(f"{m['per_class'][c]['recall']:.3f}" for c in classes),
            ]
        else:
            row += ["[red]failed[/]", "", "", *([""] * len(classes))]
        table.add_row(*row)
    out.print(table)


def plugins_table(rows: list[dict[str, Any]]) -> None:
    """One heading per plugin (kind, name, source, description), its options below."""
    for row in rows:
        out.print(
            f"[bold]{row['kind']}[/] [cyan]{escape(row['name'])}[/]  ({escape(row['source'])})"
            + (f"  {escape(row['description'])}" if row["description"] else "")
        )
        for o in row["options"]:
            choices = f" one of {o['choices']}" if "choices" in o else ""
            signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
            bounds = [f"{signs[k]} {v}" for k, v in o.get("bounds", {}).items()]
            choices += f" ({' and '.join(bounds)})" if bounds else ""
            out.print(
                f"    {escape(o['name'])}: {o['type']} = {escape(repr(o['default']))}"
                f"{escape(choices)}  [dim]{escape(o['help'])}[/]"
            )


def file_error(path: object, reason: str) -> None:
    """A file's problem as one error line that names the file once."""
    error(reason if str(path) in reason else f"{path}: {reason}")


def data_check_table(result: Any) -> None:
    """Per-class counts of a `bench data check`, then one line per unreadable file."""
    table = Table(title=f"{result.n_read} spectra read")
    table.add_column("class")
    table.add_column("count", justify="right")
    for name, count in sorted(result.class_counts.items()):
        table.add_row(escape(name) if name else "(unknown)", str(count))
    out.print(table)
    for path, reason in result.failures:
        file_error(path, reason)


def leaderboard_table(rows: list[dict[str, str]], metric: str) -> None:
    """The leaderboard: '=' after a rank marks a tie with the row above."""
    table = Table(title=f"leaderboard by {escape(metric)}")
    for key in rows[0] if rows else ["test set", "rank", "model", "cell", "value"]:
        table.add_column(escape(key), overflow="fold")
    for row in rows:
        table.add_row(*(escape(v) for v in row.values()))
    out.print(table)


class Counter(_Bar):
    """A progress bar fed by ``update(done, total)`` callbacks."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.task = self.progress.add_task(what, total=None)

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)


def conformance_table(results: list[Any]) -> None:
    """`bench check-plugin`: one row per check, with what to fix for each failure."""
    table = Table(title="conformance")
    for column in ("plugin", "check", "result", "what to fix"):
        table.add_column(column, overflow="fold")
    for r in results:
        status = "[green]pass[/]" if r.ok else "[bold red]FAIL[/]"
        table.add_row(escape(f"{r.kind} {r.name}"), escape(r.check), status, escape(r.message))
    out.print(table)
    failed = sum(not r.ok for r in results)
    out.print(f"{len(results) - failed} passed, {failed} failed", markup=False)
