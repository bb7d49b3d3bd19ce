"""Bad input end to end through `bench run`: one line naming the file or key, exit code 2,
and nothing half-written (no report.json; the output folder removed when the run made it).

Decision for a folder of spectrum files: a bad file among good ones is skipped and
recorded (``datasets.<name>.source.failures`` in the report); the run fails with exit 2
only when no spectrum is left. Single bad files are tested in test_readers.py; config
errors (bad TOML, wrong types, unknown plugin or section) in test_core.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.results.report import load_report
from tests.fixtures.sdss_files import write_spec_lite
from tests.plugins import toy

N_PIX = 3900  # write_spec_lite's default wavelength range
CLASSES = ("STAR", "GALAXY", "QSO")


@pytest.fixture(autouse=True)
def _no_html(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.results import html as html_report

    monkeypatch.setattr(html_report, "write_html", lambda report, out_dir: None)


def _folder(path: Path, n_per_class: int = 4, first_fiber: int = 1) -> Path:
    fiber = first_fiber
    for k in range(n_per_class):
        for label in CLASSES:
            write_spec_lite(path / f"{label}-{k}.fits", label=label, fiber=fiber, seed=fiber)
            fiber += 1
    return path


def _bad_file(kind: str, path: Path) -> Path:
    """One spectrum file broken in the way ``kind`` says."""
    from astropy.io import fits

    path.parent.mkdir(parents=True, exist_ok=True)
    if kind in ("corrupt", "truncated", "missing HDU", "missing column"):
        good = write_spec_lite(path.with_suffix(".good"), label="STAR")
        raw = good.read_bytes()
        if kind == "corrupt":
            path.write_bytes(np.random.default_rng(1).bytes(len(raw)))
        elif kind == "truncated":
            path.write_bytes(raw[: len(raw) // 3])
        else:
            with fits.open(good) as hdul:
                cols = [c for c in hdul[1].columns if c.name != "flux"]
                coadd = [] if kind == "missing HDU" else [fits.BinTableHDU.from_columns(cols)]
                fits.HDUList([hdul[0].copy(), *coadd, hdul[2].copy()]).writeto(path)
        good.unlink()
        return path
    if kind == "all-zero ivar":
        return write_spec_lite(path, label="STAR", ivar=np.zeros(N_PIX, np.float32))
    if kind == "NaN flux":
        return write_spec_lite(path, label="STAR", flux=np.full(N_PIX, np.nan, np.float32))
    if kind == "inf flux":
        return write_spec_lite(path, label="STAR", flux=np.full(N_PIX, np.inf, np.float32))
    if kind == "empty file":
        path.write_bytes(b"")
        return path
    raise AssertionError(kind)


REASONS = {
    "corrupt": "unreadable FITS file",
    "truncated": "truncated",
    "missing HDU": "no coadd table",
    "missing column": "no coadd table with flux",
    "all-zero ivar": "no valid pixels",
    "NaN flux": "no valid pixels",
    "inf flux": "no valid pixels",
    "empty file": "unreadable FITS file",
}
BAD_KINDS = tuple(REASONS)


def _config(tmp_path: Path, dataset: str, test_dataset: str = "", protocol: str = "") -> Path:
    path = tmp_path / "bench.toml"
    text = f"""
        [benchmark]
        name = "bad"

        [dataset]
        {dataset}

        {test_dataset}

        [[models]]
        name = "centroid"
        render = {{ name = "flat" }}

        [protocol]
        train_fractions = [0.5]
        epochs = [1]
        {protocol or "validation_fraction = 0  # a handful of files: no validation set"}
    """
    path.write_text(textwrap.dedent(text))
    return path


def _fails_cleanly(capsys, config: Path, out: Path, *expected: str) -> str:
    """Exit 2, one line holding every ``expected`` text, no report, no folder left."""
    existed = out.exists()
    assert main(["run", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(text in lines[0] for text in expected), (lines[0], expected)
    assert not (out / "report.json").exists()
    if existed:
        assert not (out / ".lock").exists() and not (out / "cells").exists()
    else:
        assert not out.exists()
    return lines[0]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_test_dataset_of_only_bad_files_is_one_line_exit_2(toy_registry, tmp_path, capsys, kind):
    bad = _bad_file(kind, tmp_path / "test" / "spec-bad.fits")
    config = _config(
        tmp_path,
        'name = "toy"\nn = 30',
        f'[test_dataset]\nname = "sdss"\npath = ["{bad.parent}"]',
    )
    line = _fails_cleanly(capsys, config, tmp_path / "out", "[test_dataset]", str(bad))
    assert "the dataset is empty; 1 file failed to read" in line and REASONS[kind] in line


def test_bad_files_among_good_ones_are_skipped_and_recorded(toy_registry, tmp_path, capsys):
    data = _folder(tmp_path / "data")
    bad = {kind: _bad_file(kind, data / f"bad-{i}.fits") for i, kind in enumerate(BAD_KINDS)}
    config = _config(tmp_path, f'name = "sdss"\npath = ["{data}"]')
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out)]) == 1  # the README: exit 1 and a list
    source = load_report(out / "report.json")["datasets"]["sdss"]["source"]
    assert source["spectra"] == 12 and source["files"] == 12 + len(bad)
    assert sorted(f["path"] for f in source["failures"]) == sorted(map(str, bad.values()))
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    for path in bad.values():
        assert sum(str(path) in line for line in errors) == 1
    assert f"{len(bad)} spectrum files could not be read" in errors[-1]


def test_partly_nan_and_inf_flux_never_reaches_the_model(toy_registry, tmp_path, monkeypatch):
    data = _folder(tmp_path / "data")
    flux = np.full(N_PIX, 10.0, np.float32)
    flux[100:120], flux[500:505], flux[900] = np.nan, np.inf, -np.inf
    for i, label in enumerate(CLASSES):
        write_spec_lite(data / f"holes-{i}.fits", label=label, flux=flux, fiber=500 + i)
    seen: list[bool] = []
    real_fit, real_predict = toy.CentroidModel.fit, toy.CentroidModel.predict_proba

    def fit(self, train, validation, epochs, initial_epoch=0):
        seen.append(bool(np.isfinite(train.inputs()).all()))
        return real_fit(self, train, validation, epochs, initial_epoch)

    def predict_proba(self, feed):
        seen.append(bool(np.isfinite(feed.inputs()).all()))
        return real_predict(self, feed)

    monkeypatch.setattr(toy.CentroidModel, "fit", fit)
    monkeypatch.setattr(toy.CentroidModel, "predict_proba", predict_proba)
    out = tmp_path / "out"
    assert (
        main(
            ["run", str(_config(tmp_path, f'name = "sdss"\npath = ["{data}"]')), "--out", str(out)]
        )
        == 0
    )
    report = load_report(out / "report.json")
    assert report["datasets"]["sdss"]["source"]["spectra"] == 15
    assert seen == [True, True] and report["summary"]["ok"] == 1


def test_a_class_too_small_to_split(toy_registry, tmp_path, capsys):
    data = _folder(tmp_path / "data", n_per_class=3)
    for path in list(data.glob("STAR-*.fits"))[1:]:
        path.unlink()  # one STAR left: it cannot be on both sides of the split
    config = _config(tmp_path, f'name = "sdss"\npath = ["{data}"]')
    _fails_cleanly(capsys, config, tmp_path / "out", "dataset 'sdss'", "STAR")


def test_unknown_labels_only(toy_registry, tmp_path, capsys):
    config = _config(tmp_path, 'name = "toy"\nn = 0\nunknown = 12')
    _fails_cleanly(capsys, config, tmp_path / "out", "dataset 'toy'", "no spectrum has a label in")


def test_missing_data_path(toy_registry, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    config = _config(tmp_path, f'name = "sdss"\npath = ["{missing}"]')
    _fails_cleanly(capsys, config, tmp_path / "out", str(missing))


def test_an_existing_output_folder_is_kept_but_nothing_half_written(toy_registry, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    bad = _bad_file("truncated", tmp_path / "test" / "spec-bad.fits")
    config = _config(
        tmp_path,
        'name = "toy"\nn = 30',
        f'[test_dataset]\nname = "sdss"\npath = ["{bad.parent}"]',
    )
    _fails_cleanly(capsys, config, out, str(bad))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_wrong_type_in_a_plugin_option(toy_registry, tmp_path, capsys):
    config = _config(tmp_path, 'name = "sdss"\npath = 3')
    _fails_cleanly(capsys, config, tmp_path / "out", "path", "int")


def test_unknown_test_dataset_plugin(toy_registry, tmp_path, capsys):
    config = _config(tmp_path, 'name = "toy"', '[test_dataset]\nname = "sdsss"')
    _fails_cleanly(capsys, config, tmp_path / "out", "[test_dataset]", "'sdsss'", "'sdss'")
