"""Resume after a crash: finished cells are reused by key, the rest run; stale locks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.results.report import load_report
from bench.run import cellkey as cellcache
from bench.run.cellkey import data_fingerprint
from tests.plugins import toy

SLOW_CONFIG = """
[benchmark]
name = "resume"

[dataset]
name = "synthetic"
n = 150

[render]
name = "line"

[[models]]
name = "mnist_cnn"
image_size = [16, 16]

[protocol]
train_fractions = [0.7]
epochs = [1, 3]
seeds = [0, 1, 2]
batch_size = 32
"""

TOY_CONFIG = """
[benchmark]
name = "toy"

[dataset]
name = "toy"
n = 60

[[models]]
name = "centroid"
render = { name = "flat" }

[protocol]
train_fractions = [0.7]
epochs = [1, 3]
seeds = [0, 1]
"""


@pytest.fixture(autouse=True)
def _no_html(monkeypatch: pytest.MonkeyPatch) -> None:
    """report.html is a view of report.json, tested elsewhere; skipping it saves seconds."""
    from bench.results import html as html_report

    monkeypatch.setattr(html_report, "write_html", lambda report, out_dir: None)


def _bench(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *args]


def _files(cell_dir: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every file of a cell: unchanged means not written again."""
    return {
        str(p.relative_to(cell_dir)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(cell_dir.rglob("*"))
        if p.is_file()
    }


def test_kill_9_mid_run_then_rerun_reuses_the_finished_cell(tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(SLOW_CONFIG))
    out = tmp_path / "run"
    env = {**os.environ, "BENCH_LOAD_PLUGINS": ""}
    proc = subprocess.Popen(
        _bench("run", str(config), "--out", str(out)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = out / "cells" / "synthetic__mnist_cnn__f0.7__e1__s0"
    deadline = time.monotonic() + 120
    while not (first / "metrics.json").exists():
        assert proc.poll() is None, "bench run ended before its first cell"
        assert time.monotonic() < deadline, "no cell finished in 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "report.json").exists()
    assert (out / ".lock").read_text().split()[0] == str(proc.pid)  # left behind by kill -9
    before = _files(first)
    stored = json.loads((first / "metrics.json").read_text())
    finished = {p.name for p in (out / "cells").iterdir() if (p / "metrics.json").exists()}

    rerun = subprocess.run(
        _bench("run", str(config), "--out", str(out)),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "taking over" in rerun.stdout + rerun.stderr
    report = load_report(out / "report.json")  # validates against the schema
    assert report["summary"] == {"n_cells": 6, "ok": 6, "failed": 0}
    by_id = {r["cell"]["id"]: r for r in report["results"]}
    assert {i for i, r in by_id.items() if r["reused"]} == finished
    # the finished cell was not trained, evaluated or written again
    assert _files(first) == before
    reused = by_id[first.name]
    assert stored["reused"] is False and reused == {**stored, "reused": True}
    assert reused["history"] == stored["history"] and reused["timings"] == stored["timings"]
    assert not (out / ".lock").exists()
    assert not list((out / "cells").glob(".tmp-*"))


def _run(tmp_path: Path, text: str, *flags: str) -> dict:
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(text))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), *flags]) == 0
    return load_report(out / "report.json")


def _reused(report: dict) -> dict[str, bool]:
    return {r["cell"]["id"]: r["reused"] for r in report["results"]}


def test_second_run_reuses_every_cell_without_building_a_model(toy_registry, tmp_path, monkeypatch):
    first = _run(tmp_path, TOY_CONFIG)
    assert not any(_reused(first).values())

    def no_build(*args, **kwargs):
        raise AssertionError("a model was built for a fully cached training run")

    monkeypatch.setattr(toy.CentroidModel, "build", no_build)
    second = _run(tmp_path, TOY_CONFIG)
    assert all(_reused(second).values()) and second["summary"]["ok"] == 4
    for a, b in zip(first["results"], second["results"], strict=True):
        assert a["metrics"] == b["metrics"] and a["cache_key"] == b["cache_key"]


def test_fresh_reruns_every_cell(toy_registry, tmp_path):
    _run(tmp_path, TOY_CONFIG)
    cell_dir = tmp_path / "run" / "cells" / "toy__centroid__f0.7__e1__s0"
    before = _files(cell_dir)
    report = _run(tmp_path, TOY_CONFIG, "--fresh")
    assert not any(_reused(report).values())
    assert _files(cell_dir) != before


def test_a_new_epoch_count_retrains_and_keeps_the_cached_snapshots(toy_registry, tmp_path):
    _run(tmp_path, TOY_CONFIG)
    cell_dir = tmp_path / "run" / "cells" / "toy__centroid__f0.7__e3__s1"
    before = _files(cell_dir)
    report = _run(tmp_path, TOY_CONFIG.replace("epochs = [1, 3]", "epochs = [1, 3, 5]"))
    reused = _reused(report)
    assert {i for i, r in reused.items() if not r} == {
        "toy__centroid__f0.7__e5__s0",
        "toy__centroid__f0.7__e5__s1",
    }
    assert _files(cell_dir) == before
    assert report["summary"] == {"n_cells": 6, "ok": 6, "failed": 0}


