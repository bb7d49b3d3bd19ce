"""Executors: the toy matrix on a Dask LocalCluster matches the local executor, failures
stay in their cells, resume works across executors; data-parallel training on 2 devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import hookimpl
from bench.cli import main
from bench.config import resolve_config
from bench.errors import BenchError
from bench.executors import Executor
from bench.plugins import manager
from bench.plugins.registry import Registry
from tests.plugins import toy

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
TOY = """
[benchmark]
name = "toy"

[dataset]
name = "toy"
n = 90

[[models]]
name = "pid_centroid"
render = { name = "flat" }

[[models]]
name = "centroid"
label = "broken"
fail = true
render = { name = "flat" }

[protocol]
train_fractions = [0.6, 0.8]
epochs = [1, 2]
seeds = [0]
batch_size = 16
"""


class PidCentroid(toy.CentroidModel):
    """The toy centroid model, saying which process trained it."""

    name = "pid_centroid"

    def describe(self):  # type: ignore[no-untyped-def]
        return {"pid": os.getpid()}


class Reversed(Executor):
    """Runs the tasks in this process, last first: results come back out of order."""

    name = "reversed"

    def map(self, fn, tasks):  # type: ignore[no-untyped-def]
        for task in reversed(list(tasks)):
            yield fn(task)


class LosesWorkers(Executor):
    """Runs the first task, then fails as a cluster does when its workers die."""

    name = "loses_workers"

    def map(self, fn, tasks):  # type: ignore[no-untyped-def]
        yield fn(tasks[0])
        raise OSError("worker tcp://10.0.0.9:40000 died")


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    register(PidCentroid)


@hookimpl
def register_executors(register):  # type: ignore[no-untyped-def]
    register(Reversed)
    register(LosesWorkers)


@pytest.fixture
def registry() -> Iterator[Registry]:
    """Built-ins, tests/plugins/toy.py and this module: rebuilt by name in dask workers."""
    extra = [toy, sys.modules[__name__]]
    with manager.using_registry(manager.get_registry(extra=extra, third_party=False)) as registry:
        yield registry


@pytest.fixture(scope="module")
def scheduler():
    """One 2-worker LocalCluster (processes) for the module; yields its address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def run(tmp_path: Path, out: str, executor: str = "") -> tuple[int, dict]:
    path = tmp_path / f"{out}.toml"
    path.write_text(textwrap.dedent(TOY) + textwrap.dedent(executor))
    code = main(["run", str(path), "--out", str(tmp_path / out)])
    return code, json.loads((tmp_path / out / "report.json").read_text())


def by_id(report: dict) -> dict[str, dict]:
    return {r["cell"]["id"]: r for r in report["results"]}


def test_dask_matches_local_and_isolates_failing_cells(registry, scheduler, tmp_path):
    code_local, local = run(tmp_path, "local")
    code_dask, dask = run(tmp_path, "dask", f'[executor]\nname = "dask"\naddress = "{scheduler}"\n')
    assert code_local == code_dask == 1  # the broken model fails on both
    # results come back in matrix order whatever order the workers finish in
    assert [r["cell"]["id"] for r in dask["results"]] == [r["cell"]["id"] for r in local["results"]]
    ok = [r for r in dask["results"] if r["status"] == "ok"]
    assert len(ok) == 4 and dask["summary"] == local["summary"] == {
        "n_cells": 8,
        "ok": 4,
        "failed": 4,
    }
    for cell_id, result in by_id(local).items():
        other = by_id(dask)[cell_id]
        assert other["status"] == result["status"]
        if result["status"] == "ok":
            assert other["metrics"] == result["metrics"]
            assert other["cache_key"] == result["cache_key"]
            assert result["model_info"]["pid"] == os.getpid()
            assert other["model_info"]["pid"] != os.getpid()  # trained in a dask worker
        else:
            assert other["error"]["type"] == "RuntimeError"
            assert (
                "centroid asked to fail" in (tmp_path / "dask" / other["error"]["log"]).read_text()
            )


KERAS = """
[benchmark]
name = "keras"
[dataset]
name = "synthetic"
n = 60
[[models]]
name = "mnist_cnn"
image_size = [16, 16]
[protocol]
epochs = [1]
train_fractions = [0.6, 0.8]
"""


def test_dask_repeats_keras_training_bit_for_bit(registry, scheduler, tmp_path):
    """Keras draws default seeds from Python's global random, which dask's own threads
    also use: each run trains in a fresh process on its worker, so results repeat."""
    reports = {}
    for name, table in (
        ("local", ""),
        ("dask", f'[executor]\nname = "dask"\naddress = "{scheduler}"\n'),
    ):
        path = tmp_path / f"{name}.toml"
        path.write_text(KERAS + table)
        assert main(["run", str(path), "--out", str(tmp_path / name)]) == 0
        reports[name] = by_id(json.loads((tmp_path / name / "report.json").read_text()))
    assert reports["dask"].keys() == reports["local"].keys() and len(reports["local"]) == 2
    for cell_id, result in reports["local"].items():
        assert reports["dask"][cell_id]["history"] == result["history"]
        assert reports["dask"][cell_id]["metrics"] == result["metrics"]


