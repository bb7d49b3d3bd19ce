"""`bench validate` makes every check `bench run` makes before training and lists all
problems at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.cli import main

GOOD = """
[benchmark]
name = "v"

[dataset]
name = "toy"
n = 60

[render]
name = "flat"

[[models]]
name = "centroid"

[protocol]
epochs = [1]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_config_is_valid(toy_registry, tmp_path, capsys):
    assert main(["validate", str(_write(tmp_path, GOOD))]) == 0
    assert "valid, 1 cells" in capsys.readouterr().out


def test_every_config_error_is_listed_at_once(toy_registry, tmp_path, capsys):
    text = GOOD.replace('name = "centroid"', 'name = "centroidd"')
    text = text.replace("epochs = [1]", "epochs = [0]\nseeds = [1, 1]") + "\n[extra]\n"
    text = text.replace('name = "v"', 'name = "v"\nclasses = ["STAR", "STAR"]')
    code = main(["validate", str(_write(tmp_path, text))])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    for expected in (
        "unknown section [extra]",
        "'STAR' is listed twice",
        "epochs[0]: 0",
        "centroidd",
    ):
        assert expected in err
    assert "4 problem(s)" in err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (
                'classes = ["STAR", "GALAXY", "QSO"]\n',
                'classes = ["STAR", "GALAXY", "QSO", "WD"]\n',
            ),
            "no spectrum of class 'WD'",
        ),
        (("n = 60", "n = 6"), "too few"),
    ],
)
def test_data_problems_that_run_would_meet_are_found(
    toy_registry, tmp_path, capsys, change, expected
):
    text = GOOD.replace('name = "v"', 'name = "v"\nclasses = ["STAR", "GALAXY", "QSO"]\n')
    config = _write(tmp_path, text.replace(*change))
    assert main(["validate", str(config)]) == 2
    assert expected in capsys.readouterr().err
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2  # run agrees


def test_problems_in_several_datasets_are_all_listed(toy_registry, tmp_path, capsys):
    text = GOOD.replace(
        '[dataset]\nname = "toy"\nn = 60',
        textwrap.dedent("""
        [[datasets]]
        name = "toy"
        label = "tiny"
        n = 6
        [[datasets]]
        name = "toy"
        label = "tiny2"
        n = 5
    """),
    )
    assert main(["validate", str(_write(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert "dataset 'tiny'" in err and "dataset 'tiny2'" in err
