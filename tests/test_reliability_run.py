"""Issue 28, the run side: a plugin cannot end a run silently, a cell is whole or retrained,
an edited plugin reruns, a plain rerun reuses earlier runs, checks before the run folder
exists, duplicate objects refused, a per-cell time limit."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bench import hookimpl
from bench.cli import main
from bench.executors import Executor, run_isolated, sweep_task_folders
from bench.interfaces import Dataset
from bench.options import Option
from bench.plugins import manager
from bench.results.report import load_report
from bench.spectra import ArraySource
from tests.plugins import toy


class ExitingModel(toy.CentroidModel):
    """The centroid model, misbehaving in ``fit`` as ``how`` says."""

    name = "exiting"
    options = (
        Option(
            "how",
            str,
            "exit",
            "how fit misbehaves",
            choices=("exit", "interrupt", "sigint", "chdir", "hang"),
        ),
        Option("where", str, "", "the folder a chdir goes to"),
    )

    def fit(self, train, validation, epochs, initial_epoch=0):  # type: ignore[no-untyped-def]
        how = self.params["how"]
        if how == "exit":
            sys.exit(0)
        if how == "interrupt":
            raise KeyboardInterrupt
        if how == "sigint":  # as the terminal's Ctrl-C does
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        if how == "hang":
            time.sleep(60)
        if how == "chdir":
            os.chdir(self.params["where"])
        self.params = {**self.params, "fail": False, "bad_output": ""}
        return super().fit(train, validation, epochs, initial_epoch)


class TwinDataset(Dataset):
    """The toy dataset with one object under two file names."""

    name = "twins"

    def open(self) -> ArraySource:
        source = toy.ToyDataset(n=60).open()
        source.ids[7] = source.ids[4]
        source.table = {  # type: ignore[attr-defined]
            "path": np.array([f"spec-{i:04d}.fits" for i in range(len(source.ids))])
        }
        return source


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    register(ExitingModel)


@hookimpl
def register_datasets(register):  # type: ignore[no-untyped-def]
    register(TwinDataset)


class ExitingExecutor(Executor):
    """An executor plugin that calls ``sys.exit`` while it is created."""

    name = "exiting_executor"

    def __init__(self, **params):  # type: ignore[no-untyped-def]
        sys.exit(0)

    def map(self, fn, tasks):  # type: ignore[no-untyped-def]
        return iter(())


@hookimpl
def register_executors(register):  # type: ignore[no-untyped-def]
    register(ExitingExecutor)


@pytest.fixture(autouse=True)
def _registry(monkeypatch):  # type: ignore[no-untyped-def]
    from bench.results import html as html_report

    monkeypatch.setattr(html_report, "write_html", lambda report, out_dir: None)
    this = sys.modules[__name__]
    with manager.using_registry(manager.get_registry(extra=[toy, this], third_party=False)):
        yield


CONFIG = """
[benchmark]
name = "rel"
output = "{output}"

[dataset]
name = "{dataset}"
{dataset_options}

[[models]]
name = "centroid"
render = {{ name = "flat" }}

[[models]]
name = "{model}"
render = {{ name = "flat" }}
{model_options}

