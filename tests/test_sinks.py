"""Result sinks: the hook, the report writers as sinks, a failing sink never fails the
run, and the MLflow sink logging a run that MLflow's own client reads back."""

from __future__ import annotations

import json

import pytest

from bench import hookimpl
from bench.cli import main
from bench.interfaces import ResultSink
from bench.plugins import manager
from bench.results.sinks import result_sinks
from tests.plugins import toy
from tests.test_core import CONFIG, write


class Recording(ResultSink):
    name = "recording"
    seen: list[str] = []

    def cell_finished(self, *, run_dir, result):  # type: ignore[no-untyped-def]
        self.seen.append(f"cell {result['cell']['id']} {result['status']}")

    def run_finished(self, *, run_dir, report):  # type: ignore[no-untyped-def]
        self.seen.append(f"run {report['summary']['n_cells']}")


class Broken(ResultSink):
    name = "broken"

    def run_finished(self, *, run_dir, report):  # type: ignore[no-untyped-def]
        raise OSError("disk full\nsecond line")


class SinkPlugin:
    @hookimpl
    def register_result_sinks(self, register):  # type: ignore[no-untyped-def]
        register(Recording)
        register(Broken)


@pytest.fixture
def registry(monkeypatch):
    import sys
    import types

    module = types.ModuleType("tests_sink_plugin")
    module.register_result_sinks = SinkPlugin().register_result_sinks  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests_sink_plugin", module)
    reg = manager.get_registry(extra=[toy, module], third_party=False)
    monkeypatch.setattr(manager, "_overrides", [reg])
    Recording.seen = []
    return reg


def test_report_writers_are_sinks_and_plugins_add_theirs(registry):
    from bench.cli.main import INTERNAL_PLUGINS

    names = [
        sink.name
        for sink in result_sinks(manager.with_internal_plugins(registry, INTERNAL_PLUGINS))
    ]
    assert names[:2] == ["objects_table", "report_html"]  # the core's internal plugin, first
    assert set(names[2:]) == {"recording", "broken"}
    assert [sink.name for sink in result_sinks(registry)] == names[2:]  # no special case


def test_sinks_see_every_cell_and_a_failing_sink_is_one_line(registry, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)]) == 1  # broken cells
    report = json.loads((out / "report.json").read_text())
    cells = [line for line in Recording.seen if line.startswith("cell ")]
    assert len(cells) == report["summary"]["n_cells"]
    assert Recording.seen[-1] == f"run {report['summary']['n_cells']}"
    err = capsys.readouterr().err
    assert "error: sink broken: OSError: disk full" in err and "second line" not in err
    assert (out / "report.html").exists()  # the other sinks still ran


class Exiting(ResultSink):
    name = "exiting"

    def run_finished(self, *, run_dir, report):  # type: ignore[no-untyped-def]
        raise SystemExit(0)


class SelfInterrupting(ResultSink):
    name = "self_interrupting"

    def run_finished(self, *, run_dir, report):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # raised by code, not by a Ctrl-C


class CtrlC(ResultSink):
    name = "ctrl_c"

    def run_finished(self, *, run_dir, report):  # type: ignore[no-untyped-def]
        import os
        import signal
        import time

        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the signal interrupts this


def test_a_sink_that_exits_or_interrupts_itself_is_one_line_and_the_others_run(tmp_path):
    from bench.results.sinks import SinkEvents
    from bench.run.events import SilentEvents

    Recording.seen = []
    events = SinkEvents(SilentEvents(), [Exiting(), SelfInterrupting(), Recording()], tmp_path)
    errors = events.run_finished({"summary": {"n_cells": 3}})
    assert errors == [
        "sink exiting: SystemExit: 0",
        "sink self_interrupting: KeyboardInterrupt",
    ]
    assert Recording.seen == ["run 3"]


def test_a_real_ctrl_c_during_a_sink_still_stops_the_run(tmp_path):
    from bench.results.sinks import SinkEvents
    from bench.run.events import SilentEvents

    Recording.seen = []
    events = SinkEvents(SilentEvents(), [CtrlC(), Recording()], tmp_path)
    with pytest.raises(KeyboardInterrupt):
        events.run_finished({"summary": {"n_cells": 1}})
    assert Recording.seen == []


