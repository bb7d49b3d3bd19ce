"""Stochastic weight averaging of the Keras models (option ``average_epochs``): the fit ends
with the mean of the weights at the ends of its last N epochs, validation in those epochs
scores that mean, training itself is unchanged, and ``average_epochs = 0`` is a one-line
error. Tiny networks, seconds each."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.backend import ensure_jax_backend
from bench.errors import BenchError
from bench_plugins.models.keras.cnn1d import CNN1D
from tests.test_models import built

ensure_jax_backend()

import keras  # noqa: E402

from bench_plugins.models.keras.callbacks import WeightAverage  # noqa: E402

TINY = {"n_pixels": 64, "filters": [4, 8], "batch_size": 16}


class EpochWeights(keras.callbacks.Callback):
    """The weights at the end of every epoch (after validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.seen.append([np.array(w) for w in self.model.get_weights()])


def tiny_network(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),  # a seed-state variable: integers are not averaged
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 8)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)


def floats(weights: list[np.ndarray]) -> list[np.ndarray]:
    return [w for w in weights if np.issubdtype(w.dtype, np.floating)]


@pytest.mark.parametrize("validate", [False, True])
def test_the_fit_ends_with_the_mean_of_the_last_epochs(validate: bool) -> None:
    x, y = data()
    model, seen = tiny_network(1), EpochWeights()
    model.fit(
        x, y, epochs=4, batch_size=16, verbose=0, shuffle=False,
        validation_data=(x, y) if validate else None, callbacks=[WeightAverage(2), seen],
    )  # fmt: skip
    last_two = [floats(s) for s in seen.seen[-2:]]
    expected = [(a.astype(np.float64) + b) / 2 for a, b in zip(*last_two, strict=True)]
    final = floats(model.get_weights())
    assert len(final) == len(expected) and len(final) >= 6  # kernels, biases, BN statistics
    for got, want in zip(final, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(got, last) for got, last in zip(final, last_two[1], strict=True))


def test_validation_scores_the_mean_and_training_is_unchanged() -> None:
    x, y = data()
    averaged, seen = tiny_network(2), EpochWeights()
    history = averaged.fit(
        x, y, epochs=3, batch_size=16, verbose=0, shuffle=False, validation_data=(x, y),
        callbacks=[WeightAverage(3), seen],
    ).history  # fmt: skip
    plain, plain_seen = tiny_network(2), EpochWeights()
    plain_history = plain.fit(
        x, y, epochs=3, batch_size=16, verbose=0, shuffle=False, validation_data=(x, y),
        callbacks=[plain_seen],
    ).history  # fmt: skip
    # the swap for validation is undone: the training trajectory is the plain one
    assert history["loss"] == pytest.approx(plain_history["loss"], rel=1e-5)
    for mine, theirs in zip(seen.seen, plain_seen.seen, strict=True):
        for a, b in zip(floats(mine), floats(theirs), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # epoch 1 validates its own weights; the last validates the mean the fit ends with
    assert history["val_loss"][0] == pytest.approx(plain_history["val_loss"][0], rel=1e-5)
    final = averaged.evaluate(x, y, batch_size=16, verbose=0)
    assert history["val_loss"][-1] == pytest.approx(final, rel=1e-4)
    assert history["val_loss"][-1] != pytest.approx(plain_history["val_loss"][-1], rel=1e-3)


def test_cnn1d_option_averages_its_last_epochs() -> None:
    def weights(epochs: int = 3, **params: Any) -> list[np.ndarray]:
        model, train, test = built(CNN1D, seed=3, **TINY, **params)
        assert isinstance(model, CNN1D)
        model.fit(train, test, epochs=epochs)
        return floats([np.asarray(w) for w in model._network().get_weights()])

    two, three = weights(epochs=2), weights()
    averaged = weights(average_epochs=2)
    for got, a, b in zip(averaged, two, three, strict=True):
        np.testing.assert_allclose(got, (a.astype(np.float64) + b) / 2, rtol=1e-4, atol=1e-5)
    assert CNN1D(average_epochs=1).params["average_epochs"] == 1


def test_average_epochs_0_is_a_one_line_error() -> None:
    with pytest.raises(BenchError, match="average_epochs: 0 is not valid"):
        CNN1D(average_epochs=0)