[protocol]
train_fractions = [0.7]
epochs = [1, 2]
seeds = [0]
{protocol}
"""


def _config(tmp_path: Path, model: str = "centroid", **fields: str) -> Path:
    values = {
        "output": str(tmp_path / "reports"),
        "dataset": "toy",
        "dataset_options": "n = 60",
        "model": model,
        "model_options": "label = 'second'",
        "protocol": "",
        **fields,
    }
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(CONFIG.format(**values)))
    return path


def _printed(capsys) -> str:  # type: ignore[no-untyped-def]
    captured = capsys.readouterr()
    return captured.out + captured.err


def _by_status(report: dict) -> dict[str, list[str]]:
    status: dict[str, list[str]] = {}
    for r in report["results"]:
        status.setdefault(r["status"], []).append(r["cell"]["model"])
    return status


# --- 1. sys.exit / KeyboardInterrupt inside a cell ------------------------------------


@pytest.mark.parametrize("how", ["exit", "interrupt"])
def test_a_plugin_that_exits_fails_its_cells_and_the_report_is_written(tmp_path, capsys, how):
    config = _config(tmp_path, "exiting", model_options=f'how = "{how}"')
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 1
    report = load_report(tmp_path / "run" / "report.json")
    assert (tmp_path / "run" / "report.md").is_file()
    assert _by_status(report) == {"ok": ["centroid"] * 2, "failed": ["exiting"] * 2}
    failed = [r for r in report["results"] if r["status"] == "failed"]
    expected = "sys.exit(0)" if how == "exit" else "KeyboardInterrupt"
    assert all(expected in r["error"]["message"] for r in failed)
    assert "2 of 4 cells failed" in capsys.readouterr().err


def test_a_real_ctrl_c_still_stops_the_run(tmp_path):
    config = _config(tmp_path, "exiting", model_options='how = "sigint"')
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where a shell started us in the background
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 130
    assert not (tmp_path / "run" / "report.json").exists()
    assert not (tmp_path / "run" / ".lock").exists()
    assert signal.getsignal(signal.SIGINT) is before  # the handler restored


def test_check_plugin_counts_a_sys_exit_as_a_failed_check(capsys):
    assert main(["check-plugin", "model", "exiting", "--option", "how=exit"]) == 1
    assert "sys.exit(0)" in capsys.readouterr().out


def test_check_plugin_fails_a_check_that_runs_past_its_timeout(capsys):
    t0 = time.monotonic()
    code = main(["check-plugin", "model", "exiting", "--option", "how=hang", "--timeout", "1"])
    assert code == 1 and time.monotonic() - t0 < 50  # not the 60 s sleep
    assert "--timeout = 1 s" in capsys.readouterr().out
    assert main(["check-plugin", "model", "exiting", "--timeout", "0"]) == 2


# --- 2. a cell is reused only when whole ------------------------------------------------

CELL = "toy__centroid__f0.7__e1__s0"


def _tamper(cell: Path, how: str) -> None:
    if how == "no cell.json":
        (cell / "cell.json").unlink()
    elif how == "truncated cell.json":
        (cell / "cell.json").write_text('{"cache_key": ')
    elif how == "truncated predictions":
        lines = (cell / "predictions.csv").read_text().splitlines()
        (cell / "predictions.csv").write_text("\n".join(lines[:5]) + "\n")
    elif how == "no predictions":
        (cell / "predictions.csv").unlink()
    elif how == "empty model":
        for path in (cell / "model").iterdir():
            path.unlink()
    elif how == "no mistakes":
        (cell / "mistakes.npz").unlink()


@pytest.mark.parametrize(
    "how",
    [
        "no cell.json",
        "truncated cell.json",
        "truncated predictions",
        "no predictions",
        "empty model",
        "no mistakes",
    ],
)
def test_a_cell_missing_a_file_is_retrained_and_the_console_says_why(tmp_path, capsys, how):
    config, out = _config(tmp_path), tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    _tamper(out / "cells" / CELL, how)
    capsys.readouterr()
    assert main(["run", str(config), "--out", str(out)]) == 0
    report = load_report(out / "report.json")
    reused = {r["cell"]["id"]: r["reused"] for r in report["results"]}
    assert reused.pop(CELL) is False and all(reused.values())
    assert f"{CELL}: retrained:" in _printed(capsys)
    n_rows = len((out / "cells" / CELL / "predictions.csv").read_text().splitlines()) - 1
    assert n_rows == report["results"][0]["n_test"]


# --- 3. an edited plugin reruns its cells ---------------------------------------------

PLUGIN = """
from bench import hookimpl
from tests.plugins.toy import CentroidModel


class Edited(CentroidModel):
    name = "edited"
    SHIFT = {shift}

    def predict_proba(self, feed):
        proba = super().predict_proba(feed)
        return (proba + self.SHIFT) / (1 + 3 * self.SHIFT)


@hookimpl
def register_models(register):
    register(Edited)
"""


def _plugin_module(folder: Path, shift: float):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "edited_plugin.py").write_text(PLUGIN.format(shift=shift))
    # a rewrite of the same size within the same second would import the stale bytecode
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)
    importlib.invalidate_caches()
    sys.modules.pop("edited_plugin", None)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("edited_plugin")
    finally:
        sys.path.remove(str(folder))


def _run_edited_three_times(tmp_path: Path, config: Path, capsys):  # type: ignore[no-untyped-def]
    """Run ``config`` into one folder with the ``edited`` model unchanged, unchanged and
    edited: each run's results by cell id, and what the runs printed."""
    out, results = tmp_path / "run", []
    for shift in (0.0, 0.0, 0.5):
        module = _plugin_module(tmp_path / "plugin", shift)
        with manager.using_registry(manager.get_registry(extra=[toy, module], third_party=False)):
            capsys.readouterr()
            assert main(["run", str(config), "--out", str(out)]) == 0
        results.append({r["cell"]["id"]: r for r in load_report(out / "report.json")["results"]})
    return results, _printed(capsys)


