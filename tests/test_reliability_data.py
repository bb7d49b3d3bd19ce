"""Data reliability: new flux under the same ids reruns the cells, ingest workers die with
their parent, a download is complete only when its FITS structure is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.results.report import load_report
from bench.run.cellkey import data_fingerprint
from bench.spectra import ArraySource, SpectrumSource
from tests.fixtures.sdss_files import write_spec_lite
from tests.plugins import toy

SDSS_CONFIG = """
[benchmark]
name = "flux"

[dataset]
name = "sdss"
path = ["{data}"]

[[models]]
name = "centroid"
render = {{ name = "flat" }}

[protocol]
train_fractions = [0.6]
epochs = [1]
seeds = [0]
validation_fraction = 0.0  # a handful of files cannot be split three ways
"""


@pytest.fixture(autouse=True)
def _no_html(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.results import html as html_report

    monkeypatch.setattr(html_report, "write_html", lambda report, out_dir: None)


def _write(folder: Path, n: int, seed: int) -> list[Path]:
    labels = ["STAR", "GALAXY", "QSO"]
    return [
        write_spec_lite(folder / f"s{i:02d}.fits", label=labels[i % 3], fiber=i + 1, seed=seed + i)
        for i in range(n)
    ]


def test_new_flux_under_the_same_ids_labels_sizes_and_mtimes_reruns_the_cells(
    toy_registry, tmp_path
):
    data, out = tmp_path / "data", tmp_path / "run"
    files = _write(data, 24, seed=0)
    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(SDSS_CONFIG.format(data=data)))

    def reused() -> list[bool]:
        assert main(["run", str(config), "--out", str(out)]) == 0
        return [r["reused"] for r in load_report(out / "report.json")["results"]]

    assert reused() == [False]
    assert reused() == [True]
    stats = [f.stat() for f in files]
    _write(data, 24, seed=1000)  # every file's flux replaced, nothing else
    for f, st in zip(files, stats, strict=True):
        assert f.stat().st_size == st.st_size
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert reused() == [False]


def test_the_fingerprint_follows_a_source_stamp_and_a_sample_of_the_flux():
    source = toy.ToyDataset(n=30).open()
    base = data_fingerprint(source)
    assert data_fingerprint(toy.ToyDataset(n=30).open()) == base
    changed = toy.ToyDataset(n=30).open()
    changed.batch.flux[:] += 1.0
    assert data_fingerprint(changed) != base
    stamped = toy.ToyDataset(n=30).open()
    stamped._fingerprint = "files changed"
    assert data_fingerprint(stamped) != base


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_a_two_worker_ingest_leaves_no_process_behind(tmp_path, sig):
    data = tmp_path / "data"
    data.mkdir()
    [one] = _write(tmp_path, 1, seed=0)
    for i in range(3000):  # enough to keep both workers busy for many seconds
        os.link(one, data / f"s{i:04d}.fits")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "data", "ingest", str(data), "--cache",
         str(tmp_path / "cache"), "--workers", "2"],
        env={**os.environ, "BENCH_LOAD_PLUGINS": ""},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline, workers = time.monotonic() + 60, set()
    while len(workers) < 3:  # the fork server and its two workers
        assert proc.poll() is None and time.monotonic() < deadline, "no worker started"
        time.sleep(0.1)
        workers = _descendants(proc.pid)
    time.sleep(1.0)  # the workers are inside the blocking read
    workers = _descendants(proc.pid)
    proc.send_signal(sig)
    proc.wait(timeout=10)
    time.sleep(5)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # do not leave them to the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(workers)} processes still running 5 s after the kill"


class _Reading(SpectrumSource):
    """A source with no content hash of its own, counting the spectra it is asked for."""

    def __init__(self, inner: ArraySource) -> None:
        self.inner, self.seen = inner, []
        self.ids, self.labels = inner.ids, inner.labels
        self.redshift, self.loglam = inner.redshift, inner.loglam

    def read(self, index):  # type: ignore[no-untyped-def]
        self.seen.extend(np.asarray(index).tolist())
        return self.inner.read(index)


def test_a_fingerprint_hashes_every_spectrum_read_once_or_none_when_the_source_keeps_a_hash():
    inner = toy.ToyDataset(n=300).open()
    reading = _Reading(inner)
    data_fingerprint(reading)
    assert sorted(reading.seen) == list(range(len(inner)))  # each spectrum, once
    inner.read = lambda index: pytest.fail("an in-memory source is hashed, not read")  # type: ignore[method-assign]
    data_fingerprint(inner)
    assert np.all(np.isfinite(inner.batch.flux))  # nothing changed by hashing


# -- a full disk during `bench data ingest` ---------------------------------------------


def _die_as_on_a_full_disk(*args: object) -> None:
    """Stands in for ingest_chunk in a worker: dies as a write to an unbacked map does."""
    os.kill(os.getpid(), signal.SIGBUS)


def _no_space(*args: object, **kwargs: object) -> None:
    raise OSError(28, os.strerror(28))  # ENOSPC, as posix_fallocate or a write says it


def _ingest_cli(data: Path, cache: Path, workers: int) -> int:
    return main(["data", "ingest", str(data), "--cache", str(cache), "--workers", str(workers)])


def _cache_state(cache: Path) -> tuple[list[str], str]:
    return sorted(p.name for p in cache.iterdir()), (cache / "index.json").read_text()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("where", ["reserve", "index"])
def test_a_full_disk_during_ingest_is_one_line_and_leaves_the_cache_as_it_was(
    tmp_path, monkeypatch, capsys, workers, where
):
    """Without root, a full disk is an ENOSPC from the call that reserves the shard's
    space (os.posix_fallocate) or from writing the index (np.savez)."""
    import bench_plugins.sdss.cache as cache_module

    data, cache = tmp_path / "data", tmp_path / "cache"
    _write(data, 3, seed=0)
    assert _ingest_cli(data, cache, 1) == 0
    before = _cache_state(cache)
    write_spec_lite(data / "new.fits", label="QSO", fiber=50, seed=50)
    capsys.readouterr()
    if where == "reserve":
        monkeypatch.setattr(os, "posix_fallocate", _no_space)
    else:
        monkeypatch.setattr(cache_module.np, "savez", _no_space)
    assert _ingest_cli(data, cache, workers) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{cache}: cannot write the spectrum cache (No space left on device)" in err
    assert _cache_state(cache) == before  # no .tmp shard, no new shard, the same index
    monkeypatch.undo()
    assert _ingest_cli(data, cache, workers) == 0  # once there is room, it just works
    assert "1 files ingested, 3 unchanged" in capsys.readouterr().err


def test_a_worker_killed_by_sigbus_is_one_line_not_a_broken_pool(tmp_path, monkeypatch, capsys):
    import bench_plugins.sdss.cache as cache_module

    data, cache = tmp_path / "data", tmp_path / "cache"
    _write(data, 4, seed=0)
    monkeypatch.setattr(cache_module, "ingest_chunk", _die_as_on_a_full_disk)
    assert _ingest_cli(data, cache, 2) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "BrokenProcessPool" not in err
    assert f"{cache}: cannot write the spectrum cache (a worker process died" in err
    assert not [p for p in cache.iterdir() if p.name.startswith("shard-")]


# -- sizes bounded by memory ---------------------------------------------------------------


BIG_SYNTHETIC = """
[benchmark]
name = "big"

