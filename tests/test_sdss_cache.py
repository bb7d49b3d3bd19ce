"""The on-disk spectrum cache: identical arrays on reload, re-ingest of changed files only."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench.errors import BenchError
from bench.readers import read_batch
from bench.spectra import boss_grid
from bench_plugins.sdss.cache import SpectrumCache
from bench_plugins.sdss.dataset import SdssDataset
from tests.fixtures.sdss_files import write_spec_lite


def _files(folder: Path, n: int = 12) -> list[Path]:
    rng = np.random.default_rng(1)
    labels = ["STAR", "GALAXY", "QSO"]
    out = []
    for i in range(n):
        start = int(rng.integers(0, 300))
        out.append(
            write_spec_lite(
                folder / f"s{i:02d}.fits", label=labels[i % 3], redshift=float(rng.uniform(0, 3)),
                fiber=i + 1, loglam=boss_grid()[start : start + 3000], seed=i,
            )
        )  # fmt: skip
    return out


def test_ingest_then_reload_gives_identical_arrays(tmp_path: Path) -> None:
    files = _files(tmp_path / "data")
    report = SpectrumCache(tmp_path / "cache").ingest(files, chunk=5)
    assert (report.ingested, report.unchanged, report.problems) == (len(files), 0, [])
    expected, _ = read_batch(files, boss_grid())
    source = SdssDataset(path=[str(tmp_path / "data")], cache_dir=str(tmp_path / "cache")).open()
    order = np.arange(len(files))[::-1]
    batch = source.read(order)
    for name in ("flux", "ivar", "mask"):
        np.testing.assert_array_equal(getattr(batch, name), getattr(expected, name)[order])
    assert batch.ids.tolist() == expected.ids[order].tolist()
    assert batch.labels.tolist() == expected.labels[order].tolist()
    np.testing.assert_array_equal(source.redshift, expected.redshift)


def test_reingest_skips_unchanged_and_redoes_changed(tmp_path: Path) -> None:
    files = _files(tmp_path / "data", n=6)
    cache = SpectrumCache(tmp_path / "cache")
    cache.ingest(files)
    again = SpectrumCache(tmp_path / "cache").ingest(files)
    assert (again.ingested, again.unchanged) == (0, len(files))
    write_spec_lite(
        files[2],
        label="STAR",
        fiber=3,
        flux=np.full(3000, 7.0, np.float32),
        loglam=boss_grid()[:3000],
    )
    os.utime(files[2], ns=(1, 10**18))  # a different mtime whatever the clock did
    reopened = SpectrumCache(tmp_path / "cache")
    report = reopened.ingest(files)
    assert (report.ingested, report.unchanged) == (1, len(files) - 1)
    entry = reopened.entry(files[2])
    assert entry["label"] == "STAR" and entry["shard"] == 1
    np.testing.assert_array_equal(reopened.array(1, "flux")[entry["row"], :3000], 7.0)


def test_problems_are_recorded_and_do_not_stop_the_rest(tmp_path: Path) -> None:
    files = _files(tmp_path / "data", n=4)
    (tmp_path / "data" / "broken.fits").write_bytes(b"garbage")
    far = boss_grid()[-1] + 0.01 + 1e-4 * np.arange(500)  # entirely redder than the BOSS grid
    write_spec_lite(tmp_path / "data" / "red.fits", loglam=far)
    write_spec_lite(tmp_path / "data" / "sky.fits", label="SKY", fiber=99)
    source = SdssDataset(
        path=[str(tmp_path / "data")], cache_dir=str(tmp_path / "c"), workers=2
    ).open()
    assert len(source) == len(files)
    reasons = {Path(f["path"]).name: f["reason"] for f in source.describe()["failures"]}  # type: ignore[attr-defined,index]
    assert set(reasons) == {"broken.fits", "red.fits"}
    assert "unreadable" in reasons["broken.fits"] and "no valid pixels" in reasons["red.fits"]
    assert source.describe()["dropped"] == {"class not in classes": 1}
    problems = dict(SpectrumCache(tmp_path / "c").ingest([tmp_path / "data" / "sky.fits"]).problems)
    assert problems == {}  # unchanged: not read again
    sky = SpectrumCache(tmp_path / "c").entry(tmp_path / "data" / "sky.fits")
    assert "unknown class 'SKY'" in sky["problem"] and sky["row"] >= 0


def test_parallel_ingest_matches_serial(tmp_path: Path) -> None:
    files = _files(tmp_path / "data", n=9)
    serial, parallel = SpectrumCache(tmp_path / "a"), SpectrumCache(tmp_path / "b")
    serial.ingest(files, workers=1, chunk=4)
    parallel.ingest(files, workers=2, chunk=4)
    for a, b in zip(map(serial.entry, files), map(parallel.entry, files), strict=True):
        assert a["row"] == b["row"] and a["id"] == b["id"]
        np.testing.assert_array_equal(
            serial.array(0, "flux")[a["row"]], parallel.array(0, "flux")[b["row"]]
        )
    assert not list(tmp_path.glob("*/*.tmp"))


def test_cache_on_another_grid_is_refused(tmp_path: Path) -> None:
    files = _files(tmp_path / "data", n=1)
    SpectrumCache(tmp_path / "c").ingest(files)
    with pytest.raises(BenchError, match="different wavelength grid"):
        SpectrumCache(tmp_path / "c", grid=boss_grid()[:100])


def test_add_batches_then_stream_any_order_with_repeats(tmp_path: Path) -> None:
    from bench.spectra import ArraySource

    batch, _ = read_batch(_files(tmp_path / "data", n=7), boss_grid())
    cache = SpectrumCache(tmp_path / "c")
    halves = [batch.take(np.arange(4)), batch.take(np.arange(4, 7))]
    assert cache.add_batches(halves, n=7, key="mem") == 7
    source = SpectrumCache(tmp_path / "c").source()
    index = np.array([6, 0, 3, 3, 5, 1])
    got, want = source.read(index), ArraySource(batch).read(index)
    for name in ("flux", "ivar", "mask"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    assert got.ids.tolist() == want.ids.tolist() and got.labels.tolist() == want.labels.tolist()
