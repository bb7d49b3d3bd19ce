"""The Keras models' ``lr_schedule`` option: ``cosine`` sets each epoch's learning rate on
a half cosine from ``learning_rate`` towards 0 at the fit's last epoch; ``constant`` (the
default) leaves the optimizer's rate alone. Tiny networks, seconds each."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.backend import ensure_jax_backend
from bench.errors import BenchError
from bench_plugins.models.keras.cnn1d import CNN1D
from tests.test_models import built

ensure_jax_backend()

import keras  # noqa: E402

from bench_plugins.models.keras.callbacks import cosine_schedule  # noqa: E402

TINY = {"n_pixels": 64, "filters": [4, 8], "batch_size": 16}


def test_cosine_schedule_falls_from_the_base_rate_and_never_reaches_zero() -> None:
    rate = cosine_schedule(0.01, 4)
    rates = [rate(e, 0.0) for e in range(4)]
    assert rates[0] == pytest.approx(0.01)
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    assert rates[-1] == pytest.approx(0.01 * (1 - math.cos(math.pi / 4)) / 2) and rates[-1] > 0
    assert rates[2] == pytest.approx(0.005)  # half way: half the rate
    assert rate(7, 0.0) == rates[-1]  # epochs beyond the fit's end keep the last rate


class Rates(keras.callbacks.Callback):
    """The optimizer's learning rate during every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.seen.append(float(np.asarray(self.model.optimizer.learning_rate)))


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_cnn1d_trains_on_the_schedule(schedule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench_plugins.models.keras import base

    seen = Rates()
    fit = keras.Model.fit

    def watched(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), seen]
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(base.import_keras().Model, "fit", watched)
    model, train, test = built(CNN1D, seed=3, learning_rate=0.004, lr_schedule=schedule, **TINY)
    model.fit(train, test, epochs=3)
    want = (
        [0.004] * 3
        if schedule == "constant"
        else [cosine_schedule(0.004, 3)(e, 0) for e in range(3)]
    )
    assert seen.seen == pytest.approx(want, rel=1e-5)


def test_an_unknown_schedule_is_a_one_line_error() -> None:
    with pytest.raises(BenchError, match="lr_schedule"):
        CNN1D(lr_schedule="linear")
