"""`bench data check` and `bench data sample` from the command line."""

from __future__ import annotations

import csv

import numpy as np

from bench.cli import main
from tests.fixtures import sdss_files as testing


def test_data_check_reads_the_shared_files(shared_data, capsys):
    assert main(["data", "check", str(shared_data / "sdss")]) == 0
    out = capsys.readouterr().out
    with open(shared_data / "sdss" / "labels.csv") as fh:
        n = sum(1 for _ in csv.DictReader(fh))
    assert f"{n} spectra read" in out and "QSO" in out


def test_data_check_lists_each_bad_file_and_exits_1(tmp_path, capsys):
    testing.write_spec_lite(tmp_path / "spec-1000-55000-0001.fits", label="STAR")
    (tmp_path / "spec-1000-55000-0002.fits").write_bytes(b"not a fits file at all")
    assert main(["data", "check", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "1 spectra read" in captured.out
    bad = [line for line in captured.err.splitlines() if "spec-1000-55000-0002.fits" in line]
    assert len(bad) == 1 and "Traceback" not in captured.err


def test_data_check_on_a_missing_path_is_a_user_error(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err


def test_data_sample_writes_a_stratified_csv(tmp_path, capsys):
    from astropy.io import fits

    n = 300
    rng = np.random.default_rng(0)
    classes = np.array(["STAR", "GALAXY", "QSO"])[rng.integers(0, 3, n)]
    cols = [
        fits.Column(name="PLATE", format="J", array=np.full(n, 4000)),
        fits.Column(name="MJD", format="J", array=np.full(n, 55000)),
        fits.Column(name="FIBERID", format="J", array=np.arange(1, n + 1)),
        fits.Column(name="CLASS", format="6A", array=classes),
        fits.Column(name="Z", format="E", array=rng.uniform(0, 4, n)),
        fits.Column(name="ZWARNING", format="J", array=np.zeros(n, int)),
    ]
    fits.BinTableHDU.from_columns(cols, name="SPALL").writeto(tmp_path / "spAll.fits")
    out = tmp_path / "sample.csv"
    assert (
        main(["data", "sample", str(tmp_path / "spAll.fits"), "--n", "30", "--out", str(out)]) == 0
    )
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30
    assert sorted({r["class"] for r in rows}) == ["GALAXY", "QSO", "STAR"]
    assert all(float(r["z"]) <= 3.5 for r in rows)
