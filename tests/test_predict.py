"""`bench predict`: a trained cell applied to spectrum files it has never seen."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from bench.cli import main
from bench.spectra import boss_grid
from tests.fixtures.sdss_files import write_spec_lite
from tests.plugins import toy
from tests.test_core import CONFIG, write


def toy_like_flux(k: int, seed: int) -> np.ndarray:
    """Flux on BOSS pixels 100..3999 with the toy dataset's class-k line at toy pixels."""
    rng = np.random.default_rng(seed)
    flux = rng.normal(1.0, 0.3, 3900).astype(np.float32)
    start = int(round((3.6 - boss_grid()[100]) / 1e-4))  # toy grid starts at log10 = 3.6
    flux[start + 30 + 60 * k : start + 40 + 60 * k] += 3.0
    return flux


# the deliberately broken file makes astropy warn before the reader's one-line error
@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_predict_applies_the_cell_to_files(toy_registry, tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)])
    cell = next(p for p in (out / "cells").iterdir() if "__centroid__" in p.name)
    files = tmp_path / "spectra"
    for k, name in enumerate(toy.CLASSES):
        write_spec_lite(
            files / f"spec-1000-55000-000{k + 1}.fits",
            label=name,
            fiber=k + 1,
            flux=toy_like_flux(k, k),
        )
    (files / "spec-1000-55000-0009.fits").write_bytes(b"SIMPLE  =  T broken")
    code = main(["predict", str(cell), str(files), "--out", str(tmp_path / "p.csv")])
    assert code == 1  # one unreadable file
    with open(tmp_path / "p.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "id", "true", "predicted", "p_STAR", "p_GALAXY", "p_QSO"]
    assert [r["predicted"] for r in rows] == list(toy.CLASSES)
    assert [r["true"] for r in rows] == list(toy.CLASSES)  # the class the files carry
    for r in rows:
        assert sum(float(r[f"p_{c}"]) for c in toy.CLASSES) == pytest.approx(1.0, abs=1e-5)
    err = capsys.readouterr().err
    assert "spec-1000-55000-0009.fits" in err and "Traceback" not in err
    assert "STAR 1, GALAXY 1, QSO 1" in err
    assert "agreement with the files' classes: 1.000 (3 of 3 labelled spectra)" in err
    assert "warning" not in err  # toy-like spectra: inside the training range


def test_predict_on_a_folder_that_is_not_a_cell(toy_registry, tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "p.csv")]) == 2
    assert "not a trained cell (no cell.json)" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


@pytest.fixture
def trained_cell(toy_registry, tmp_path):
    out = tmp_path / "run"
    main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)])
    return next(p for p in (out / "cells").iterdir() if "__centroid__" in p.name)


def _files(folder, scale=1.0, label=True):
    for k, name in enumerate(toy.CLASSES):
        write_spec_lite(
            folder / f"spec-1000-55000-000{k + 1}.fits",
            label=name if label else "",
            fiber=k + 1,
            flux=toy_like_flux(k, k) * scale,
        )
    return folder


def test_predict_warns_when_inputs_fall_outside_the_training_range(trained_cell, tmp_path, capsys):
    files = _files(tmp_path / "bright", scale=50.0)
    assert main(["predict", str(trained_cell), str(files), "--out", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning: 3 of 3 spectra have a median S/N or flux scale outside" in err


def test_predict_writes_parquet_and_no_true_column_without_classes(trained_cell, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    files = _files(tmp_path / "unlabelled", label=False)
    code = main(["predict", str(trained_cell), str(files), "--format", "parquet",
                 "--out", str(tmp_path / "p.parquet")])  # fmt: skip
    assert code == 0
    table = pd.read_parquet(tmp_path / "p.parquet")
    assert len(table) == 3 and "true" not in table.columns
    assert table["predicted"].tolist() == list(toy.CLASSES)
    assert "agreement" not in capsys.readouterr().err  # nothing to agree with


def test_predict_parquet_without_pyarrow_is_one_line(trained_cell, tmp_path, capsys, monkeypatch):
    from bench.results import objects

    monkeypatch.setattr(objects, "have_pyarrow", lambda: False)
    files = _files(tmp_path / "f")
    assert main(["predict", str(trained_cell), str(files), "--format", "parquet"]) == 2
    err = capsys.readouterr().err
    assert "--format parquet needs pyarrow" in err and "Traceback" not in err
