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
    head = ["path", "id", "true", "predicted", "p_STAR", "p_GALAXY", "p_QSO", "zwarning"]
    assert list(rows[0]) == head
    # the files are read onto the cell's toy grid, 0.02 dex: LITTLE_COVERAGE for every model
    assert {r["zwarning"] for r in rows} == {"2"}
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


# -- issues 27.7 and 28: labels files, inputs never overwritten, nothing half-written --


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_predict_refuses_an_out_that_is_one_of_its_inputs(trained_cell, tmp_path, capsys):
    files = _files(tmp_path / "f")
    spectrum = files / "spec-1000-55000-0001.fits"
    before = spectrum.read_bytes()
    labels = files / "labels.csv"
    labels.write_text("file,class\nspec-1000-55000-0001.fits,QSO\n")
    own = trained_cell / "predictions.csv"
    own_before = own.read_bytes()
    for out in (spectrum, labels, own):
        assert main(["predict", str(trained_cell), str(files), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"--out {out}" in err and "give another file name" in err, err
        assert "Traceback" not in err
    assert spectrum.read_bytes() == before and own.read_bytes() == own_before
    assert labels.read_text().startswith("file,class")


def test_a_cell_trained_on_other_classes_is_one_line(trained_cell, tmp_path, capsys):
    import json

    config = trained_cell / "cell.json"
    cell = json.loads(config.read_text())
    config.write_text(json.dumps(cell | {"classes": ["STAR", "GALAXY"]}))
    out = tmp_path / "p.csv"
    assert main(["predict", str(trained_cell), str(_files(tmp_path / "f")), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the model gives 3 class probabilities per spectrum, but the cell names 2" in err
    assert "Traceback" not in err and "IndexError" not in err
    assert not out.exists()


def test_a_labels_csv_beside_the_files_gives_the_true_classes(trained_cell, tmp_path, capsys):
    files = _files(tmp_path / "f")
    (files / "labels.csv").write_text(
        "file,class\nspec-1000-55000-0001.fits,qso\nspec-1000-55000-0002.fits,GALAXY\n"
    )
    out = tmp_path / "p.csv"
    assert main(["predict", str(trained_cell), str(files), "--out", str(out)]) == 0
    assert [r["true"] for r in _rows(out)] == ["QSO", "GALAXY", "QSO"]  # the third: its own
    err = capsys.readouterr().err
    assert f"true classes from {(files / 'labels.csv').resolve()} for 2 of 3 spectra" in err
    assert "agreement with the files' classes: 0.667 (2 of 3 labelled spectra)" in err


def test_predict_labels_file_by_plate_mjd_fiber(trained_cell, tmp_path, capsys):
    files = _files(tmp_path / "f")
    elsewhere = tmp_path / "catalog.csv"
    elsewhere.write_text("plate,mjd,fiberid,CLASS\n1000,55000,1,GALAXY\n1000,55000,3,ELF\n")
    out = tmp_path / "p.csv"
    code = main(["predict", str(trained_cell), str(files), "--out", str(out),
                 "--labels", str(elsewhere)])  # fmt: skip
    assert code == 0
    assert [r["true"] for r in _rows(out)] == ["GALAXY", "GALAXY", "ELF"]
    err = capsys.readouterr().err
    assert "1 spectra have classes the cell was not trained on (ELF 1)" in err
    assert "(1 of 2 labelled spectra)" in err
    missing = tmp_path / "nope.csv"
    assert main(["predict", str(trained_cell), str(files), "--labels", str(missing)]) == 2
    assert f"--labels {missing}: no such file" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_no_output_file_when_nothing_could_be_predicted(trained_cell, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "spec-1-2-3.fits").write_bytes(b"SIMPLE  =  T broken")
    out = tmp_path / "p.csv"
    assert main(["predict", str(trained_cell), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "none of the 1 spectrum files could be read" in err and "not written" in err
    assert not out.exists() and not list(tmp_path.glob(".p.csv*"))  # no temporary either
    out.write_text("kept\n")  # an earlier file stays as it was
    assert main(["predict", str(trained_cell), str(bad), "--out", str(out)]) == 2
    assert out.read_text() == "kept\n"


def test_a_model_that_raises_on_the_files_is_one_line(trained_cell, tmp_path, capsys):
    centroids = trained_cell / "model" / "centroids.npy"
    np.save(centroids, np.load(centroids)[:, :7])  # a model for another grid or classes
    out = tmp_path / "p.csv"
    assert main(["predict", str(trained_cell), str(_files(tmp_path / "f")), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the model failed on these spectra (ValueError" in err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert not out.exists()