def test_resume_across_executors(registry, scheduler, tmp_path):
    dask_table = f'[executor]\nname = "dask"\naddress = "{scheduler}"\nisolate = false\n'
    run(tmp_path, "out", dask_table)
    _, again = run(tmp_path, "out")  # local reuses what dask workers wrote
    ok = [r for r in again["results"] if r["status"] == "ok"]
    assert ok and all(r["reused"] for r in ok)
    assert all(r["model_info"]["pid"] != os.getpid() for r in ok)
    _, third = run(tmp_path, "out", dask_table)  # and dask reuses them without training
    assert [r["reused"] for r in third["results"] if r["status"] == "ok"] == [True] * len(ok)


def test_an_executor_plugin_returning_out_of_order_keeps_matrix_order(registry, tmp_path):
    _, local = run(tmp_path, "local")
    _, reversed_ = run(tmp_path, "rev", '[executor]\nname = "reversed"\n')
    assert [r["cell"]["id"] for r in reversed_["results"]] == [
        r["cell"]["id"] for r in local["results"]
    ]
    assert [r.get("metrics") for r in reversed_["results"]] == [
        r.get("metrics") for r in local["results"]
    ]


def test_a_lost_worker_fails_only_the_unfinished_cells(registry, tmp_path):
    code, report = run(tmp_path, "lost", '[executor]\nname = "loses_workers"\n')
    assert code == 1
    first, rest = report["results"][:2], report["results"][2:]
    assert [r["status"] for r in first] == ["ok", "ok"]  # the first training run's two cells
    assert {r["error"]["type"] for r in rest} == {"OSError"}
    assert all("died" in r["error"]["message"] for r in rest)
    assert (tmp_path / "lost" / rest[0]["error"]["log"]).is_file()


def test_dask_starts_its_own_local_cluster(registry, tmp_path):
    table = '[executor]\nname = "dask"\nn_workers = 1\nisolate = false\n'
    code, report = run(tmp_path, "own", table)
    assert code == 1
    ok = [r for r in report["results"] if r["status"] == "ok"]
    assert len(ok) == 4 and all(r["model_info"]["pid"] != os.getpid() for r in ok)
    assert report["config"]["executor"] == {
        "name": "dask",
        "params": {"address": None, "n_workers": 1, "isolate": False},
    }


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "dsak"}, "[executor].name: unknown executor 'dsak' (did you mean 'dask'?)"),
        ({"name": "dask", "workers": 2}, "unknown option 'workers'"),
        ({"name": "dask", "n_workers": 0}, "n_workers: 0 is not valid; expected an integer >= 1"),
    ],
)
def test_bad_executor_tables_name_the_key(registry, table, message):
    raw = {"dataset": {"name": "toy"}, "models": [{"name": "centroid"}], "executor": table}
    with pytest.raises(BenchError, match="bench.toml") as info:
        resolve_config(raw, "bench.toml", registry)
    assert message in str(info.value)


def test_without_an_executor_table_the_default_executor_runs(registry):
    raw = {"dataset": {"name": "toy"}, "models": [{"name": "centroid"}]}
    assert registry.default_executor() == "local"  # the built-in class sets is_default
    assert resolve_config(raw, "bench.toml", registry).executor.name == "local"  # type: ignore[union-attr]
    problems: list[str] = []
    assert resolve_config(raw, "bench.toml", Registry(), errors=problems) is None
    assert "bench.toml: [executor]: no executor is registered as the default" in "\n".join(problems)


DATA_PARALLEL = """
import json, sys
from bench.cli import main
code = main(["run", sys.argv[1], "--out", sys.argv[2]])
import jax
from bench.plugins.manager import get_registry
model = get_registry().create("model", "mnist_cnn", {"image_size": [16, 16]}, "model")
model.build((16, 16, 1), ["STAR", "GALAXY", "QSO"], 0)
weight = model.network.trainable_weights[0].value
print(json.dumps({
    "code": code,
    "jax_devices": len(jax.local_devices()),
    "weight_devices": len(weight.sharding.device_set),
}))
"""

MNIST = """
[benchmark]
name = "dp"
[dataset]
name = "synthetic"
n = 60
[[models]]
name = "mnist_cnn"
image_size = [16, 16]
batch_size = 7
[protocol]
epochs = [1]
train_fractions = [0.75]
"""


def test_a_keras_cell_trains_data_parallel_on_two_devices(tmp_path):
    config = tmp_path / "dp.toml"
    config.write_text(MNIST)
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "BENCH_LOAD_PLUGINS": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL, str(config), str(tmp_path / "out")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts == {"code": 0, "jax_devices": 2, "weight_devices": 2}  # replicated on both
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (result,) = report["results"]
    assert result["status"] == "ok"
    assert result["model_info"]["data_parallel_devices"] == 2
    assert result["model_info"]["batch_size"] == 8  # 7 rounded up to a multiple of 2
    assert len(report["provenance"]["devices"]) == 2
    # an odd test set: the padded last batch's extra predictions are dropped
    assert result["n_test"] % 2 == 1
    counts = result["metrics"]["confusion_matrix"]["counts"]
    assert sum(map(sum, counts)) == result["n_test"]
    rows = (tmp_path / "out" / result["path"] / "predictions.csv").read_text().splitlines()
    assert len(rows) == 1 + result["n_test"]
