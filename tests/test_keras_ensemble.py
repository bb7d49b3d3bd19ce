"""Seed ensembles of the Keras models (option ``ensemble``): ``ensemble = 1`` is the single
model exactly, members differ (seed, shuffling), predictions are the mean of the members',
histories the per-epoch mean, continued fits continue every member, save/load restores
every member, and ``ensemble = 0`` is a one-line error. Tiny cnn1d, seconds each."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli import main
from bench.conformance import check
from bench.errors import BenchError
from bench.feed import Feed
from bench.plugins import manager
from bench.results.report import load_report
from bench.store.rundir import model_dir
from bench_plugins.models.keras.cnn1d import CNN1D
from bench_plugins.models.keras.ensemble import mean_history, member_seed
from tests.test_models import built

TINY = {"n_pixels": 64, "filters": [4, 8], "batch_size": 16}


def trained(epochs: int = 2, **params: Any) -> tuple[CNN1D, Feed, dict[str, list[float]]]:
    """A tiny cnn1d built with seed 3, fitted ``epochs`` epochs (validation: the test feed)."""
    model, train, test = built(CNN1D, seed=3, **TINY, **params)
    assert isinstance(model, CNN1D)
    return model, test, model.fit(train, test, epochs=epochs)


def members(model: Any) -> list[Any]:
    """The members of a seed ensemble (its SeedEnsemble's)."""
    assert model.ensemble is not None
    return list(model.ensemble.members)


def members_train(model: Any) -> dict[int, Any]:
    """Member k's training input, by k >= 1, as (given, re-seeded)."""
    return dict(model.ensemble._train)


def weights(model: CNN1D) -> list[np.ndarray]:
    return [np.asarray(w) for w in model._network().get_weights()]


def test_ensemble_1_is_the_single_model_exactly(tmp_path: Path) -> None:
    plain, test, history = trained()
    one, test_one, history_one = trained(ensemble=1)
    assert plain.params["ensemble"] == 1 and one.ensemble is None and plain.ensemble is None
    assert history_one == history
    np.testing.assert_array_equal(one.predict_proba(test_one), plain.predict_proba(test))
    assert one.describe() == plain.describe() and "ensemble" not in plain.describe()
    assert one.timing().keys() == plain.timing().keys()
    plain.save(tmp_path / "plain")
    one.save(tmp_path / "one")
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == ["model.json", "model.keras"]
    meta = (tmp_path / "one" / "model.json").read_text()
    assert meta == (tmp_path / "plain" / "model.json").read_text() and "ensemble" not in meta
    for a, b in zip(weights(one), weights(plain), strict=True):
        np.testing.assert_array_equal(a, b)


def test_member_0_is_the_single_model_and_the_others_differ() -> None:
    plain, test, _ = trained()
    ensemble, _, _ = trained(ensemble=3)
    assert ensemble.ensemble is not None
    first, *others = ensemble.ensemble.members
    assert ensemble.network is first.network and len(others) == 2
    for a, b in zip(weights(first), weights(plain), strict=True):
        np.testing.assert_array_equal(a, b)
    probas = [m.predict_proba(test) for m in ensemble.ensemble.members]
    for k in (1, 2):
        assert not np.allclose(probas[k], probas[0], atol=1e-3)
        assert not np.allclose(weights(ensemble.ensemble.members[k])[0], weights(first)[0])
    feeds = ensemble.ensemble._train
    assert {k: feeds[k][1].seed for k in (1, 2)} == {k: member_seed(0, k) for k in (1, 2)}
    assert len({0, member_seed(0, 1), member_seed(0, 2)}) == 3  # own shuffling each
    assert member_seed(3, 0) == 3 and member_seed(3, 1) != member_seed(4, 1)


def test_probabilities_are_the_mean_of_the_members() -> None:
    ensemble, test, history = trained(ensemble=2)
    proba = ensemble.predict_proba(test)
    a, b = (m.predict_proba(test) for m in members(ensemble))
    np.testing.assert_allclose(proba, (a + b) / 2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert ensemble.predict_proba(test).shape == (test.n_samples, 3)
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 2 for v in history.values())


def test_history_is_the_per_epoch_mean_and_timing_the_sum() -> None:
    got = mean_history([{"loss": [1.0, 3.0], "accuracy": [0.5, 1.0]}, {"loss": [2.0, 5.0]}])
    assert got == {"loss": [1.5, 4.0]}
    ensemble, _, _ = trained(ensemble=2)
    timing, parts = ensemble.timing(), [m.timing() for m in members(ensemble)]
    assert timing["steps"] == sum(p["steps"] for p in parts) == 2 * 2 * 2  # 2 epochs x 2 batches
    assert timing["step_s"] == pytest.approx(sum(p["step_s"] for p in parts), abs=1e-3)
    info = ensemble.describe()
    assert info["ensemble"] == 2 and info["parameters"] == 2 * info["member_parameters"]
    assert info["trainable_parameters"] < info["parameters"]  # batch-norm statistics


def test_continued_fits_continue_every_member() -> None:
    a, test, first = trained(epochs=1, ensemble=2)
    before = [weights(m) for m in members(a)]
    train = next(iter(members_train(a).values()))[0]
    second = a.fit(train, test, epochs=2, initial_epoch=1)
    assert all(len(v) == 1 for v in second.values())
    for member, old in zip(members(a), before, strict=True):
        assert not np.allclose(weights(member)[0], old[0])  # every member trained again
    b, _, both = trained(epochs=2, ensemble=2)
    np.testing.assert_allclose(first["loss"] + second["loss"], both["loss"], rtol=1e-5)
    np.testing.assert_allclose(a.predict_proba(test), b.predict_proba(test), atol=1e-6)


def test_save_and_load_restore_every_member(tmp_path: Path) -> None:
    ensemble, test, _ = trained(epochs=1, ensemble=3)
    proba = ensemble.predict_proba(test)
    ensemble.save(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["member1.keras", "member2.keras", "model.json", "model.keras"]
    assert json.loads((tmp_path / "model.json").read_text())["ensemble"] == 3
    again = CNN1D(**TINY, ensemble=3)
    again.load(tmp_path)
    assert len(members(again)) == 3 and again.network is members(again)[0].network
    np.testing.assert_allclose(again.predict_proba(test), proba, rtol=0, atol=1e-7)
    assert again.describe()["ensemble"] == 3
    with pytest.raises(BenchError, match=r"ensemble of 3 member\(s\); model cnn1d.ensemble is 2"):
        CNN1D(**TINY, ensemble=2).load(tmp_path)


def test_ensemble_passes_the_model_conformance_checks() -> None:
    registry = manager.get_registry(third_party=False)
    results = check("model", "cnn1d", {**TINY, "ensemble": 2}, registry)
    assert {r.check: r.message for r in results if not r.ok} == {}


CONFIG = """
[benchmark]
name = "ens"
[dataset]
name = "synthetic"
n = 90
seed = 1
[[preprocess]]
name = "normalize"
[[models]]
name = "cnn1d"
n_pixels = 64
filters = [4, 8]
ensemble = {ensemble}
[protocol]
epochs = [1]
batch_size = 16
"""


def test_ensemble_0_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG.format(ensemble=0)))
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(word in lines[0] for word in ("ensemble", "0", ">= 1")), lines[0]
    with pytest.raises(BenchError, match="ensemble: 0 is not valid"):
        CNN1D(ensemble=0)


