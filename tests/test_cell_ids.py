"""Cell ids: unique by construction, naming the test dataset when it is another one;
class lists checked against the data."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bench.cli import main
from bench.config import cell_id

BASE = """
[benchmark]
name = "ids"
{benchmark}

[dataset]
name = "toy"
n = 60
{dataset}

{test}

[render]
name = "flat"

[[models]]
name = "centroid"
{model}

[protocol]
train_fractions = {fractions}
epochs = [1]
seeds = {seeds}
validation_fraction = 0
"""


def _config(tmp_path: Path, **parts: str) -> Path:
    values = {"benchmark": "", "dataset": "", "test": "", "model": "", "fractions": "[0.8]"}
    values |= {"seeds": "[0]"} | parts
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(BASE.format(**values)))
    return path


def test_fractions_are_written_exactly_so_close_values_do_not_collide():
    assert cell_id("toy", "m", 0.8, 5, 0) == "toy__m__f0.8__e5__s0"
    assert cell_id("toy", "m", 0.80000001, 5, 0) != cell_id("toy", "m", 0.8, 5, 0)
    assert cell_id("syn", "m", 0.8, 5, 0, "sdss") == "syn~sdss__m__f0.8__e5__s0"


def test_close_fractions_give_two_cells(toy_registry, tmp_path):
    out = tmp_path / "run"
    assert (
        main(["run", str(_config(tmp_path, fractions="[0.8, 0.80000001]")), "--out", str(out)]) == 0
    )
    ids = [r["cell"]["id"] for r in json.loads((out / "report.json").read_text())["results"]]
    assert len(set(ids)) == 2
    assert len(list((out / "cells").iterdir())) == 2


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (
            {"seeds": "[0, 1, 0]"},
            "seeds[0]) and (datasets[0], models[0], train_fractions[0], epochs[0], seeds[2])",
        ),
        ({"fractions": "[0.8, 0.8]"}, "would share the id 'toy__centroid__f0.8__e1__s0'"),
        ({"dataset": 'label = "toy__centroid"'}, "'__' or '~'"),
        ({"model": 'label = "a~b"'}, "[[models]][0].label"),
        (
            {"benchmark": 'classes = ["STAR", "GALAXY", "STAR"]'},
            "[benchmark].classes: 'STAR' is listed twice",
        ),
        ({"benchmark": 'classes = ["STAR"]'}, "at least two classes"),
    ],
)
def test_colliding_or_ambiguous_configs_are_refused(
    toy_registry, tmp_path, capsys, parts, expected
):
    code = main(["run", str(_config(tmp_path, **parts)), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "report.json").exists()


def test_a_class_no_spectrum_has_is_refused(toy_registry, tmp_path, capsys):
    config = _config(tmp_path, benchmark='classes = ["STAR", "GALAXY", "QSO", "WD"]')
    code = main(["run", str(config), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "no spectrum of class 'WD'" in err and "[benchmark].classes" in err


def test_sim_to_real_ids_and_report_name_the_test_dataset(toy_registry, tmp_path):
    test = '[test_dataset]\nname = "toy"\nlabel = "toyreal"\nn = 30\nseed = 7'
    out = tmp_path / "run"
    assert main(["run", str(_config(tmp_path, test=test)), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    result = report["results"][0]
    assert result["cell"]["id"] == "toy~toyreal__centroid__f0.8__e1__s0"
    assert result["cell"]["test_dataset"] == "toyreal"
    assert (out / "cells" / "toy~toyreal__centroid__f0.8__e1__s0" / "predictions.csv").is_file()
    md = (out / "report.md").read_text()
    assert "tested on toyreal" in md and "toy~toyreal__centroid" in md
    html = (out / "report.html").read_text()
    assert "tested on toyreal" in html
