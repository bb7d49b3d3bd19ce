"""The ``blend`` model: members trained side by side, probabilities combined."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.config import load_config
from bench.conformance import check
from bench.errors import BenchError
from bench.plugins.manager import get_registry
from bench_plugins.models.blend import Blend, combine

REGISTRY = get_registry(third_party=False)


def test_geometric_and_arithmetic_rules() -> None:
    a = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    b = np.array([[0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    geo = combine([a, b], [1.0, 1.0], "geometric")
    expected = np.sqrt(np.clip(a, 1e-12, 1) * b)
    np.testing.assert_allclose(geo, expected / expected.sum(1, keepdims=True))
    # weights are normalised: (3, 1) is (0.75, 0.25)
    arith = combine([a, b], [3.0, 1.0], "arithmetic")
    np.testing.assert_allclose(arith, 0.75 * a + 0.25 * b)
    # a member's zero probability is floored, never NaN; it all but vetoes the class
    assert np.isfinite(geo).all() and geo[1, 0] < 1e-5
    np.testing.assert_allclose(geo.sum(1), 1.0)
    # one member at full weight is that member
    np.testing.assert_allclose(combine([a, b], [1.0, 0.0], "geometric")[0], a[0])


def test_conformance_suite_passes() -> None:
    results = check("model", "blend", {"members": ["template_fit", "logreg"]}, REGISTRY)
    assert [r.message for r in results if not r.ok] == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"members": []}, "at least one"),
        ({"members": ["logreg", "logreg"]}, "twice"),
        ({"members": ["logreg", "blend"]}, "cannot hold a blend"),
        ({"members": ["logreg", "cnn1d"], "weights": [1.0]}, "expected 2 numbers"),
        ({"members": ["logreg"], "member_options": {"cnn1d": {}}}, "not in members"),
        ({"members": ["cnn1d", "mnist_cnn"]}, "mix input kinds"),
        (
            {"members": ["cnn1d"], "member_options": {"cnn1d": {"n_pixel": 3}}},
            "member_options.cnn1d",
        ),
        ({"members": ["nope"]}, "nope"),
    ],
)
def test_bad_members_are_one_line_errors(params: dict, words: str) -> None:
    with pytest.raises(BenchError) as err:
        REGISTRY.create("model", "blend", params, "model blend")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_learned_members_must_agree_on_the_input_shape() -> None:
    model = REGISTRY.create(
        "model",
        "blend",
        {"members": ["cnn1d", "logreg"], "member_options": {"cnn1d": {"n_pixels": 64}}},
        "model blend",
    )
    with pytest.raises(BenchError, match="input shapes differ"):
        model.input_shape(4000)
    same = {"cnn1d": {"n_pixels": 64}, "logreg": {"n_pixels": 64}}
    model = REGISTRY.create(
        "model", "blend", {"members": ["cnn1d", "logreg"], "member_options": same}, "m"
    )
    assert model.input_shape(4000) == (64, 1)
    # template_fit reads the spectra: it takes any rendered input
    model = REGISTRY.create("model", "blend", {"members": ["template_fit", "cnn1d"]}, "m")
    assert model.input_shape(4000) == (512, 1)


def test_quick_runs_shrink_the_members(tmp_path: Path) -> None:
    config = tmp_path / "b.toml"
    config.write_text(
        '[dataset]\nname = "synthetic"\n[[models]]\nname = "blend"\n'
        'members = ["template_fit", "cnn1d"]\n'
        "member_options = {cnn1d = {n_pixels = 256, augment = true}}\n"
    )
    shrunk = load_config(config, REGISTRY, quick=True)
    options = shrunk.models[0].params["member_options"]
    assert options["cnn1d"] == {"n_pixels": 128, "augment": True}
    assert options["template_fit"] == {"calibration_size": 100}


def test_a_run_blends_the_members_it_trains(tmp_path: Path) -> None:
    """`bench run` with a blend of template_fit and logreg: its probabilities are the
    normalised geometric mean of the members' own (recomputed from the saved members),
    and template_fit's redshifts reach predictions.csv."""
    config = tmp_path / "bench.toml"
    config.write_text(
        '[dataset]\nname = "synthetic"\nn = 90\nclass_mix = "balanced"\n'
        '[[preprocess]]\nname = "normalize"\n'
        '[[models]]\nname = "blend"\nmembers = ["template_fit", "logreg"]\n'
        "member_options = {template_fit = {calibration_size = 20}, logreg = {n_pixels = 64}}\n"
        "[protocol]\ntrain_fractions = [0.7]\nepochs = [1]\nvalidation_fraction = 0.0\n"
    )
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    (result,) = report["results"]
    assert result["status"] == "ok" and "__blend__" in result["cell"]["id"]
    info = result["model_info"]
    assert info["rule"] == "geometric" and {"template_fit", "logreg"} <= set(info)
    (cell,) = (tmp_path / "run" / "cells").iterdir()
    with open(cell / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"z_STAR", "z_GALAXY", "z_QSO"} <= set(rows[0])
    assert (cell / "model" / "member0-template_fit" / "model.json").is_file()
    assert result["metrics"]["accuracy"] > 0.5


def test_probabilities_are_the_members_combined_and_survive_save_load(tmp_path: Path) -> None:
    from bench.conformance.fixtures import source_and_feeds

    params = {"members": ["template_fit", "logreg"], "weights": [1.0, 2.0]}
    model = REGISTRY.create("model", "blend", params, "m")
    assert isinstance(model, Blend)
    _, train, test, shape = source_and_feeds(model, REGISTRY)
    model.build(shape, ["STAR", "GALAXY", "QSO"], 0)
    model.fit(train, None, epochs=1)
    members = model.member_probabilities(test)
    proba = model.predict_proba(test)
    np.testing.assert_allclose(proba, combine(members, [1.0, 2.0], "geometric"))
    assert not np.allclose(members[0], members[1])  # the blend is not one member
    model.save(tmp_path / "m")
    again = REGISTRY.create("model", "blend", params, "m")
    again.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(test), proba, rtol=1e-6, atol=1e-9)
    other = REGISTRY.create("model", "blend", {"members": ["logreg", "template_fit"]}, "m")
    with pytest.raises(BenchError, match="differ from the configured"):
        other.load(tmp_path / "m")


def test_members_come_from_the_registry_that_creates_the_blend() -> None:
    """A blend's members are looked up in the registry that creates the blend (a dask
    worker's registry of the run's extra plugin modules), not the process default."""
    from tests.plugins import toy

    with_toy = get_registry(extra=[toy], third_party=False)
    blend = with_toy.create("model", "blend", {"members": ["centroid"]}, "models[0]")
    assert [m.name for m in blend.members] == ["centroid"]
    plain = get_registry(third_party=False)
    with pytest.raises(BenchError, match="unknown model 'centroid'"):
        plain.create("model", "blend", {"members": ["centroid"]}, "models[0]")
