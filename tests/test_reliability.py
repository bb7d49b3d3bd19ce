"""Nothing finished is ever lost: a bad plugin fails its own cell, a failed report keeps the
cells, `--fresh` replaces a cell atomically, a full disk fails one cell, files honour the
umask, and the lock is taken by exactly one of many racing runs."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.results.report import load_report
from bench.store import files as bench_io
from bench.store import rundir
from tests.test_resume import TOY_CONFIG, _files, _reused

ROOT = Path(__file__).resolve().parents[1]
CELL = "toy__centroid__f0.7__e1__s0"


@pytest.fixture(autouse=True)
def _no_html(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.results import html as html_report

    monkeypatch.setattr(html_report, "write_html", lambda report, out_dir: None)


def _config(tmp_path: Path, text: str = TOY_CONFIG) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(text))
    return path


def _run(config: Path, out: Path, *flags: str) -> int:
    return main(["run", str(config), "--out", str(out), *flags])


@pytest.mark.parametrize("bad", ["no_val_loss", "nan", "unnormalised"])
def test_a_plugin_with_broken_output_fails_its_own_cells_and_the_report_is_written(
    toy_registry, tmp_path, capsys, bad
):
    text = TOY_CONFIG.replace(
        '[[models]]\nname = "centroid"\nrender = { name = "flat" }',
        '[[models]]\nname = "centroid"\nrender = { name = "flat" }\n\n'
        f'[[models]]\nname = "centroid"\nlabel = "broken"\nbad_output = "{bad}"\n'
        'render = { name = "flat" }',
    )
    out = tmp_path / "run"
    assert _run(_config(tmp_path, text), out) == 1
    report = load_report(out / "report.json")
    status = {r["cell"]["model"]: set() for r in report["results"]}
    for r in report["results"]:
        status[r["cell"]["model"]].add(r["status"])
    assert status == {"centroid": {"ok"}, "broken": {"failed"}}
    failed = [r for r in report["results"] if r["status"] == "failed"]
    assert all(r["error"]["type"] == "PluginOutputError" for r in failed)
    word = {"no_val_loss": "val_loss", "nan": "NaN", "unnormalised": "sum"}[bad]
    assert word in failed[0]["error"]["message"] and "'centroid'" in failed[0]["error"]["message"]
    assert (out / "report.md").is_file()
    assert not list((out / "cells").glob("*broken*"))  # nothing stored for a broken cell


def test_a_report_that_cannot_be_written_keeps_the_cells(
    toy_registry, tmp_path, capsys, monkeypatch
):
    from bench.results import report as report_module

    real = report_module.write_report

    def broken(report, out_dir):
        raise BenchError("report: does not follow bench.report/1 at results/0: broken")

    monkeypatch.setattr(report_module, "write_report", broken)
    out = tmp_path / "run"
    assert _run(_config(tmp_path), out) == 2
    err = capsys.readouterr().err
    assert "report.json: not written" in err and "4 finished cells are kept" in err
    assert "Traceback" not in err
    progress = ("ok ", "... ")  # one line per finished cell and per stage (no terminal)
    assert [line for line in err.splitlines() if not line.startswith(progress)] == [
        line for line in err.splitlines() if "report.json: not written" in line
    ]
    assert len(rundir.RunDir(out).finished_cells()) == 4
    assert not (out / ".lock").exists()
    monkeypatch.setattr(report_module, "write_report", real)
    assert _run(tmp_path / "bench.toml", out) == 0
    assert all(_reused(load_report(out / "report.json")).values())


def test_a_full_disk_in_one_cell_fails_that_cell_only(toy_registry, tmp_path, monkeypatch):
    real = rundir.write_csv

    def full_disk(path, header, rows):
        if path.parent.name == f".tmp-{CELL}":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, header, rows)

    monkeypatch.setattr(rundir, "write_csv", full_disk)
    out = tmp_path / "run"
    assert _run(_config(tmp_path), out) == 1
    report = load_report(out / "report.json")
    failed = [r for r in report["results"] if r["status"] == "failed"]
    assert [r["cell"]["id"] for r in failed] == [CELL]
    assert "no space left" in failed[0]["error"]["message"]
    assert report["summary"]["ok"] == 3
    assert not list((out / "cells").glob(".tmp-*")) and not (out / "cells" / CELL).exists()


KILL_IN_WINDOW = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
os.environ["BENCH_LOAD_PLUGINS"] = ""
from bench.plugins import manager
from tests.plugins import toy
_toy = manager.using_registry(manager.get_registry(extra=[toy], third_party=False))
_toy.__enter__()
real_rename, real_rmtree = Path.rename, __import__("shutil").rmtree
def rename(self, target):
    if {window!r} == "before" and self.name.startswith(".tmp-"):
        os.kill(os.getpid(), signal.SIGKILL)  # the old cell is aside, the new not in place
    return real_rename(self, target)
def rmtree(path, *a, **k):
    if {window!r} == "after" and Path(path).name.startswith(".old-") and Path(path).exists():
        os.kill(os.getpid(), signal.SIGKILL)  # the new cell is in place, the old not deleted
    return real_rmtree(path, *a, **k)
Path.rename = rename
import shutil; shutil.rmtree = rmtree
from bench.cli import main
main(["run", {config!r}, "--out", {out!r}, "--fresh"])
"""


