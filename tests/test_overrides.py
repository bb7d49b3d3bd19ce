"""`--set KEY=VALUE` on `bench run` and `bench validate`: applied to the parsed TOML before
every check, recorded in report.json and shown in report.md."""

from __future__ import annotations

import json

import pytest

from bench.cli import main
from bench.config import apply_overrides
from bench.errors import BenchError
from tests.test_validate import GOOD, _write

RAW = {
    "dataset": {"name": "toy", "n": 60},
    "models": [{"name": "centroid"}, {"name": "centroid", "label": "second"}],
    "protocol": {"epochs": [1]},
}


def test_keys_are_set_by_section_label_name_and_index_with_toml_values():
    out = apply_overrides(
        RAW,
        [
            "protocol.epochs=[2, 3]",
            "dataset.n=500",
            "models.second.fail=true",
            "models.0.bad_output=unnormalised",  # a bare word is a string
            'render.name="flat"',  # a table the file does not have is created
        ],
    )
    assert out["protocol"]["epochs"] == [2, 3] and out["dataset"]["n"] == 500
    assert out["models"][1]["fail"] is True and "fail" not in out["models"][0]
    assert out["models"][0]["bad_output"] == "unnormalised" and out["render"] == {"name": "flat"}
    assert RAW["protocol"]["epochs"] == [1]  # the parsed file itself is left alone


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("protocol.epochs", "expected KEY=VALUE"),
        ("protocol.epochs=[3", "is not a TOML value"),
        ("models.secnd.fail=true", "no entry with label or name 'secnd' (did you mean 'second'?)"),
        ("models.fail=true", "name an entry and its key"),
        ("dataset.n.x=1", "dataset.n is a value, not a table"),
    ],
)
def test_a_bad_override_is_named(override, expected):
    with pytest.raises(BenchError) as e:
        apply_overrides(RAW, [override])
    assert str(e.value).startswith(f"--set {override.split('=')[0]}")
    assert expected in str(e.value)


def test_an_override_changes_the_run_and_the_report_records_it(toy_registry, tmp_path):
    config, out = _write(tmp_path, GOOD), tmp_path / "run"
    sets = ["protocol.epochs=[1, 2]", "dataset.n=80", "models.centroid.fail=false"]
    args = [x for s in sets for x in ("--set", s)]
    assert main(["run", str(config), "--out", str(out), *args]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["overrides"] == sets
    assert report["config"]["protocol"]["epochs"] == [1, 2]  # the file says [1]
    assert report["summary"]["n_cells"] == 2
    assert report["config"]["datasets"][0]["params"]["n"] == 80
    md = (out / "report.md").read_text()
    assert "(--set): protocol.epochs=[1, 2], dataset.n=80" in md


def test_a_run_without_overrides_records_none(toy_registry, tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(_write(tmp_path, GOOD)), "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["overrides"] == []
    assert "--set" not in (out / "report.md").read_text()


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("protocol.epochz=[3]", "unknown option 'epochz' (did you mean 'epochs'?)"),
        ("protocl.epochs=[3]", "unknown section [protocl] (did you mean 'protocol'?)"),
        ("protocol.epochs=[0]", "[protocol].epochs[0]"),
        ("models.centroidd.fail=true", "(did you mean 'centroid'?)"),
    ],
)
def test_a_bad_key_or_value_is_one_line_exit_2(
    toy_registry, tmp_path, capsys, command, override, expected
):
    config = _write(tmp_path, GOOD)
    out = ["--out", str(tmp_path / "run")] if command == "run" else []
    assert main([command, str(config), "--set", override, *out]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0] and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_validate_checks_the_overridden_config(toy_registry, tmp_path, capsys):
    config = _write(tmp_path, GOOD)
    assert main(["validate", str(config), "--set", "protocol.seeds=[0, 1, 2]"]) == 0
    assert "valid, 3 cells" in capsys.readouterr().out
    assert main(["validate", str(config), "--set", "dataset.n=6"]) == 2
    assert "too few" in capsys.readouterr().err
