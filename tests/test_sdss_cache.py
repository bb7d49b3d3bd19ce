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


def _rewrite_keeping_size_and_mtime(path: Path, seed: int) -> None:
    """New flux in ``path``; its size, atime and mtime as before."""
    st = path.stat()
    header = fits_header(path)
    write_spec_lite(path, **header, seed=seed)
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def fits_header(path: Path) -> dict[str, object]:
    """The label, fiber and grid ``write_spec_lite`` wrote ``path`` with."""
    from bench.readers import read_spectrum

    spec = read_spectrum(str(path))
    return {"label": spec.label, "redshift": float(spec.redshift),
            "fiber": int(spec.meta["fiber"]), "loglam": spec.loglam}  # fmt: skip


def test_a_file_rewritten_with_its_size_and_mtime_is_reingested_and_rehashed(
    tmp_path: Path,
) -> None:
    files = _files(tmp_path / "data", n=6)
    cache = SpectrumCache(tmp_path / "cache")
    cache.ingest(files)
    before = cache.source().content_hash()
    assert before is not None
    again = SpectrumCache(tmp_path / "cache")
    assert again.ingest(files).unchanged == len(files)  # nothing re-read, nothing re-hashed
    assert again.source().content_hash() == before
    _rewrite_keeping_size_and_mtime(files[4], seed=99)
    report = again.ingest(files)
    assert (report.ingested, report.unchanged) == (1, len(files) - 1)
    assert again.source().content_hash() != before


def test_touching_a_file_reingests_it_with_the_same_hash(tmp_path: Path) -> None:
    files = _files(tmp_path / "data", n=4)
    cache = SpectrumCache(tmp_path / "cache")
    cache.ingest(files)
    before = cache.source().content_hash()
    os.utime(files[1])  # a new mtime, the same bytes
    assert cache.ingest(files).ingested == 1
    assert cache.source().content_hash() == before


def test_an_index_from_before_hashes_is_read_and_its_files_reingested(tmp_path: Path) -> None:
    import json

    files = _files(tmp_path / "data", n=4)
    cache = SpectrumCache(tmp_path / "cache")
    cache.ingest(files)
    hashed = cache.source().content_hash()
    cache.table = {f: v for f, v in cache.table.items() if f not in ("ctime_ns", "hash")}
    index = tmp_path / "cache" / "index.json"
    data = json.loads(index.read_text())
    np.savez(tmp_path / "cache" / data["table"], **cache.table)
    index.write_text(json.dumps({**data, "version": 2}))
    old = SpectrumCache(tmp_path / "cache")
    assert old.source().content_hash() is None  # the core then reads every spectrum
    assert old.ingest(files).ingested == len(files)
    assert old.source().content_hash() == hashed


@pytest.mark.parametrize("cached", [False, True])
def test_new_flux_in_one_file_outside_the_old_sample_retrains_the_cell(
    toy_registry, tmp_path: Path, cached: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import textwrap

    from bench.cli import main
    from bench.results import html as html_report
    from bench.results.report import load_report

    n, old_sample = 80, 64  # the fingerprint used to hash 64 spectra drawn with seed 0
    sampled = set(np.random.default_rng(0).choice(n, old_sample, replace=False).tolist())
    outside = min(set(range(n)) - sampled)
    data = tmp_path / "data"
    labels = ["STAR", "GALAXY", "QSO"]
    files = [
        write_spec_lite(data / f"s{i:03d}.fits", label=labels[i % 3], fiber=i + 1, seed=i)
        for i in range(n)
    ]
    cache = f"cache_dir = '{tmp_path / 'cache'}'" if cached else ""
    config = tmp_path / "bench.toml"
    config.write_text(
        textwrap.dedent(f"""
        [benchmark]
        name = "fp"
        [dataset]
        name = "sdss"
        path = ["{data}"]
        {cache}
        [[models]]
        name = "centroid"
        render = {{ name = "flat" }}
        [protocol]
        train_fractions = [0.6]
        epochs = [1]
        seeds = [0]
        """)
    )
    out = tmp_path / "run"

    def reused() -> list[bool]:
        assert main(["run", str(config), "--out", str(out)]) == 0
        return [r["reused"] for r in load_report(out / "report.json")["results"]]

    monkeypatch.setattr(html_report, "write_html", lambda report, out_dir: None)
    assert reused() == [False]
    assert reused() == [True]
    _rewrite_keeping_size_and_mtime(files[outside], seed=10_000)
    assert reused() == [False]