[dataset]
name = "synthetic"
n = 2000000

[[models]]
name = "logreg"

[protocol]
train_fractions = [0.6]
epochs = [1]
seeds = [0]
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as on Linux")
def test_a_synthetic_dataset_too_large_for_memory_is_refused_before_the_run(tmp_path):
    """2,000,000 spectra under a 3 GB memory limit (``ulimit -v``): one line with the
    estimate, exit 2, no run folder, in seconds rather than minutes of creeping memory."""
    import resource

    config = tmp_path / "big.toml"
    config.write_text(BIG_SYNTHETIC)
    limit = 3 * 10**9

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", str(config), "--out", str(tmp_path / "out")],
        env={**os.environ, "BENCH_LOAD_PLUGINS": ""}, preexec_fn=limit_memory,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "synthetic.n: 2,000,000 spectra need about 104.2 GiB of memory" in line
    assert "GiB available; use n <= " in line
    assert not (tmp_path / "out").exists()


def test_the_synthetic_memory_bound_follows_what_is_available():
    from bench.errors import BenchError
    from bench_plugins.synthetic.dataset import SPECTRUM_BYTES, check_memory

    check_memory(3000, 1 << 30)  # the default size fits in 1 GiB
    check_memory(2_000_000, None)  # nothing known: no bound
    with pytest.raises(BenchError, match=r"use n <= 19,\d\d\d"):
        check_memory(20_000, 1 << 30)
    assert SPECTRUM_BYTES == 4649 * 12