def test_an_edited_plugin_reruns_its_cells_and_says_why(tmp_path, capsys):
    config = _config(tmp_path, "edited", model_options="")
    results, printed = _run_edited_three_times(tmp_path, config, capsys)
    edited = [i for i in results[0] if "__edited__" in i]
    assert len(edited) == 2
    assert all(results[1][i]["reused"] for i in results[1])  # same code: same keys
    assert [results[1][i]["cache_key"] for i in edited] == [
        results[0][i]["cache_key"] for i in edited
    ]
    assert not any(results[2][i]["reused"] for i in edited)
    assert all(results[2][i]["reused"] for i in results[2] if i not in edited)
    for i in edited:
        assert f"{i}: retrained: the code of model edited changed" in printed
    sys.modules.pop("edited_plugin", None)


def test_an_edited_blend_member_retrains_the_blend_and_says_why(tmp_path, capsys):
    """A blend runs its members' code: editing a member (its own module, outside the
    blend's folder) changes the blend's cell keys; the cells of the plain model beside it
    are reused."""
    options = "label = 'mix'\nmembers = ['centroid', 'edited']"
    config = _config(tmp_path, "blend", model_options=options)
    results, printed = _run_edited_three_times(tmp_path, config, capsys)
    blend = [i for i in results[0] if "__mix__" in i]
    assert len(blend) == 2
    assert all(results[1][i]["reused"] for i in results[1])  # same code: same keys
    assert not any(results[2][i]["reused"] for i in blend)
    assert all(results[2][i]["reused"] for i in results[2] if i not in blend)
    for i in blend:
        assert f"{i}: retrained: the code of member model edited changed" in printed
    sys.modules.pop("edited_plugin", None)


def test_only_composite_models_carry_member_code():
    from bench.config.sections import PluginSpec
    from bench.run.cellkey import _plugin, code_hash

    registry = manager.get_registry()
    plain = _plugin(registry, "model", PluginSpec("centroid", {}))
    mix = _plugin(registry, "model", PluginSpec("blend", {"members": ["centroid", "logreg"]}))
    assert "member_code" not in plain
    assert mix["member_code"] == {
        "centroid": code_hash(registry.get("model", "centroid")),
        "logreg": code_hash(registry.get("model", "logreg")),
    }


def test_the_code_hash_is_the_same_in_any_folder(tmp_path):
    from bench.run.cellkey import code_hash

    first = code_hash(_plugin_module(tmp_path / "a" / "plugin", 0.25).Edited)
    second = code_hash(_plugin_module(tmp_path / "b" / "plugin", 0.25).Edited)
    third = code_hash(_plugin_module(tmp_path / "c" / "plugin", 0.5).Edited)
    sys.modules.pop("edited_plugin", None)
    assert first == second != third


# --- 4. a plain rerun reuses the earlier runs -------------------------------------------


def test_a_plain_rerun_reuses_earlier_runs_into_a_new_folder(tmp_path, capsys):
    config = _config(tmp_path)
    assert main(["run", str(config)]) == 0
    capsys.readouterr()
    assert main(["run", str(config)]) == 0
    printed = _printed(capsys)
    runs = sorted((tmp_path / "reports").iterdir())
    assert len(runs) == 2  # two folders even within one second
    reports = [load_report(run / "report.json") for run in runs]
    first, second = sorted(reports, key=lambda r: sum(x["reused"] for x in r["results"]))
    assert not any(r["reused"] for r in first["results"])
    assert all(r["reused"] for r in second["results"])
    for a, b in zip(first["results"], second["results"], strict=True):
        assert a["metrics"] == b["metrics"]
    assert printed.count("reused from") == 4
    for run in runs:  # each folder whole on its own
        assert len([p for p in (run / "cells").iterdir()]) == 4
    assert main(["run", str(config), "--fresh"]) == 0
    newest = max((tmp_path / "reports").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert not any(r["reused"] for r in load_report(newest / "report.json")["results"])


# --- 5. absolute paths; the checks of validate before the folder ----------------------


def test_a_plugin_that_changes_directory_does_not_move_the_report(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = _config(tmp_path, "exiting", model_options=f'how = "chdir"\nwhere = "{elsewhere}"')
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(config), "--out", "run"]) == 0
    assert (tmp_path / "run" / "report.json").is_file()
    assert list(elsewhere.iterdir()) == []


def test_run_refuses_what_validate_refuses_before_making_a_folder(tmp_path, capsys):
    config = _config(tmp_path, "mnist_cnn", model_options="image_size = [0, 0]")
    assert main(["validate", str(config)]) == 2
    capsys.readouterr()
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert "image_size" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists()


# --- 6. duplicate objects ---------------------------------------------------------------


def test_two_files_of_one_object_are_refused_before_training(tmp_path, capsys):
    config = _config(tmp_path, dataset="twins", dataset_options="")
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert "toy-4" in err and "spec-0004.fits" in err and "spec-0007.fits" in err
    assert not (tmp_path / "reports").exists()
    assert main(["validate", str(config)]) == 2


