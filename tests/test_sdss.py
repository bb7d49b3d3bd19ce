"""The ``sdss`` dataset plugin: registration, the shared real files, filters, catalog labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench.errors import BenchError
from bench.interfaces import Dataset
from bench.readers import find_spectra
from bench.spectra import BOSS_NPIX, boss_grid
from bench_plugins import sdss
from bench_plugins.sdss.cache import SpectrumCache
from bench_plugins.sdss.catalog import save_sample
from bench_plugins.sdss.dataset import SdssDataset
from tests.fixtures.sdss_files import write_spec_lite


def test_registered_through_the_public_hook() -> None:
    registered: list[type[Dataset]] = []
    sdss.register_datasets(register=registered.append)
    assert registered == [SdssDataset] and SdssDataset.name == "sdss"


_CACHED: dict[str, Path] = {}


@pytest.fixture
def real(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Options reading the shared files through a cache ingested once per test session."""
    if "dir" not in _CACHED:
        _CACHED["dir"] = tmp_path_factory.mktemp("sdss-cache")
        SpectrumCache(_CACHED["dir"]).ingest(find_spectra([shared_data / "sdss"]), workers=2)
    return {"path": str(shared_data / "sdss"), "cache_dir": str(_CACHED["dir"])}


def test_opens_the_shared_folder_on_the_boss_grid(real: dict[str, str]) -> None:
    source = SdssDataset(path=real["path"]).open()
    assert len(source) == 133 and source.describe()["failures"] == []
    assert Counter(source.labels.tolist()) == {"QSO": 120, "GALAXY": 8, "STAR": 5}
    rows = np.array([5, 0, 77])
    batch = source.read(rows)
    assert batch.flux.shape == (3, BOSS_NPIX) and np.allclose(batch.loglam, boss_grid())
    assert batch.ids.tolist() == source.ids[rows].tolist()
    assert np.all((batch.ivar > 0).sum(axis=1) > 500)
    cached = SdssDataset(**real).open()  # same spectra, streamed from the cache
    assert cached.ids.tolist() == source.ids.tolist()
    np.testing.assert_array_equal(cached.read(rows).flux, batch.flux)
    np.testing.assert_array_equal(cached.read(rows).ivar, batch.ivar)


def test_filters_and_stratified_limit(real: dict[str, str]) -> None:
    full = SdssDataset(**real).open()
    z = full.redshift
    low = SdssDataset(**real, z_max=1.0, classes=["QSO", "GALAXY"]).open()
    expected = int(((z <= 1.0) & np.isin(full.labels, ["QSO", "GALAXY"])).sum())
    assert len(low) == expected and set(low.labels) <= {"QSO", "GALAXY"}
    assert np.all(low.redshift <= 1.0)
    a = SdssDataset(**real, limit=40, seed=3).open()
    b = SdssDataset(**real, limit=40, seed=3).open()
    c = SdssDataset(**real, limit=40, seed=4).open()
    assert len(a) == 40 and a.ids.tolist() == b.ids.tolist() != c.ids.tolist()
    share = Counter(a.labels.tolist())
    assert share["QSO"] == round(40 * 120 / 133) and share["STAR"] >= 1


def _dr12q(path: Path, rows: list[tuple[int, int, int, int]]) -> Path:
    from astropy.io import fits

    plate, mjd, fiber, cls = (np.array(c) for c in zip(*rows, strict=True))
    cols = [
        fits.Column(name="PLATE", format="J", array=plate),
        fits.Column(name="MJD", format="J", array=mjd),
        fits.Column(name="FIBERID", format="J", array=fiber),
        fits.Column(name="CLASS_PERSON", format="J", array=cls),
    ]
    fits.BinTableHDU.from_columns(cols).writeto(path)
    return path


def test_labels_from_a_catalog_column(tmp_path: Path) -> None:
    for fiber in (1, 2, 3):
        write_spec_lite(tmp_path / "d" / f"{fiber}.fits", label="QSO", fiber=fiber)
    catalog = _dr12q(tmp_path / "dr12q.fits", [(1000, 55000, 1, 1), (1000, 55000, 2, 4)])
    source = SdssDataset(
        path=[str(tmp_path / "d")], labels_catalog=str(catalog), label_column="class_person"
    ).open()
    assert dict(zip(source.ids.tolist(), source.labels.tolist(), strict=True)) == {
        "1000-55000-0001": "STAR",
        "1000-55000-0002": "GALAXY",
    }
    assert source.describe()["dropped"] == {"not in labels catalog": 1}
    assert source.read(np.array([1])).labels.tolist() == ["GALAXY"]


def test_sample_csv_restricts_files(tmp_path: Path) -> None:
    for fiber in (1, 2, 3):
        write_spec_lite(tmp_path / "d" / f"{fiber}.fits", fiber=fiber)
    sample = {
        "plate": np.array([1000]), "mjd": np.array([55000]), "fiber": np.array([3]),
        "class": np.array(["QSO"]), "z": np.array([1.0]),
    }  # fmt: skip
    csv_path = save_sample(sample, tmp_path / "sample.csv")
    source = SdssDataset(path=[str(tmp_path / "d")], sample=str(csv_path), workers=2).open()
    assert source.ids.tolist() == ["1000-55000-0003"]


def test_bad_options_and_paths_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="sdss.path"):
        SdssDataset().open()
    with pytest.raises(BenchError, match="no such file or folder"):
        SdssDataset(path=str(tmp_path / "missing")).open()
    with pytest.raises(BenchError, match="no .fits"):
        SdssDataset(path=str(tmp_path)).open()
    with pytest.raises(BenchError, match="limt"):
        SdssDataset(limt=3)
