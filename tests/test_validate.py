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


MANY_MISTAKES = """
[dataset]
name = "synthetic"
n = 60
nn = 3

[[models]]
name = "logreg"
C = -1
max_iter = 0

[[models]]
name = "logreg"
label = "b"
C = "x"

[[models]]
name = "nope"

[protocol]
epochs = [0]
seeds = [-1]
"""
FIXED = {
    "nn = 3\n": "",
    "C = -1\n": "C = 1\n",
    "max_iter = 0\n": "",
    'C = "x"\n': "",
    '[[models]]\nname = "nope"\n': "",
    "epochs = [0]": "epochs = [1]",
    "seeds = [-1]": "seeds = [0]",
}


def test_every_problem_is_listed_in_one_pass_and_a_second_pass_finds_no_new_one(tmp_path, capsys):
    """Several bad options in one table, in several [[models]] tables and in two sections
    are all listed at once (each its own line, bounds included: logreg C = -1 is refused
    here, not in training); fixing exactly those leaves a valid config."""
    config = _write(tmp_path, MANY_MISTAKES)
    assert main(["validate", str(config)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    for key in (
        "[datasets][0]: unknown option 'nn'",
        "[[models]][0].C: -1.0 is not valid",
        "[[models]][0].max_iter: 0 is not valid",
        "[[models]][1].C: expected number",
        "[[models]][2].name: unknown model 'nope'",
        "[protocol].epochs[0]",
        "[protocol].seeds[0]",
    ):
        assert sum(key in line for line in errors) == 1, (key, errors)
    assert errors[-1].endswith("7 problem(s); `bench run` would stop")
    text = textwrap.dedent(MANY_MISTAKES)
    for wrong, right in FIXED.items():
        assert wrong in text
        text = text.replace(wrong, right)
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "[protocol].epochs[0]" in line and "[protocol].seeds[0]" in line  # one line
    (tmp_path / "fixed").mkdir()
    assert main(["validate", str(_write(tmp_path / "fixed", text))]) == 0
    assert not (tmp_path / "run").exists()


def test_scikit_learn_parameter_constraints_are_checked_at_config_load(monkeypatch):
    """Beyond the declared bounds, scikit-learn's own constraints refuse a value when the
    model is made (config load, so `bench validate`), not when it trains."""
    from bench.errors import BenchError
    from bench.options import Option
    from bench_plugins.models.logreg import LogisticRegression

    loose = tuple(
        Option("C", float, 1.0, "no bounds") if o.name == "C" else o
        for o in LogisticRegression.options
    )
    monkeypatch.setattr(LogisticRegression, "options", loose)
    with pytest.raises(BenchError, match="scikit-learn refuses the options: .*'C'"):
        LogisticRegression(C=-1.0)
    assert LogisticRegression(C=0.5).params["C"] == 0.5


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    """A preset's `path` and `labels_catalog` name files beside the preset, from any
    current folder; absolute paths and empty values stay as they are."""
    from bench.config import load_config
    from bench.plugins.manager import get_registry

    sub = tmp_path / "presets"
    sub.mkdir()
    config = sub / "p.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [dataset]
            name = "synthetic"
            n = 60
            [test_dataset]
            name = "sdss"
            path = ["data", "{tmp_path / "abs"}"]
            labels_catalog = "data/labels.csv"
            [[models]]
            name = "logreg"
            """
        )
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_config(Path("../presets/p.toml"), get_registry())
    params = loaded.test_dataset.params
    assert Path(params["path"][0]).resolve() == sub / "data"
    assert params["path"][1] == str(tmp_path / "abs")
    assert Path(params["labels_catalog"]).resolve() == sub / "data" / "labels.csv"
    assert loaded.datasets[0].params["template_dir"] is None


def test_data_and_cell_id_checks_run_beside_a_broken_section(toy_registry, tmp_path, capsys):
    """A broken [render] and an unknown section do not hide the data problem or the
    colliding cell ids: one pass lists all four."""
    text = GOOD.replace('name = "flat"', 'name = "flatt"').replace("n = 60", "n = 6")
    text = text.replace("epochs = [1]", "epochs = [1, 1]") + "\n[extra]\n"
    assert main(["validate", str(_write(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    for expected in ("unknown section [extra]", "flatt", "would share the id", "too few"):
        assert expected in err, expected
    assert "4 problem(s)" in err and "not checked" not in err


def test_checks_that_need_a_broken_section_are_named_as_not_run(toy_registry, tmp_path, capsys):
    text = GOOD.replace('name = "centroid"', 'name = "centroidd"').replace("n = 60", "n = 6")
    assert main(["validate", str(_write(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert "centroidd" in err and "too few" in err  # the data still checked
    assert "not checked: colliding cell ids (they need [models], which broke)" in err
    assert "not checked: the models' input shapes (they need [models], which broke)" in err
    protocol_broken = GOOD.replace("epochs = [1]", "epochs = [0]")
    assert main(["validate", str(_write(tmp_path, protocol_broken))]) == 2
    err = capsys.readouterr().err
    assert "not checked: the datasets, splits and models' input shapes" in err
    assert "[protocol], which broke" in err


def test_the_protocol_batch_size_reaches_models_that_do_not_set_their_own(tmp_path):
    """[protocol] batch_size is every Keras model's unless its table sets one: their own
    default (32) used to win, so a protocol's 64 trained at 32."""
    from bench.config import load_config
    from bench.plugins.manager import get_registry

    path = tmp_path / "b.toml"
    path.write_text(
        textwrap.dedent(
            """
            [benchmark]
            name = "b"
            [dataset]
            name = "synthetic"
            n = 60
            [[models]]
            name = "mnist_cnn"
            [[models]]
            name = "cnn1d"
            batch_size = 8
            [[models]]
            name = "logreg"
            [[models]]
            name = "blend"
            members = ["template_fit", "cnn1d", "logreg"]
            [[models]]
            name = "blend"
            label = "blend8"
            member_options = {cnn1d = {batch_size = 8}}
            [protocol]
            batch_size = 48
            """
        )
    )
    registry = get_registry()
    config = load_config(path, registry)
    models = {m.name: m.params for m in config.models}
    assert models["mnist_cnn"]["batch_size"] == 48
    assert models["cnn1d"]["batch_size"] == 8  # its own wins
    assert "batch_size" not in models["logreg"]  # declares none: nothing added
    over = load_config(path, get_registry(), overrides=["models.mnist_cnn.batch_size=16"])
    assert {m.name: m.params for m in over.models}["mnist_cnn"]["batch_size"] == 16

    def members_of(spec):
        blend = registry.create("model", spec.name, spec.params, "blend")
        blend.make_members(lambda n, p, w: registry.create("model", n, p, w))
        return {m.name: m.params for m in blend.members}

    for spec, cnn1d_batch in zip(config.models[-2:], (48, 8), strict=True):
        members = members_of(spec)
        assert members["cnn1d"]["batch_size"] == cnn1d_batch  # the protocol's, or its own
        assert "batch_size" not in members["template_fit"]  # declares none: nothing added
    assert "batch_size" not in members_of(config.models[-2])["logreg"]