# --- 7. a per-cell time limit ------------------------------------------------------------


def test_a_hanging_cell_fails_after_its_time_limit_and_the_others_run(tmp_path):
    config = _config(
        tmp_path, "exiting", model_options='how = "hang"', protocol="cell_timeout_s = 1"
    )
    t0 = time.monotonic()
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 1
    assert time.monotonic() - t0 < 50  # not the 60 s sleep (a bound on behaviour, not speed)
    report = load_report(tmp_path / "run" / "report.json")
    assert _by_status(report) == {"ok": ["centroid"] * 2, "failed": ["exiting"] * 2}
    failed = [r for r in report["results"] if r["status"] == "failed"]
    assert all("cell_timeout_s = 1" in r["error"]["message"] for r in failed)


# --- 8. training that outlives its run writes nothing, and ends ------------------------


def test_a_training_whose_run_is_gone_writes_no_cell(tmp_path, monkeypatch):
    import socket
    import subprocess

    from bench.config import load_config
    from bench.run import train
    from bench.run.execute import run_task
    from bench.run.plan import plan_matrix

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    monkeypatch.setattr(train, "orphan_watch", lambda owner: None)  # tested below
    config = load_config(_config(tmp_path), manager.get_registry())
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(f"{gone.pid} {socket.gethostname()}\n")  # left by a kill -9
    task = plan_matrix(config, manager.get_registry(), out).tasks[0]
    task.owner = f"{gone.pid} {socket.gethostname()}"
    _, results = run_task(task)
    assert [r["status"] for r in results] == ["failed", "failed"]
    assert "no longer holds the folder's lock" in results[0]["error"]["message"]
    assert not (out / "cells").exists() or not any((out / "cells").iterdir())


def test_an_isolated_training_process_ends_when_its_run_is_killed():
    import socket
    import subprocess

    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    owner = f"{run.pid} {socket.gethostname()}"
    code = (
        "import time; from bench.run.guard import orphan_watch; "
        f"orphan_watch({owner!r}, 0.1); time.sleep(60)"
    )
    trainer = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(1.0)
    assert trainer.poll() is None  # its run is alive: it trains on
    run.kill()
    run.wait()
    assert trainer.wait(timeout=30) == 3


# --- the executor: created without ending the run, its task folders removed -----------


def test_an_executor_that_exits_while_created_is_one_line_exit_2(tmp_path, capsys):
    """Created (and so checked) when the config is resolved: before any folder exists."""
    config = _config(tmp_path, protocol="\n[executor]\nname = 'exiting_executor'")
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    lines = [line for line in _printed(capsys).splitlines() if line.strip()]
    assert lines == [
        f"error: {config}: [executor]: executor 'exiting_executor' called sys.exit(0) "
        "while being created"
    ]
    assert not (tmp_path / "run").exists()


def test_the_runner_turns_an_executor_interrupting_itself_into_one_error(tmp_path, monkeypatch):
    from bench.config import load_config
    from bench.errors import BenchError
    from bench.run import execute

    config = load_config(_config(tmp_path), manager.get_registry())

    def interrupting(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # raised by code: no SIGINT arrived

    registry = manager.get_registry()
    monkeypatch.setattr(registry, "create", interrupting)
    with pytest.raises(BenchError, match="raised KeyboardInterrupt while being created"):
        execute._create_executor(config, registry)


def _task_folders(root: Path) -> list[Path]:
    return sorted(root.glob("bench-task-*"))


def test_run_isolated_returns_the_result_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert run_isolated(sorted, [3, 1, 2]) == [1, 2, 3]
    with pytest.raises(RuntimeError, match="training process exited with 1"):
        run_isolated(int, "not a number")
    assert _task_folders(tmp_path) == []


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_killing_the_process_of_run_isolated_removes_its_task_folder(tmp_path, how):
    import subprocess

    code = "import time; from bench.executors import run_isolated; run_isolated(time.sleep, 60)"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 60
    while not _task_folders(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    [folder] = _task_folders(tmp_path)
    assert folder.name.startswith(f"bench-task-{worker.pid}-")
    time.sleep(1.0)  # the isolated process is running
    worker.send_signal(how)
    worker.wait()
    while _task_folders(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _task_folders(tmp_path) == []  # removed by the isolated process, which ended


def test_a_task_folder_whose_process_is_gone_is_swept(tmp_path):
    import subprocess

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"bench-task-{gone.pid}-abc"
    live = tmp_path / f"bench-task-{os.getpid()}-def"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "task.pkl").write_bytes(b"x")
    assert sweep_task_folders(tmp_path) == [stale]
    assert _task_folders(tmp_path) == [live]