def test_bench_run_with_an_ensemble(tmp_path: Path) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG.format(ensemble=2)))
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    (result,) = load_report(tmp_path / "run" / "report.json")["results"]
    assert result["status"] == "ok" and result["model_info"]["ensemble"] == 2
    assert len(result["history"]["loss"]) == 1
    cell = tmp_path / "run" / result["path"]
    assert (model_dir(cell) / "member1.keras").is_file()
    assert json.loads((cell / "cell.json").read_text())["model"]["params"]["ensemble"] == 2


@pytest.mark.slow
def test_frozen_backbone_ensemble_caches_features_per_member(tmp_path: Path) -> None:
    from bench_plugins.models.keras.applications import ResNet50

    params = {"image_size": [32, 32], "channels": 1, "weights": "none", "batch_size": 16}
    model, train, test = built(ResNet50, seed=0, ensemble=2, **params)
    model.fit(train, test, epochs=1)
    model.fit(train, test, epochs=2, initial_epoch=1)
    assert isinstance(model, ResNet50) and len(model.feature_cache) == 0  # the members' own
    assert [len(m.feature_cache) for m in members(model)] == [2, 2]  # train and validation, once
    proba = model.predict_proba(test)
    a, b = (m.predict_proba(test) for m in members(model))
    np.testing.assert_allclose(proba, (a + b) / 2, rtol=0, atol=1e-12)
    model.save(tmp_path)
    again = ResNet50(**params, ensemble=2)
    again.load(tmp_path)
    np.testing.assert_allclose(again.predict_proba(test), proba, rtol=0, atol=1e-6)
