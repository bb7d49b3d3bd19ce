"""Model plugins on tiny inputs: build, train, predict, save and reload, continued fits,
frozen-backbone feature caching, weights files, and the one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.errors import BenchError
from bench.feed import Feed, Pipeline
from bench.interfaces import Model, Renderer
from bench.spectra import ArraySource, SpectrumBatch, empty_batch
from bench_plugins.models import MODELS
from bench_plugins.models.logreg import softmax_proba

CLASSES = ["STAR", "GALAXY", "QSO"]
N_TRAIN, N_TEST = 32, 16  # whole batches of 16: one compiled shape per step


class TinyRenderer(Renderer):
    """Flux resampled to ``shape[0]`` (1-D models) or drawn as a filled curve (images)."""

    name = "tiny"

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        width = shape[1] if len(shape) == 3 else shape[0]
        grid = np.linspace(0, batch.flux.shape[1] - 1, width)
        flux = np.stack([np.interp(grid, np.arange(batch.flux.shape[1]), f) for f in batch.flux])
        lo, hi = flux.min(axis=1, keepdims=True), flux.max(axis=1, keepdims=True)
        flux = ((flux - lo) / np.maximum(hi - lo, 1e-6)).astype(np.float32)
        if len(shape) == 2:
            return flux[..., None]
        rows = np.linspace(1, 0, shape[0])[None, :, None]
        image = (flux[:, None, :] >= rows).astype(np.float32)
        return np.repeat(image[..., None], shape[2], axis=-1)


def spectra(n: int, seed: int, labels: list[str] | None = None) -> ArraySource:
    """Three toy classes: a rising continuum, a falling one, and a flat one with a line."""
    rng = np.random.default_rng(seed)
    loglam = 3.6 + 1e-3 * np.arange(200)
    batch = empty_batch(loglam, n)
    t = np.linspace(-1, 1, 200)
    for i in range(n):
        label = labels[i] if labels else CLASSES[i % 3]
        shape = {"STAR": 1 + t, "GALAXY": 1 - t, "QSO": 1 + 3 * np.exp(-((t / 0.05) ** 2))}[label]
        batch.flux[i] = shape + rng.normal(0, 0.2, 200)
        batch.ivar[i], batch.labels[i], batch.ids[i] = 1.0, label, f"obj{i}"
    return ArraySource(batch)


def feed(shape: tuple[int, ...], n: int, seed: int = 0, shuffle: bool = False, **kw: Any) -> Feed:
    pipeline = Pipeline([], TinyRenderer(), shape)
    source = spectra(n, seed, kw.pop("labels", None))
    return Feed(source, np.arange(n), pipeline, CLASSES, 16, shuffle=shuffle, seed=seed, **kw)


def built(cls: type[Model], seed: int = 0, **params: Any) -> tuple[Model, Feed, Feed]:
    model = cls(**params)
    shape = model.input_shape(200)
    model.build(shape, CLASSES, seed)
    return model, feed(shape, N_TRAIN, shuffle=True), feed(shape, N_TEST, seed=1)


TINY: dict[str, dict[str, Any]] = {
    "inception_v3": {"image_size": [75, 75], "weights": "none", "batch_size": 16},
    "resnet50": {"image_size": [32, 32], "channels": 1, "weights": "none", "batch_size": 16},
    "mnist_cnn": {"batch_size": 16},
    "cnn1d": {"n_pixels": 64, "batch_size": 16},
    "logreg": {"n_pixels": 64},
}


def test_every_model_has_a_tiny_configuration() -> None:
    assert sorted(TINY) == sorted(m.name for m in MODELS)


HEAVY = {"inception_v3", "resnet50"}  # keras.applications: slow to initialise on CPU


@pytest.mark.parametrize(
    "cls",
    [pytest.param(m, marks=[pytest.mark.slow] if m.name in HEAVY else []) for m in MODELS],
    ids=lambda m: m.name,
)
def test_train_predict_save_reload(cls: type[Model], tmp_path: Path) -> None:
    model, train, test = built(cls, **TINY[cls.name])
    history = model.fit(train, test, epochs=1)
    assert {k: len(v) for k, v in history.items()} == dict.fromkeys(
        ["loss", "accuracy", "val_loss", "val_accuracy"], 1
    )
    proba = model.predict_proba(test)
    assert proba.shape == (N_TEST, len(CLASSES))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (proba >= 0).all()
    model.save(tmp_path)
    again = cls(**TINY[cls.name])
    again.load(tmp_path)
    np.testing.assert_allclose(again.predict_proba(test), proba, rtol=0, atol=1e-6)
    info = again.describe()
    assert info["parameters"] > 0
    if cls.name != "logreg":
        assert info["backend"] == "jax"


def test_continued_fit_equals_one_long_fit() -> None:
    params = {"n_pixels": 32, "filters": [4, 8], "batch_size": 8}
    cls = next(m for m in MODELS if m.name == "cnn1d")
    a, train_a, test = built(cls, seed=3, **params)
    first = a.fit(train_a, test, epochs=1)
    second = a.fit(train_a, test, epochs=2, initial_epoch=1)
    b, train_b, _ = built(cls, seed=3, **params)
    both = b.fit(train_b, test, epochs=2)
    assert len(second["loss"]) == 1
    np.testing.assert_allclose(first["loss"] + second["loss"], both["loss"], rtol=1e-5)
    np.testing.assert_allclose(a.predict_proba(test), b.predict_proba(test), atol=1e-6)
    # each call trained (the equalities above are not between untrained models)
    assert not np.allclose(first["loss"][0], second["loss"][0], rtol=1e-3)


@pytest.mark.slow
def test_frozen_feature_cache_matches_frozen_full_model() -> None:
    from bench_plugins.models.keras.applications import ResNet50

    params = {"image_size": [32, 32], "weights": "none", "batch_size": 8, "dropout": 0.5}
    cached, train, test = built(ResNet50, seed=5, **params)
    full, train_full, _ = built(ResNet50, seed=5, cache_features=False, **params)
    h_cached = cached.fit(train, test, epochs=2)
    h_full = full.fit(train_full, test, epochs=2)
    np.testing.assert_allclose(h_cached["loss"], h_full["loss"], rtol=1e-4)
    proba = cached.predict_proba(test)
    np.testing.assert_allclose(proba, full.predict_proba(test), atol=1e-5)
    head = cached.head().predict(cached.features(test), verbose=0)
    np.testing.assert_allclose(proba, head, atol=1e-5)
    backbone = cached.network.get_layer("backbone")
    assert not backbone.trainable and cached.describe()["trainable_parameters"] < 10_000


def test_backbone_weights_from_a_file(tmp_path: Path) -> None:
    from bench_plugins.models.keras.applications import ResNet50

    source = ResNet50(image_size=[32, 32], weights="none")
    source.build(source.input_shape(0), CLASSES, seed=1)
    path = tmp_path / "backbone.weights.h5"
    source.network.get_layer("backbone").save_weights(path)
    loaded = ResNet50(image_size=[32, 32], weights=str(path))
    loaded.build(loaded.input_shape(0), CLASSES, seed=2)
    fresh = ResNet50(image_size=[32, 32], weights="none", mode="finetune", finetune_blocks=1)
    fresh.build(fresh.input_shape(0), CLASSES, seed=2)
    names = [w.path for w in fresh.network.trainable_weights]
    assert "head_dense/kernel" in names
    backbone = [n for n in names if not n.startswith("head_dense/")]
    assert backbone and all(n.startswith("conv5_block3_") and "_bn/" not in n for n in backbone)
    want = source.network.get_layer("backbone").get_weights()
    got = loaded.network.get_layer("backbone").get_weights()
    assert all(np.array_equal(w, g) for w, g in zip(want, got, strict=True))
    other = fresh.network.get_layer("backbone").get_weights()
    assert not all(np.array_equal(w, o) for w, o in zip(want, other, strict=True))
    with pytest.raises(BenchError, match="weights: .*not a file"):
        ResNet50(image_size=[32, 32], weights=str(tmp_path / "missing.h5")).build(
            (32, 32, 3), CLASSES, 0
        )


def test_offline_imagenet_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from keras.src.utils import file_utils

    from bench_plugins.models.keras.applications import InceptionV3

    def offline(*args: Any, **kwargs: Any) -> str:
        raise Exception("URL fetch failure on https://storage.googleapis.com/x: None -- offline")

    monkeypatch.setattr(file_utils, "get_file", offline)
    model = InceptionV3(image_size=[75, 75])
    with pytest.raises(BenchError) as err:
        model.build(model.input_shape(0), CLASSES, 0)
    message = str(err.value)
    assert "\n" not in message
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert ".keras/models/" in message


@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        ("inception_v3", {"image_size": [64, 64]}, "image_size: .*>= 75"),
        ("resnet50", {"image_size": [16, 32]}, "image_size: .*>= 32"),
        ("resnet50", {"image_size": [32]}, "image_size"),
        ("mnist_cnn", {"image_size": [4, 4]}, "image_size"),
        ("cnn1d", {"n_pixels": 8}, "n_pixels: 8 is too small"),
    ],
)
def test_bad_input_size_is_a_bench_error(name: str, params: dict[str, Any], pattern: str) -> None:
    cls = next(m for m in MODELS if m.name == name)
    with pytest.raises(BenchError, match=pattern):
        cls(**params).input_shape(200)


def test_mode_errors() -> None:
    from bench_plugins.models.keras.applications import ResNet50

    with pytest.raises(BenchError, match="finetune_blocks: 99"):
        ResNet50(image_size=[32, 32], weights="none", mode="finetune", finetune_blocks=99).build(
            (32, 32, 3), CLASSES, 0
        )
    with pytest.raises(BenchError, match="mode is 'scratch'"):
        ResNet50(image_size=[32, 32], weights="w.h5", mode="scratch").build((32, 32, 3), CLASSES, 0)


def test_mnist_pretraining_from_a_local_npz(tmp_path: Path) -> None:
    from bench_plugins.models.keras.mnist_cnn import MnistCNN

    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (64, 28, 28), np.uint8), y_train=np.arange(64) % 10)
    plain, _, _ = built(MnistCNN, seed=0)
    pretrained, train, test = built(MnistCNN, seed=0, pretrained="mnist", mnist_path=str(path))
    kernel = pretrained.network.get_layer("conv1").get_weights()[0]
    assert not np.allclose(kernel, plain.network.get_layer("conv1").get_weights()[0])
    assert pretrained.network.output_shape == (None, len(CLASSES))
    with pytest.raises(BenchError, match="mnist_path"):
        built(MnistCNN, pretrained="mnist", mnist_path=str(tmp_path / "nope.npz"))


def test_logreg_keeps_class_order_when_a_class_is_missing() -> None:
    from bench_plugins.models.logreg import LogisticRegression

    labels = ["STAR", "QSO"] * 10
    model = LogisticRegression(n_pixels=32)
    shape = model.input_shape(200)
    model.build(shape, CLASSES, 0)
    model.fit(feed(shape, 20, labels=labels), None, epochs=3)
    test = feed(shape, 12, seed=1, labels=labels[:12])
    proba = model.predict_proba(test)
    assert (proba[:, 1] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == test.y).mean() > 0.8


def test_softmax_proba_matches_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    for n_classes in (2, 3):
        y = rng.integers(0, n_classes, 60)
        fitted = LogisticRegression().fit(x, y)
        ours = softmax_proba(x, fitted.coef_, fitted.intercept_)
        np.testing.assert_allclose(ours, fitted.predict_proba(x), atol=1e-10)


def test_balanced_weights_match_scikit_learn() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    from bench_plugins.models.keras.data import balanced_weights

    y = np.array([0, 0, 0, 2, 2, 0, -1])
    want = compute_class_weight("balanced", classes=np.array([0, 2]), y=y[y >= 0])
    np.testing.assert_allclose(balanced_weights(y, 3), [want[0], 0.0, want[1]])


def test_plugin_modules_do_not_import_keras() -> None:
    code = "import sys, bench_plugins.models; print(sorted({'keras','jax','sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


FROZEN = {"image_size": [32, 32], "channels": 1, "weights": "none", "batch_size": 16}


@pytest.mark.slow
def test_a_frozen_backbone_is_saved_by_reference_and_rebuilt(tmp_path: Path) -> None:
    import json

    from bench_plugins.models.keras.applications import ResNet50
    from bench_plugins.models.keras.base import KerasModel

    model, train, test = built(ResNet50, seed=4, **FROZEN)
    model.fit(train, test, epochs=1)
    unseen = feed(model.input_shape(0), N_TEST, seed=9)  # not cached: the full network
    before, before_cached = model.predict_proba(unseen), model.predict_proba(test)
    model.save(tmp_path / "ref")
    assert sorted(p.name for p in (tmp_path / "ref").iterdir()) == ["head.npz", "model.json"]
    reference = json.loads((tmp_path / "ref" / "model.json").read_text())["backbone"]
    assert reference["constructor"] == "ResNet50" and reference["weights"] == "none"
    assert reference["seed"] == 4 and len(reference["sha256"]) == 64
    KerasModel.save(model, tmp_path / "whole")  # as cells were saved before
    assert _folder_bytes(tmp_path / "ref") * 100 < _folder_bytes(tmp_path / "whole")
    for folder in ("ref", "whole"):  # the new layout, and an old cell's whole model.keras
        again = ResNet50(**FROZEN)
        again.load(tmp_path / folder)
        np.testing.assert_array_equal(again.predict_proba(unseen), before)
        np.testing.assert_allclose(again.predict_proba(test), before_cached, atol=1e-6)


@pytest.mark.slow
def test_a_rebuilt_backbone_of_other_weights_is_refused(tmp_path: Path) -> None:
    import json

    from bench_plugins.models.keras.applications import ResNet50

    model, train, test = built(ResNet50, seed=4, **FROZEN)
    model.fit(train, test, epochs=1)
    model.save(tmp_path)
    meta_path = tmp_path / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["backbone"]["seed"] = 5  # the head was trained on seed 4's random backbone
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BenchError, match="is not the one this head was trained on"):
        ResNet50(**FROZEN).load(tmp_path)
    with pytest.raises(BenchError, match="saved with backbone weights 'none'"):
        ResNet50(**{**FROZEN, "weights": "imagenet"}).load(tmp_path)


@pytest.mark.slow
def test_a_backbone_changed_after_build_is_saved_whole(tmp_path: Path) -> None:
    from bench_plugins.models.keras.applications import ResNet50

    model, train, test = built(ResNet50, seed=4, **FROZEN)
    backbone = model.network.get_layer("backbone")
    weights = backbone.get_weights()
    backbone.set_weights([w + 0.01 for w in weights])  # no longer what seed 4 rebuilds
    model.fit(train, test, epochs=1)
    unseen = feed(model.input_shape(0), N_TEST, seed=9)
    before = model.predict_proba(unseen)
    model.save(tmp_path)
    assert (tmp_path / "model.keras").is_file() and not (tmp_path / "head.npz").exists()
    again = ResNet50(**FROZEN)
    again.load(tmp_path)
    np.testing.assert_array_equal(again.predict_proba(unseen), before)