@pytest.mark.parametrize(
    "change",
    [
        ("n = 60", "n = 61"),  # dataset params (and so the data)
        ('render = { name = "flat" }', 'render = { name = "flat" }\nfail = false'),  # no-op
        ("[protocol]", "[protocol]\nbatch_size = 8"),
        ("[protocol]", "[protocol]\nmax_spectra = 50"),
    ],
)
def test_a_changed_config_reruns_and_an_unchanged_one_does_not(toy_registry, tmp_path, change):
    _run(tmp_path, TOY_CONFIG)
    report = _run(tmp_path, TOY_CONFIG.replace(*change))
    noop = "fail = false" in change[1]  # the default value resolves to the same config
    assert set(_reused(report).values()) == {noop}


@pytest.mark.parametrize("bumped", ["plugin", "library"])
def test_a_version_bump_reruns_the_cells(toy_registry, tmp_path, monkeypatch, bumped):
    _run(tmp_path, TOY_CONFIG)
    if bumped == "plugin":
        monkeypatch.setattr(toy.CentroidModel, "version", "2")
    else:
        upgraded = {**cellcache.library_versions(), "keras": "99.0"}
        monkeypatch.setattr(cellcache, "library_versions", lambda: upgraded)
    assert not any(_reused(_run(tmp_path, TOY_CONFIG)).values())


def test_failed_cells_are_always_rerun(toy_registry, tmp_path, monkeypatch):
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(TOY_CONFIG))
    out = tmp_path / "run"
    real_fit = toy.CentroidModel.fit

    def flaky_fit(self, train, validation, epochs, initial_epoch=0):
        if self.seed_seen == 1:
            raise RuntimeError("node lost")
        return real_fit(self, train, validation, epochs, initial_epoch)

    real_build = toy.CentroidModel.build

    def build(self, input_shape, classes, seed):
        self.seed_seen = seed
        return real_build(self, input_shape, classes, seed)

    monkeypatch.setattr(toy.CentroidModel, "build", build)
    monkeypatch.setattr(toy.CentroidModel, "fit", flaky_fit)
    assert main(["run", str(path), "--out", str(out)]) == 1
    monkeypatch.setattr(toy.CentroidModel, "fit", real_fit)
    report = _run(tmp_path, TOY_CONFIG)
    assert report["summary"]["failed"] == 0
    assert {i for i, r in _reused(report).items() if not r} == {
        "toy__centroid__f0.7__e1__s1",
        "toy__centroid__f0.7__e3__s1",
    }


def test_data_fingerprint_follows_ids_and_labels():
    source = toy.ToyDataset(n=30).open()
    same = toy.ToyDataset(n=30).open()
    assert data_fingerprint(source) == data_fingerprint(same)
    relabelled = toy.ToyDataset(n=30).open()
    relabelled.labels[0] = "QSO" if relabelled.labels[0] != "QSO" else "STAR"
    assert data_fingerprint(relabelled) != data_fingerprint(source)


def test_data_fingerprint_sees_one_spectrum_changed_anywhere():
    source = toy.ToyDataset(n=200).open()
    base = data_fingerprint(source)
    for i in range(len(source)):  # each one in turn, one pixel of flux, ivar or mask
        changed = toy.ToyDataset(n=200).open()
        array = (changed.batch.flux, changed.batch.ivar, changed.batch.mask)[i % 3]
        array[i, i % array.shape[1]] += 1
        assert data_fingerprint(changed) != base, i


def test_the_synthetic_fingerprint_is_its_parameters_and_generates_nothing(monkeypatch):
    from bench_plugins.synthetic.dataset import Synthetic
    from bench_plugins.synthetic.source import SyntheticSource

    base = data_fingerprint(Synthetic(n=40).open())

    def refuse(self, index):  # type: ignore[no-untyped-def]
        raise AssertionError("a synthetic fingerprint generates no spectrum")

    monkeypatch.setattr(SyntheticSource, "read", refuse)
    assert data_fingerprint(Synthetic(n=40).open()) == base
    assert data_fingerprint(Synthetic(n=40, seed=1).open()) != base
    assert data_fingerprint(Synthetic(n=40, snr_scale=2.0).open()) != base


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    ("owner", "taken_over"),
    [
        (lambda: f"{_dead_pid()} {socket.gethostname()}", True),
        (lambda: f"{os.getpid()} {socket.gethostname()}", False),  # alive
        (lambda: f"{_dead_pid()} another-host", False),  # cannot check: respected
        (lambda: "not a pid", False),
    ],
)
def test_a_stale_lock_is_taken_over_a_live_one_is_not(
    toy_registry, tmp_path, capsys, owner, taken_over
):
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(TOY_CONFIG))
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(owner())
    code = main(["run", str(path), "--out", str(out)])
    captured = capsys.readouterr()
    if taken_over:
        assert code == 0 and "is gone; taking over" in captured.out + captured.err
        assert load_report(out / "report.json")["summary"]["ok"] == 4
        assert not (out / ".lock").exists()
    else:
        assert code == 2 and "another run is writing here" in captured.err
        assert not (out / "report.json").exists() and (out / ".lock").exists()


def test_a_half_written_cell_left_by_a_kill_is_replaced(toy_registry, tmp_path):
    tmp_cell = tmp_path / "run" / "cells" / ".tmp-toy__centroid__f0.7__e1__s0"
    tmp_cell.mkdir(parents=True)
    (tmp_cell / "model").write_text("half a model")  # a file where a folder will be saved
    report = _run(tmp_path, TOY_CONFIG)
    assert report["summary"] == {"n_cells": 4, "ok": 4, "failed": 0}
    assert not tmp_cell.exists()
    assert (tmp_path / "run" / "cells" / "toy__centroid__f0.7__e1__s0" / "model").is_dir()