@pytest.mark.parametrize("window", ["before", "after"])
def test_kill_9_inside_the_fresh_replace_window_loses_no_cell(toy_registry, tmp_path, window):
    config, out = _config(tmp_path), tmp_path / "run"
    assert _run(config, out) == 0
    cells = out / "cells"
    before = {p.name: _files(p) for p in cells.iterdir()}
    script = KILL_IN_WINDOW.format(root=str(ROOT), window=window, config=str(config), out=str(out))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert list(cells.glob(".old-*")), "the kill did not land in the replace window"
    assert _run(config, out) == 0
    report = load_report(out / "report.json")
    assert report["summary"] == {"n_cells": 4, "ok": 4, "failed": 0}
    assert all(_reused(report).values())  # old or new, a complete cell was there to reuse
    assert sorted(p.name for p in cells.iterdir()) == sorted(before)
    if window == "before":  # the old cell came back exactly as it was
        assert {p.name: _files(p) for p in cells.iterdir()} == before


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_files_honour_the_umask(toy_registry, tmp_path, mask):
    old = os.umask(mask)
    bench_io.umask.cache_clear()
    try:
        out = tmp_path / "run"
        assert _run(_config(tmp_path), out) == 0
    finally:
        os.umask(old)
        bench_io.umask.cache_clear()
    expected = 0o666 & ~mask
    for path in [out / "report.json", out / "report.md", out / "cells" / CELL / "metrics.json"]:
        assert path.stat().st_mode & 0o777 == expected, path


RACE = """
import multiprocessing as mp, os, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from bench.store.rundir import RunDir
N = 50
real_kill = os.kill
def slow_kill(pid, sig):
    time.sleep(0.05)  # a slow liveness check: widens any check-then-act window
    return real_kill(pid, sig)
def racer(barrier, wins):
    os.kill = slow_kill
    barrier.wait()
    try:
        RunDir(Path({out!r})).take_lock(lambda msg: None)
    except Exception:
        os._exit(0)
    with wins.get_lock():
        wins.value += 1
    time.sleep(1.5)  # hold it while the others try
    os._exit(0)
ctx = mp.get_context("fork")
barrier, wins = ctx.Barrier(N), ctx.Value("i", 0)
procs = [ctx.Process(target=racer, args=(barrier, wins)) for _ in range(N)]
for p in procs: p.start()
for p in procs: p.join()
print(wins.value)
"""


def test_fifty_racing_takeovers_of_a_stale_lock_exactly_one_wins(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(f"{dead.pid} {os.uname().nodename}\n")
    script = RACE.format(root=str(ROOT), out=str(out))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.strip()) == 1
    owner = (out / ".lock").read_text().split()
    assert owner[0] != str(dead.pid) and json.dumps(owner)