def test_a_sink_calling_sys_exit_does_not_end_bench_run(registry, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Recording, "run_finished", Exiting.run_finished)
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)]) == 1  # broken cells
    err = capsys.readouterr().err
    assert "sink recording: SystemExit: 0" in err
    assert "sink broken: OSError: disk full" in err  # the sink after it still ran
    assert (out / "report.json").exists() and (out / "report.html").exists()


def test_mlflow_sink_logs_a_run_read_back_by_mlflows_client(toy_registry, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    store = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # the sink opts in for file:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "bench-test")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    reg = manager.get_registry(extra=[toy], third_party=False)  # mlflow: a built-in entry point
    monkeypatch.setattr(manager, "_overrides", [reg])
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)]) == 1
    report = json.loads((out / "report.json").read_text())

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("bench-test")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == report["summary"]["n_cells"]
    parent = parents[0]
    assert parent.info.status == "FAILED"  # some cells failed
    assert parent.info.run_name == "run" and parent.data.tags["bench.benchmark"] == "toy"
    assert {"report.json", "report.html"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)
    }
    ok = next(r for r in report["results"] if r["status"] == "ok")
    child = next(r for r in children if r.info.run_name == ok["cell"]["id"])
    assert child.data.params["model"] == ok["cell"]["model"]
    model_spec = next(m for m in report["config"]["models"] if m["label"] == ok["cell"]["model"])
    for option, value in model_spec["params"].items():  # every model option
        assert child.data.params[f"model.{option}"] == _as_param(value)
    for option, value in report["config"]["protocol"].items():  # every protocol option
        assert parent.data.params[f"protocol.{option}"] == _as_param(value)
        assert child.data.params[f"protocol.{option}"] == _as_param(value)
    commit = report["provenance"]["git_commit"] or "unknown"
    assert parent.data.tags["bench.commit"] == child.data.tags["bench.commit"] == commit
    assert child.data.tags["bench.benchmark"] == "toy"
    assert child.data.metrics["test_accuracy"] == pytest.approx(ok["metrics"]["accuracy"])
    history = client.get_metric_history(child.info.run_id, "loss")
    assert [m.step for m in history] == list(range(1, ok["cell"]["epochs"] + 1))
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"model", "confusion_matrix.png", "predictions.csv"} <= artifacts
    failed = [r for r in children if r.info.status == "FAILED"]
    assert len(failed) == report["summary"]["failed"]
    assert list(elsewhere.iterdir()) == []  # no ./mlruns in the current folder


def _as_param(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("uri", ["sqlite:///{tmp}/mlflow.db", "file:///dev/null/not-a-dir"])
def test_mlflow_store_that_cannot_open_is_one_line_and_the_run_finishes(
    toy_registry, tmp_path, monkeypatch, capsys, uri
):
    """mlflow-skinny has no SQL store, and a file store may be unwritable: either way one
    warning line, the report written, the exit code the cells' own (1: a broken model)."""
    pytest.importorskip("mlflow")
    import importlib.util

    if uri.startswith("sqlite") and importlib.util.find_spec("sqlalchemy") is not None:
        pytest.skip("full mlflow installed: the sqlite store opens")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri.format(tmp=tmp_path))
    monkeypatch.chdir(tmp_path)
    reg = manager.get_registry(extra=[toy], third_party=False)
    monkeypatch.setattr(manager, "_overrides", [reg])
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)]) == 1
    assert (out / "report.json").exists() and (out / "report.html").exists()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "sink mlflow" in line]
    assert len(lines) == 1 and "Traceback" not in err
    assert "MLflow cannot use" in lines[0] or "mlflow-skinny" in lines[0]
    assert not (tmp_path / "mlruns").exists()


def test_mlflow_sink_is_an_entry_point_and_off_without_a_tracking_uri(monkeypatch):
    import tomllib

    from bench_plugins.mlflow_sink import MlflowSink
    from tests.conftest import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["bench"]["mlflow"] == "bench_plugins.mlflow_sink"
    assert "mlflow" in project["optional-dependencies"]
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert not MlflowSink.enabled()
