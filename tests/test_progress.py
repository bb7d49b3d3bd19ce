"""Progress that tells: the current cell and its stage (loading, compiling, epoch k of n
with its loss, evaluating), elapsed and ETA on a terminal, one line per stage in logs,
and the path of report.html at the end."""

from __future__ import annotations

import io

from rich.console import Console

from bench.cli import console as console_module
from bench.cli import main
from bench.run.plan import Cell
from tests.test_core import CONFIG, write
from tests.test_models import MODELS, built


def test_run_logs_each_stage_and_ends_with_the_report_path(toy_registry, tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)])
    err = capsys.readouterr().err.splitlines()
    cell = next(line.split()[1] for line in err if line.startswith("ok "))
    stages = [line.split(": ", 1)[1] for line in err if line.startswith(f"...     {cell}:")]
    assert stages == ["loading", "rendering and compiling (first epoch)", "evaluating"]
    assert f"open:   {out / 'report.html'}" in err


def test_terminal_shows_current_cell_stage_elapsed_and_eta():
    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=200)
    cell = Cell("synthetic", "cnn1d", "cnn1d", 0.8, 5, 0)
    with console_module.RunProgress(console=terminal) as progress:
        progress.run_started(3)
        progress.stage(cell, "epoch 2 of 5, loss 0.412")
        progress.progress.refresh()
        shown = buffer.getvalue()
    assert f"{cell.id}: epoch 2 of 5, loss 0.412" in shown
    assert "0/3" in shown and "eta" in shown and "0:00:00" in shown


def test_keras_models_report_each_epoch_with_its_loss():
    cls = next(m for m in MODELS if m.name == "cnn1d")
    model, train, test = built(cls, seed=0, n_pixels=32, filters=[4, 8], batch_size=8)
    seen: list[tuple[int, dict[str, float]]] = []
    model.progress = lambda epoch, logs: seen.append((epoch, logs))
    model.fit(train, test, epochs=2)
    model.fit(train, test, epochs=3, initial_epoch=2)
    assert [epoch for epoch, _ in seen] == [1, 2, 3]  # absolute, 1-based
    assert all(logs["loss"] > 0 and "val_loss" in logs for _, logs in seen)
