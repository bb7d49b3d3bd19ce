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


def _cut_after(path, n_hdus):
    """Keep the first ``n_hdus`` HDUs of ``path``: a file cut at an HDU boundary."""
    import io

    from astropy.io import fits

    body = path.read_bytes()
    with fits.open(io.BytesIO(body)) as hdul:
        at = hdul.fileinfo(n_hdus)["hdrLoc"]
    path.write_bytes(body[:at])


def test_data_check_calls_a_file_cut_at_an_hdu_boundary_incomplete(tmp_path, capsys):
    from astropy.io import fits

    good = testing.write_spec_lite(tmp_path / "spec-1000-55000-0001.fits", label="STAR")
    cut = testing.write_spec_lite(tmp_path / "spec-1000-55000-0002.fits", label="QSO")
    _cut_after(cut, 2)  # PRIMARY + COADD: no class table
    pipeline = testing.write_spec_lite(tmp_path / "spec-1000-55000-0003.fits", label="QSO")
    with fits.open(pipeline) as hdul:  # as the SDSS pipeline writes it, less its SPZLINE
        hdus = fits.HDUList([h.copy() for h in hdul])
    hdus[0].header["VERS2D"] = "v5_13_2"
    hdus.writeto(pipeline, overwrite=True)
    assert main(["data", "check", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "1 spectra read" in captured.out and "(unknown)" not in captured.out
    errors = captured.err.splitlines()
    assert any(
        "spec-1000-55000-0002.fits: incomplete file (2 HDUs" in e and "no SPALL or SPECOBJ" in e
        for e in errors
    )
    assert any("spec-1000-55000-0003.fits: incomplete file" in e and "SPZLINE" in e for e in errors)
    assert not any(good.name in e for e in errors) and "Traceback" not in captured.err


def test_data_check_lists_an_infrared_spectrum_as_unusable(tmp_path, capsys):
    testing.write_spec_lite(tmp_path / "spec-1000-55000-0001.fits", label="STAR")
    infrared = np.log10(np.linspace(15000.0, 17000.0, 2000))  # APOGEE's H band
    testing.write_spec_lite(tmp_path / "spec-1000-55000-0002.fits", label="GALAXY", loglam=infrared)
    assert main(["data", "check", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "1 spectra read" in captured.out and "GALAXY" not in captured.out
    [line] = [e for e in captured.err.splitlines() if "spec-1000-55000-0002" in e]
    assert "unusable: no measured pixel on the BOSS/SDSS wavelength grid" in line


def test_data_check_takes_classes_from_a_labels_csv_beside_the_files(tmp_path, capsys):
    from bench.data.check import check_paths

    folder = tmp_path / "spectra"
    for fiber, label in ((1, "STAR"), (2, "STAR"), (3, "STAR")):
        testing.write_spec_lite(
            folder / testing.spec_name(1000, 55000, fiber), label=label, fiber=fiber
        )
    (tmp_path / "labels.csv").write_text(
        "file,CLASS\nspectra/spec-1000-55000-0001.fits,qso\nspectra/spec-1000-55000-0002.fits,\n"
    )
    (folder / "labels.csv").write_text("plate,mjd,fiberid,class\n1000,55000,3,GALAXY\n")
    result = check_paths([tmp_path])
    assert result.class_counts == {"GALAXY": 1, "QSO": 1, "STAR": 1}
    assert {f.path.name[-9:-5]: (f.label, f.file_label) for f in result.files} == {
        "0001": ("QSO", "STAR"),
        "0002": ("STAR", "STAR"),  # an empty class in labels.csv: the file's own
        "0003": ("GALAXY", "STAR"),
    }
    assert sorted(result.labels) == [tmp_path / "labels.csv", folder / "labels.csv"]
    assert main(["data", "check", str(tmp_path)]) == 0
    assert "QSO" in capsys.readouterr().out


def test_data_check_with_a_bad_labels_csv_is_one_line(tmp_path, capsys):
    testing.write_spec_lite(tmp_path / "spec-1000-55000-0001.fits", label="STAR")
    (tmp_path / "labels.csv").write_text("name,kind\nx,STAR\n")
    assert main(["data", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "labels.csv: no 'class' column" in err and "Traceback" not in err
