"""``labels_catalog`` as a CSV (join on file or plate/mjd/fiber), its errors, and fingerprints
that follow the labels file (FITS catalogs too) so no cached cell scores stale labels."""

from __future__ import annotations

import os
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.run.cellkey import data_fingerprint
from bench_plugins.sdss.dataset import SdssDataset
from tests.fixtures.sdss_files import write_spec_lite
from tests.test_sdss import _dr12q


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Three spec-lite files the pipeline calls QSO: d/1.fits .. d/3.fits, fibers 1 to 3."""
    for fiber in (1, 2, 3):
        write_spec_lite(tmp_path / "d" / f"{fiber}.fits", label="QSO", fiber=fiber)
    return tmp_path / "d"


def _csv(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _labels(**params: object) -> dict[str, str]:
    source = SdssDataset(**params).open()
    return dict(zip(source.ids.tolist(), source.labels.tolist(), strict=True))


@pytest.mark.parametrize("cache", [False, True], ids=["memory", "cache"])
def test_csv_joined_on_file_relabels_and_drops_unlisted(
    files: Path, tmp_path: Path, cache: bool
) -> None:
    labels = _csv(
        tmp_path / "labels.CSV",
        """
        file,class,z
        d/1.fits, star ,0.0
        ./d/2.fits,galaxy,0.1
        d/../d/3.fits,,2.0
        d/404.fits,QSO,1.0
        """,
    )
    params = {"path": [str(files)], "labels_catalog": str(labels)}
    if cache:
        params["cache_dir"] = str(tmp_path / "cache")
    source = SdssDataset(**params).open()
    assert dict(zip(source.ids.tolist(), source.labels.tolist(), strict=True)) == {
        "1000-55000-0001": "STAR",
        "1000-55000-0002": "GALAXY",
    }  # the row with an empty class counts as absent
    assert source.describe()["dropped"] == {"not in labels catalog": 1}
    assert source.describe()["labels_catalog"] == str(labels)
    assert source.read(np.array([0])).labels.tolist() == ["STAR"]


def test_csv_joined_on_plate_mjd_fiber_any_case(files: Path, tmp_path: Path) -> None:
    labels = _csv(
        tmp_path / "mine.csv",
        """
        Plate,MJD,FiberID,Visual_Class
        1000,55000,3,Galaxy
        1000,55000,1,QSO
        1000,55000,1,qso
        1000,55000,2,
        """,
    )
    found = _labels(path=[str(files)], labels_catalog=str(labels), label_column="VISUAL_CLASS")
    assert found == {"1000-55000-0001": "QSO", "1000-55000-0003": "GALAXY"}
    source = SdssDataset(path=[str(files)], labels_catalog=str(labels), label_column="visual_class")
    assert source.open().describe()["dropped"] == {"not in labels catalog": 1}


def test_a_csv_label_outside_classes_is_dropped_as_such(files: Path, tmp_path: Path) -> None:
    labels = _csv(tmp_path / "l.csv", "plate,mjd,fiber,class\n1000,55000,1,UNKNOWN\n")
    source = SdssDataset(path=[str(files)], labels_catalog=str(labels)).open()
    assert len(source) == 0
    assert source.describe()["dropped"] == {"not in labels catalog": 2, "class not in classes": 1}


@pytest.mark.parametrize("cache", [False, True], ids=["memory", "cache"])
def test_editing_the_csv_changes_labels_and_fingerprint(
    files: Path, tmp_path: Path, cache: bool
) -> None:
    labels = _csv(tmp_path / "l.csv", "file,class\nd/1.fits,STAR\nd/2.fits,QSO\n")
    params = {"path": [str(files)], "labels_catalog": str(labels)}
    if cache:
        params["cache_dir"] = str(tmp_path / "cache")
    before = SdssDataset(**params).open()
    stat = labels.stat()
    labels.write_text("file,class\nd/1.fits,STAR\nd/2.fits,QSX\n")  # same size ...
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and the same mtime
    after = SdssDataset(**params, classes=["STAR", "QSX"]).open()
    assert before.labels.tolist() == ["STAR", "QSO"] and after.labels.tolist() == ["STAR", "QSX"]
    assert before.fingerprint() != after.fingerprint()
    assert data_fingerprint(before) != data_fingerprint(after)
    plain = SdssDataset(**{k: v for k, v in params.items() if k != "labels_catalog"}).open()
    assert plain.fingerprint() not in (before.fingerprint(), after.fingerprint())


def test_rewriting_a_fits_catalog_changes_the_fingerprint(files: Path, tmp_path: Path) -> None:
    catalog = _dr12q(tmp_path / "dr12q.fits", [(1000, 55000, 1, 1), (1000, 55000, 2, 4)])
    params = {"path": [str(files)], "labels_catalog": str(catalog), "label_column": "CLASS_PERSON"}
    before = SdssDataset(**params).open()
    mtime = catalog.stat().st_mtime_ns
    catalog.unlink()
    _dr12q(catalog, [(1000, 55000, 1, 3), (1000, 55000, 2, 4)])
    os.utime(catalog, ns=(mtime + 10**9, mtime + 10**9))
    after = SdssDataset(**params).open()
    assert before.labels.tolist() == ["STAR", "GALAXY"] and after.labels.tolist() == [
        "QSO",
        "GALAXY",
    ]
    assert before.fingerprint() != after.fingerprint()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, ["missing.csv", "labels CSV not found"]),
        (
            "name,class\nx,QSO\n",
            ["no join columns", "'file'", "'plate', 'mjd', 'fiber'", "name, class"],
        ),
        ("file,kind\nd/1.fits,QSO\n", ["no class column 'CLASS'", "columns: file, kind"]),
        ("", ["no join columns", "columns: none"]),
        (
            "plate,mjd,fiber,class\n1000,55000,1,QSO\n1000,55000,x2,QSO\n",
            ["row 2 (line 3)", "fiber 'x2' is not an integer"],
        ),
        (
            "file,class\nd/1.fits,QSO\nd/2.fits,STAR\nd/1.fits,galaxy\n",
            ["rows 1 and 3", "d/1.fits", "different classes (QSO, GALAXY)"],
        ),
        (b"file,class\nd/1.fits,\xff\xfe\n", ["unreadable CSV"]),
    ],
    ids=["not-found", "no-join", "no-class", "empty", "bad-int", "duplicate", "not-utf8"],
)
def test_csv_mistakes_are_one_line_errors(
    files: Path, tmp_path: Path, text: str | bytes | None, words: list[str]
) -> None:
    path = tmp_path / "missing.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(BenchError) as info:
        SdssDataset(path=[str(files)], labels_catalog=str(path)).open()
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for word in words:
        assert word in message, message


def test_duplicate_rows_with_the_same_class_are_fine(files: Path, tmp_path: Path) -> None:
    labels = _csv(tmp_path / "l.csv", "file,class\nd/1.fits,QSO\nd/1.fits, qso\n")
    assert _labels(path=[str(files)], labels_catalog=str(labels)) == {"1000-55000-0001": "QSO"}


def test_the_cli_reports_a_bad_labels_csv_in_one_line(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = _csv(tmp_path / "l.csv", "file,kind\nd/1.fits,QSO\n")
    config = tmp_path / "bench.toml"
    config.write_text(
        f'[dataset]\nname = "sdss"\npath = ["{files}"]\nlabels_catalog = "{labels}"\n'
        '[[models]]\nname = "logreg"\n[protocol]\nepochs = [1]\n'
    )
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert "no class column 'CLASS'" in lines[0] and "l.csv" in lines[0]


def test_the_shared_labels_csv_gives_ngc3073_its_true_class(shared_data: Path) -> None:
    sdss = shared_data / "sdss"
    source = SdssDataset(path=[str(sdss)], labels_catalog=str(sdss / "labels.csv")).open()
    assert len(source) == 133 and source.describe()["dropped"] == {}
    by_file = dict(
        zip(
            source.read(np.arange(len(source))).meta["path"].tolist(),
            source.labels.tolist(),
            strict=True,
        )
    )
    assert by_file[str(sdss / "dr18" / "NGC3073_SDSS_DR18.fits")] == "GALAXY"
    assert Counter(source.labels.tolist()) == {"QSO": 120, "GALAXY": 9, "STAR": 4}
    pipeline = SdssDataset(path=[str(sdss / "dr18")]).open()
    assert pipeline.labels.tolist() == ["STAR", "GALAXY"]  # NGC3073, NGC3522 in the files
