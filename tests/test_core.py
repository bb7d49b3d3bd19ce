"""The core end to end with tiny fake plugins: config, matrix, report, failures, CLI errors."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.results.report import load_report, validate_report
from tests.plugins import toy

CONFIG = """
[benchmark]
name = "toy"

[dataset]
name = "toy"
n = 90
unknown = 5

[render]
name = "flat"

[[models]]
name = "centroid"
render = { name = "flat" }

[[models]]
name = "centroid"
label = "broken"
fail = true
render = { name = "flat" }

[protocol]
train_fractions = [0.6, 0.8]
epochs = [1, 3]
seeds = [0]
batch_size = 16
"""


def write(tmp_path: Path, text: str, name: str = "bench.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_run_writes_a_valid_report_and_isolates_a_failing_cell(toy_registry, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)])
    assert code == 1  # one model fails in every cell
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    assert report["summary"] == {"n_cells": 8, "ok": 4, "failed": 4}
    ok = [r for r in report["results"] if r["status"] == "ok"]
    failed = [r for r in report["results"] if r["status"] == "failed"]
    assert {r["cell"]["model"] for r in ok} == {"centroid"}
    assert {(r["cell"]["train_fraction"], r["cell"]["epochs"]) for r in ok} == {
        (0.6, 1),
        (0.6, 3),
        (0.8, 1),
        (0.8, 3),
    }
    assert all(f["error"] == {**f["error"], "type": "RuntimeError"} for f in failed)
    assert "centroid asked to fail" in (out / failed[0]["error"]["log"]).read_text()
    # unknown labels are dropped; the split covers every known object exactly once
    assert report["datasets"]["toy"]["n_unknown_label"] == 5
    for r in ok:
        assert r["n_train"] + r["n_validation"] + r["n_test"] == 90
        assert r["n_validation"] > 0
        assert len(r["history"]["loss"]) == r["cell"]["epochs"]
        m = r["metrics"]
        assert sum(m["per_class"][c]["support"] for c in toy.CLASSES) == r["n_test"]
        assert np.asarray(m["confusion_matrix"]["counts"]).sum() == r["n_test"]
    assert not (out / ".lock").exists()


def test_cell_directory_has_predictions_and_what_predict_needs(toy_registry, tmp_path):
    out = tmp_path / "run"
    main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)])
    report = load_report(out / "report.json")
    cell = next(r for r in report["results"] if r["status"] == "ok")
    cell_dir = out / cell["path"]
    cfg = json.loads((cell_dir / "cell.json").read_text())
    assert cfg["pipeline"]["renderer"]["name"] == "flat"
    assert cfg["model"]["name"] == "centroid"
    with open(cell_dir / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == cell["n_test"]
    # the object's facts the source knows follow the probabilities (toy: redshift only)
    assert list(rows[0]) == [
        *("id", "true", "predicted", "p_STAR", "p_GALAXY", "p_QSO"),
        *("redshift", "snr"),  # what the toy source knows of each object
        "zwarning",  # every model's warning flag (toy spectra span 0.02 dex: LITTLE_COVERAGE)
    ]
    assert {r["zwarning"] for r in rows} == {"2"}
    assert set(cfg["input_range"]) >= {"median_snr", "flux_scale", "percentiles", "n"}
    correct = sum(r["true"] == r["predicted"] for r in rows) / len(rows)
    assert correct == pytest.approx(cell["metrics"]["accuracy"])


def test_quick_shrinks_to_one_epoch_one_split(toy_registry, tmp_path):
    out = tmp_path / "quick"
    main(["run", str(write(tmp_path, CONFIG)), "--out", str(out), "--quick"])
    report = load_report(out / "report.json")
    assert {(r["cell"]["train_fraction"], r["cell"]["epochs"]) for r in report["results"]} == {
        (0.6, 1)
    }
    assert report["config"]["quick"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[dataset\nname='toy'", "invalid TOML"),
        (
            "[dataset]\nname = 'toy'\n[[models]]\nname = 'centroid'\n[protocol]\nepoch = [1]",
            "unknown option 'epoch' (did you mean 'epochs'?)",
        ),
        (
            "[dataset]\nname = 'toy'\n[[models]]\nname = 'centroid'\n[protocol]\nepochs = 'ten'",
            "epochs[0]: expected integer, got str 'ten'",
        ),
        (
            "[dataset]\nname = 'toy'\nn = 'many'\n[[models]]\nname = 'centroid'",
            "n: expected integer, got str 'many'",
        ),
        (
            "[dataset]\nname = 'toy'\n[render]\nname = 'flat'\n[[models]]\nname = 'centroyd'",
            "unknown model 'centroyd' (did you mean 'centroid'?)",
        ),
        (
            "[dataset]\nname = 'toy'\n[[models]]\nname = 'centroid'\n[protocl]\n",
            "unknown section [protocl] (did you mean 'protocol'?)",
        ),
        (
            "[dataset]\nname = 'toy'\n[[models]]\nname = 'centroid'\n[protocol]\ntrain_fractions = [1.5]",
            "train_fractions[0]: 1.5 is not valid; expected a number > 0.0 and < 1.0",
        ),
    ],
)
def test_config_errors_are_one_line_exit_2(toy_registry, tmp_path, capsys, text, expected):
    path = write(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    # validate also names the checks a broken section kept from running ("not checked: ...")
    lines = [line for line in err.splitlines() if line.strip() and "not checked:" not in line]
    assert len(lines) == 2 and all(expected in line and str(path) in line for line in lines)
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_toml_error_names_line_and_column(toy_registry, tmp_path, capsys):
    path = write(tmp_path, "[dataset]\nname = 'toy'\nn = = 3\n")
    assert main(["validate", str(path)]) == 2
    assert "line 3, column" in capsys.readouterr().err


def test_validate_counts_cells(toy_registry, tmp_path, capsys):
    assert main(["validate", str(write(tmp_path, CONFIG))]) == 0
    assert "8 cells" in capsys.readouterr().out


def test_empty_dataset_and_missing_config_exit_2(toy_registry, tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    path = write(tmp_path, CONFIG.replace("n = 90", "n = 0").replace("unknown = 5", "unknown = 0"))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nope.toml: config file not found" in err and "the dataset is empty" in err
    assert not out.exists()


def test_unwritable_output_is_a_user_error(toy_registry, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", str(write(tmp_path, CONFIG)), "--out", str(blocker / "sub")]) == 2
    assert "output folder is not writable" in capsys.readouterr().err


def test_second_run_into_a_locked_folder_is_refused(toy_registry, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("123")
    assert main(["run", str(write(tmp_path, CONFIG)), "--out", str(out)]) == 2
    assert "another run is writing here" in capsys.readouterr().err


def test_one_dataset_plugin_twice_needs_distinct_labels(toy_registry, tmp_path, capsys):
    two = """
    [[datasets]]
    name = "toy"
    label = "toy-a"
    n = 60
    [[datasets]]
    name = "toy"
    label = "toy-b"
    n = 60
    seed = 1
    [[models]]
    name = "centroid"
    render = { name = "flat" }
    [protocol]
    epochs = [1]
    """
    out = tmp_path / "two"
    assert main(["run", str(write(tmp_path, two)), "--out", str(out)]) == 0
    report = load_report(out / "report.json")
    assert sorted(r["cell"]["dataset"] for r in report["results"]) == ["toy-a", "toy-b"]
    assert set(report["datasets"]) == {"toy-a", "toy-b"}
    same = write(tmp_path, two.replace('"toy-b"', '"toy-a"'), "same.toml")
    assert main(["validate", str(same)]) == 2
    assert "dataset label 'toy-a' is used twice" in capsys.readouterr().err


def test_option_bounds_check_numbers_and_list_items():
    from bench.errors import BenchError
    from bench.options import Option

    n = Option("n", int, 10, "spectra", ge=1)
    assert n.check(3, "toy") == 3
    with pytest.raises(BenchError, match=r"toy\.n: 0 is not valid; expected an integer >= 1"):
        n.check(0, "toy")
    z = Option("z", list, [0.0, 1.0], "range", item_type=float, ge=0.0, lt=5.0)
    with pytest.raises(
        BenchError, match=r"toy\.z\[1\]: 5\.0 is not valid; expected a number >= 0\.0 and < 5\.0"
    ):
        z.check([1, 5], "toy")
    assert z.describe() == "list of number, default [0.0, 1.0], each >= 0.0 and < 5.0"
    assert Option("x", float, 1.0, "x", gt=0.0, le=2.0).bounds == {"gt": 0.0, "le": 2.0}
    with pytest.raises(TypeError, match="bounds apply"):
        Option("s", str, "a", "text", ge=1)


def test_bounds_show_in_plugins_json(capsys):
    import json

    from bench.cli import main

    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (synthetic,) = [r for r in rows if r["name"] == "synthetic" and r["kind"] == "dataset"]
    options = {o["name"]: o for o in synthetic["options"]}
    assert options["n"]["bounds"]["ge"] == 1
    assert options["snr_scale"]["bounds"] == {"gt": 0.0, "le": 100.0}
