"""Spectrum file readers and ``check_paths``: real SDSS files and every kind of bad input."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bench.data.check import check_paths
from bench.data.readers import find_spectra, read_batch, read_spectrum
from bench.errors import BenchError
from bench.spectra import boss_grid
from tests.fixtures.sdss_files import write_spec_lite


def _labels(shared_data: Path) -> dict[str, dict[str, str]]:
    with (shared_data / "sdss" / "labels.csv").open(newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def test_check_paths_reads_all_shared_files_and_agrees_with_labels(shared_data: Path) -> None:
    root = shared_data / "sdss"
    labels = _labels(shared_data)
    result = check_paths([root])
    assert result.ok and result.failures == []
    assert result.n_read == len(labels)
    pipeline_classes: dict[str, str] = {}
    assert result.labels == [root / "labels.csv"]
    for checked in result.files:
        row = labels[checked.path.relative_to(root).as_posix()]
        assert checked.label == row["class"], checked.path  # labels.csv gives the class
        if row["format"].startswith("spec-lite (DR18"):
            pipeline_classes[checked.path.name] = checked.file_label  # the pipeline's class
            continue
        assert checked.file_label == row["class"], checked.path
        assert checked.redshift == pytest.approx(float(row["z"]), abs=1e-5), checked.path
    # README: DR18 labels.csv gives the true class; the pipeline calls NGC3073 a STAR
    assert pipeline_classes == {
        "NGC3073_SDSS_DR18.fits": "STAR",
        "NGC3522_SDSS_DR18.fits": "GALAXY",
    }
    expected = {}
    for f in result.files:
        expected[f.label] = expected.get(f.label, 0) + 1
    assert result.class_counts == expected and sum(result.class_counts.values()) == len(labels)


def test_spec_lite_columns_match_astropy(shared_data: Path) -> None:
    from astropy.io import fits

    path = shared_data / "sdss" / "spectra" / "spec-10656-58163-0366.fits"  # unnamed, upper case
    spec = read_spectrum(path)
    with fits.open(path) as hdul:
        table, spall = hdul[1].data, hdul[2].data
        np.testing.assert_array_equal(spec.flux, table["FLUX"])
        np.testing.assert_allclose(spec.loglam, table["LOGLAM"], atol=1e-6)
        np.testing.assert_array_equal(spec.mask, table["AND_MASK"])
        assert spec.label == spall["CLASS"][0].strip()
        assert spec.meta["zwarning"] == spall["ZWARNING"][0]
        assert spec.id == f"{spall['PLATE'][0]:04d}-{spall['MJD'][0]:05d}-{spall['FIBERID'][0]:04d}"
    assert spec.meta["format"] == "spec-lite"


def test_dr7_spspec_wavelength_and_ivar_from_header(shared_data: Path) -> None:
    from astropy.io import fits

    path = shared_data / "sdss" / "spspec_dr7" / "spSpec-51630-0266-227.fit"
    spec = read_spectrum(path)
    with fits.open(path) as hdul:
        h, data = hdul[0].header, hdul[0].data
    assert spec.loglam[0] == pytest.approx(h["COEFF0"]) and len(spec.loglam) == data.shape[1]
    assert np.diff(spec.loglam) == pytest.approx(h["COEFF1"])
    error = data[2]
    good = error > 0
    np.testing.assert_allclose(spec.ivar[good], 1 / error[good].astype(float) ** 2, rtol=1e-5)
    assert np.all(spec.ivar[~good] == 0)
    assert (spec.meta["plate"], spec.meta["mjd"], spec.meta["fiber"]) == (266, 51630, 227)
    assert spec.label == "QSO" and spec.redshift == pytest.approx(h["Z"])


def test_dr18_with_exposure_hdus_reads_the_coadd(shared_data: Path) -> None:
    spec = read_spectrum(shared_data / "sdss" / "dr18" / "NGC3522_SDSS_DR18.fits")
    assert spec.meta["format"] == "spec-lite+exposures"
    assert spec.label == "GALAXY" and len(spec.flux) > 3000


def test_unnamed_upper_case_file_reads_like_named_lower_case(tmp_path: Path) -> None:
    a = read_spectrum(write_spec_lite(tmp_path / "a.fits", label="STAR", redshift=0.001))
    b = read_spectrum(
        write_spec_lite(
            tmp_path / "b.fits", label="STAR", redshift=0.001, upper_case=True, named=False
        )
    )
    for name in ("loglam", "flux", "ivar", "mask"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (
        (a.label, a.redshift, a.id)
        == (b.label, b.redshift, b.id)
        == ("STAR", pytest.approx(0.001), "1000-55000-0001")
    )


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    from astropy.io import fits

    good = write_spec_lite(tmp_path / "good.fits")
    raw = good.read_bytes()
    files = {"corrupt": tmp_path / "corrupt.fits", "truncated": tmp_path / "truncated.fits"}
    files["corrupt"].write_bytes(np.random.default_rng(0).bytes(5000))
    files["truncated"].write_bytes(raw[: len(raw) // 2])
    no_coadd = tmp_path / "no_coadd.fits"
    with fits.open(good) as hdul:
        fits.HDUList([hdul[0].copy(), hdul[2].copy()]).writeto(no_coadd)
        cols = [c for c in hdul[1].columns if c.name != "ivar"]
        no_ivar = tmp_path / "no_ivar.fits"
        fits.HDUList([hdul[0].copy(), fits.BinTableHDU.from_columns(cols), hdul[2].copy()]).writeto(
            no_ivar
        )
    n = 3900
    files |= {
        "missing HDU": no_coadd,
        "missing column": no_ivar,
        "zero ivar": write_spec_lite(tmp_path / "zero.fits", ivar=np.zeros(n, np.float32)),
        "NaN flux": write_spec_lite(tmp_path / "nan.fits", flux=np.full(n, np.nan, np.float32)),
    }
    return files


def test_each_bad_file_raises_one_line_error_naming_it(tmp_path: Path) -> None:
    expected = {
        "corrupt": "unreadable",
        "truncated": "truncated",
        "missing HDU": "no coadd table",
        "missing column": "'ivar'",
        "zero ivar": "no valid pixels",
        "NaN flux": "no valid pixels",
    }
    for case, path in _bad_files(tmp_path).items():
        with pytest.raises(BenchError) as info:
            read_spectrum(path)
        message = str(info.value)
        assert "\n" not in message and message.startswith(str(path)), case
        assert expected[case] in message, (case, message)


def test_partly_nan_flux_is_masked_not_fatal(tmp_path: Path) -> None:
    flux = np.full(3900, 5.0, np.float32)
    flux[10:20] = np.nan
    spec = read_spectrum(write_spec_lite(tmp_path / "x.fits", flux=flux))
    assert np.all(spec.ivar[10:20] == 0) and np.all(spec.flux[10:20] == 0)
    assert np.all(spec.ivar[20:] > 0)


def test_read_batch_places_on_grid_and_reports_failures(tmp_path: Path) -> None:
    grid = boss_grid()
    trimmed = write_spec_lite(tmp_path / "t.fits", loglam=grid[1000:1710], fiber=7)
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"SIMPLE  = nonsense")
    batch, failures = read_batch([trimmed, bad], grid)
    assert len(batch) == 1 and [f for f, _ in failures] == [bad]
    assert np.all(batch.ivar[0, :1000] == 0) and np.all(batch.ivar[0, 1710:] == 0)
    np.testing.assert_array_equal(batch.flux[0, 1000:1710], read_spectrum(trimmed).flux)
    assert batch.ids[0] == "1000-55000-0007" and math.isfinite(batch.snr[0])
    assert batch.meta["fiber"].tolist() == [7]


def test_find_spectra_suffixes_and_missing_path(tmp_path: Path) -> None:
    for name in ("a.fits", "b.fit", "c.fits.gz", "d.csv", "sub/e.FITS"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in find_spectra([tmp_path])] == [
        "a.fits", "b.fit", "c.fits.gz", "sub/e.FITS"
    ]  # fmt: skip
    with pytest.raises(BenchError, match="nowhere"):
        find_spectra([tmp_path / "nowhere"])


def test_gzipped_file_reads_like_plain(tmp_path: Path) -> None:
    import gzip

    plain = write_spec_lite(tmp_path / "s.fits", label="GALAXY")
    packed = tmp_path / "s.fits.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    np.testing.assert_array_equal(read_spectrum(packed).flux, read_spectrum(plain).flux)


def test_check_paths_lists_failures_and_is_not_ok(tmp_path: Path) -> None:
    write_spec_lite(tmp_path / "ok.fits", label="GALAXY")
    (tmp_path / "broken.fits").write_bytes(b"not fits at all")
    result = check_paths([tmp_path])
    assert not result.ok and result.n_read == 1 and result.class_counts == {"GALAXY": 1}
    assert [p.name for p, _ in result.failures] == ["broken.fits"]


def test_a_gzip_that_inflates_beyond_the_limit_is_refused_unread(tmp_path: Path) -> None:
    """300 MiB of zeros in 0.3 MB of gzip: refused once 256 MiB are inflated, in one line."""
    import gzip

    from bench.data.readers import MAX_FILE_BYTES
    from bench.errors import BenchError

    bomb = tmp_path / "spec-1000-55000-0001.fits.gz"
    block = bytes(1 << 20)
    with gzip.open(bomb, "wb", compresslevel=1) as fh:
        for _ in range((MAX_FILE_BYTES >> 20) + 44):
            fh.write(block)
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(BenchError) as err:
        read_spectrum(bomb)
    assert str(err.value) == (
        f"{bomb}: inflates to more than 256 MiB, more than any spectrum file; refused "
        "(a damaged file or a decompression bomb?)"
    )


def test_gzip_files_under_the_limit_read_and_plain_files_over_it_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    from bench.data import readers
    from bench.errors import BenchError
    from tests.fixtures.sdss_files import write_spec_lite

    plain = write_spec_lite(tmp_path / "spec-1000-55000-0001.fits", label="STAR")
    packed = tmp_path / "spec-1000-55000-0002.fits.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_spectrum(packed).label == read_spectrum(plain).label == "STAR"
    monkeypatch.setattr(readers, "MAX_FILE_BYTES", plain.stat().st_size - 1)
    for path, says in ((plain, "is more than"), (packed, "inflates to more than")):
        with pytest.raises(BenchError, match=says):
            read_spectrum(path)


def _template_file(path: Path, flux: np.ndarray, names: dict[int, str]) -> Path:
    from astropy.io import fits

    hdu = fits.PrimaryHDU(flux)
    hdu.header["COEFF0"], hdu.header["COEFF1"] = 3.5, 1e-4
    for i, name in names.items():
        hdu.header[f"NAME{i}"] = name
    hdu.writeto(path)
    return path


def test_template_files_are_found_newest_first_and_read_with_their_grid(tmp_path: Path) -> None:
    """The SDSS template reader the synthetic generator and template_fit share: the last
    file by name, the grid from COEFF0/COEFF1, NAME<i> cards, <label><i> where absent."""
    from bench.readers import find_template_file, read_template_file

    flux = np.arange(12, dtype=np.float32).reshape(2, 6) + 1.0
    _template_file(tmp_path / "spEigenStar-55000.fits", flux * 0, {})
    newest = _template_file(tmp_path / "spEigenStar-55734.fits", flux, {0: "G2V"})
    found = find_template_file(tmp_path, "STAR", "x.template_dir")
    assert found == newest
    t = read_template_file(found, "STAR")
    assert t.flux.dtype == np.float64 and np.array_equal(t.flux, flux)
    assert t.names == ("G2V", "STAR1")
    assert np.allclose(t.loglam, 3.5 + 1e-4 * np.arange(6)) and t.dloglam == 1e-4


def test_template_file_errors_name_the_option_or_the_file(tmp_path: Path) -> None:
    from bench.readers import find_template_file, read_template_file

    with pytest.raises(BenchError, match=r"x\.template_dir: no spEigenQSO-\*\.fits in .* QSO"):
        find_template_file(tmp_path, "QSO", "x.template_dir")
    bad = tmp_path / "spEigenGal-1.fits"
    bad.write_text("not FITS")
    with pytest.raises(BenchError, match="spEigenGal-1.fits: not a readable SDSS template"):
        read_template_file(bad, "GALAXY")
    nan = _template_file(tmp_path / "spEigenQSO-1.fits", np.full((2, 4), np.nan), {})
    with pytest.raises(BenchError, match="spEigenQSO-1.fits: expected a finite"):
        read_template_file(nan, "QSO")
