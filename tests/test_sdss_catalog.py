"""Catalog-driven selection: filters, seeded stratified sample, CSV round trip."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench.errors import BenchError
from bench_plugins.sdss.catalog import catalog_labels, load_sample, save_sample, select_sample
from bench_plugins.sdss.download import targets_from_sample


@pytest.fixture
def spall(tmp_path: Path) -> Path:
    """A spAll-like catalog: 600 objects, unbalanced classes, some bad ZWARNING and high z."""
    from astropy.io import fits

    rng = np.random.default_rng(0)
    n = 600
    classes = rng.choice(["STAR  ", "GALAXY", "QSO   "], n, p=[0.1, 0.6, 0.3])
    cols = [
        fits.Column(name="PLATE", format="J", array=rng.integers(3000, 3100, n)),
        fits.Column(name="MJD", format="J", array=rng.integers(55000, 56000, n)),
        fits.Column(name="FIBERID", format="J", array=np.arange(n) + 1),
        fits.Column(name="CLASS", format="6A", array=classes),
        fits.Column(name="Z", format="E", array=rng.uniform(-0.01, 5.0, n)),
        fits.Column(name="ZWARNING", format="J", array=rng.choice([0, 4], n, p=[0.8, 0.2])),
        fits.Column(name="RUN2D", format="6A", array=np.full(n, "v5_7_0")),
        fits.Column(name="SURVEY", format="6A", array=rng.choice(["boss", "eboss"], n)),
    ]
    path = tmp_path / "spAll.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    return path


def _table(path: Path) -> dict[str, np.ndarray]:
    from astropy.io import fits

    with fits.open(path) as hdul:
        d = hdul[1].data
        return {c: np.array(d[c]) for c in d.names}


def test_sample_obeys_filters_and_is_balanced(spall: Path) -> None:
    sample = select_sample(spall, 90, seed=1)
    assert Counter(sample["class"].tolist()) == {"STAR": 30, "GALAXY": 30, "QSO": 30}
    t = _table(spall)
    row_of = {int(f): i for i, f in enumerate(t["FIBERID"])}  # FIBERID is unique here
    rows = [row_of[int(f)] for f in sample["fiber"]]
    assert np.all(t["ZWARNING"][rows] == 0)
    assert np.all((t["Z"][rows] >= 0) & (t["Z"][rows] <= 3.5))
    assert [t["CLASS"][r].strip() for r in rows] == sample["class"].tolist()
    assert len(set(sample["fiber"].tolist())) == 90


def test_sample_is_seeded(spall: Path) -> None:
    a, b, c = (select_sample(spall, 60, seed=s) for s in (7, 7, 8))
    assert a["fiber"].tolist() == b["fiber"].tolist() != c["fiber"].tolist()


def test_short_class_gives_all_it_has_and_the_rest_goes_elsewhere(spall: Path) -> None:
    t = _table(spall)
    ok = (t["ZWARNING"] == 0) & (t["Z"] >= 0) & (t["Z"] <= 3.5)
    n_star = int((ok & (np.char.strip(t["CLASS"]) == "STAR")).sum())
    sample = select_sample(spall, 3 * n_star + 30, seed=0)
    counts = Counter(sample["class"].tolist())
    assert counts["STAR"] == n_star and counts["GALAXY"] == counts["QSO"] == n_star + 15


def test_survey_filter_and_csv_round_trip(spall: Path, tmp_path: Path) -> None:
    sample = select_sample(spall, 30, seed=2, survey="eboss", classes=["GALAXY", "QSO"])
    t = _table(spall)
    surveys = {int(f): s.strip() for f, s in zip(t["FIBERID"], t["SURVEY"], strict=True)}
    assert {surveys[int(f)] for f in sample["fiber"]} == {"eboss"}
    back = load_sample(save_sample(sample, tmp_path / "s" / "sample.csv"))
    for key in ("plate", "mjd", "fiber", "class", "run2d"):
        assert back[key].tolist() == sample[key].tolist()
    np.testing.assert_allclose(back["z"], sample["z"])
    assert targets_from_sample(back)[0] == (
        *(int(back[k][0]) for k in ("plate", "mjd", "fiber")),
        "v5_7_0",
    )


def test_catalog_labels_and_errors(spall: Path, tmp_path: Path) -> None:
    labels = catalog_labels(spall, "class")
    t = _table(spall)
    key = (int(t["PLATE"][5]), int(t["MJD"][5]), int(t["FIBERID"][5]))
    assert labels[key] == t["CLASS"][5].strip()
    with pytest.raises(BenchError, match="CLASS_PERSON"):
        catalog_labels(spall, "CLASS_PERSON")
    with pytest.raises(BenchError, match="not found"):
        select_sample(tmp_path / "none.fits", 3)
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    with pytest.raises(BenchError, match="junk.csv"):
        load_sample(tmp_path / "junk.csv")
