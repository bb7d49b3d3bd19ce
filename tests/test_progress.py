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
    assert stages == ["loading", "fitting", "evaluating"]  # centroid has no epochs
    assert f"open:   {out / 'report.html'}" in err


def _shown(progress: console_module.RunProgress, buffer: io.StringIO) -> str:
    buffer.seek(0)
    buffer.truncate()
    progress.progress.refresh()
    return buffer.getvalue()


def test_terminal_shows_current_cell_stage_elapsed_and_eta_once_a_cell_trained(monkeypatch):
    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=200)
    cells = [Cell("synthetic", "cnn1d", "cnn1d", 0.8, 5, seed) for seed in range(4)]
    ok = {"status": "ok", "metrics": {"accuracy": 0.5}, "timings": {"fit_s": 1.0}}
    with console_module.RunProgress(console=terminal) as progress:
        progress.run_started(len(cells))
        progress.stage(cells[0], "epoch 2 of 5, loss 0.412")
        shown = _shown(progress, buffer)
        assert f"{cells[0].id}: epoch 2 of 5, loss 0.412" in shown
        assert "0/4" in shown and "0:00:00" in shown
        assert "eta" not in shown and "-:--:--" not in shown  # nothing to estimate from yet
        progress.cell_finished(cells[0], {**ok, "reused": True})
        assert "eta" not in _shown(progress, buffer)  # a reused cell says nothing of time
        progress.cell_finished(cells[1], ok)
        task = progress.progress.tasks[0]
        monkeypatch.setattr(type(task), "elapsed", property(lambda self: 100.0))
        assert "eta 0:03:20" in _shown(progress, buffer)  # 100 s per trained cell, 2 left


def test_eta_is_the_mean_trained_cell_time_times_the_cells_left():
    assert console_module.eta_seconds(elapsed=30.0, trained=3, remaining=4) == 40.0
    assert console_module.eta_seconds(elapsed=30.0, trained=0, remaining=4) is None
    assert console_module.eta_seconds(elapsed=30.0, trained=3, remaining=0) is None


def test_stage_of_a_first_fit_says_what_the_model_does():
    from bench.run.events import first_fit_stage

    cnn = next(m for m in MODELS if m.name == "cnn1d")
    logreg = next(m for m in MODELS if m.name == "logreg")
    assert first_fit_stage(cnn(n_pixels=32)).startswith("first epoch")
    assert first_fit_stage(logreg()) == "fitting"


def test_keras_models_report_each_epoch_with_its_loss():
    cls = next(m for m in MODELS if m.name == "cnn1d")
    model, train, test = built(cls, seed=0, n_pixels=32, filters=[4, 8], batch_size=8)
    seen: list[tuple[int, dict[str, float]]] = []
    model.progress = lambda epoch, logs: seen.append((epoch, logs))
    model.fit(train, test, epochs=2)
    model.fit(train, test, epochs=3, initial_epoch=2)
    assert [epoch for epoch, _ in seen] == [1, 2, 3]  # absolute, 1-based
    assert all(logs["loss"] > 0 and "val_loss" in logs for _, logs in seen)
