"""A QuasarNET-like 1-D CNN on resampled, normalised flux (a baseline beyond the paper).

QuasarNET (Busca & Balland 2018) stacks four 1-D convolutions with batch normalisation
on the coadded flux before dense layers. Here: ``filters`` blocks of Conv1D + batch
normalisation + ReLU + max-pooling (halving the grid), then a 64-unit dense layer,
dropout and a softmax head. The renderer resamples each spectrum to ``n_pixels``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from bench.options import Option
from bench_plugins.models.common import FLUX_OPTIONS, check_pixels
from bench_plugins.models.keras.base import KerasModel, import_keras
from bench_plugins.models.keras.options import TRAINING_OPTIONS

if TYPE_CHECKING:
    import keras


class CNN1D(KerasModel):
    name = "cnn1d"
    description = "QuasarNET-like 1-D CNN on the resampled flux vector"
    input_kind = "flux"
    options = (
        *FLUX_OPTIONS,
        Option("filters", list, [32, 64, 64, 128], "filters of each conv block", item_type=int),
        Option("kernel_size", int, 10, "convolution width in pixels"),
        Option("dropout", float, 0.3, "dropout rate before the softmax head"),
        *TRAINING_OPTIONS,
    )
    quick_options: ClassVar[dict[str, Any]] = {"n_pixels": 128}

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        check_pixels(self.name, self.params["n_pixels"], 2 ** len(self.params["filters"]))
        return (self.params["n_pixels"], 1)

    def make_network(self, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
        keras = import_keras()
        layers = keras.layers
        inputs = keras.Input(input_shape, name="flux")
        x = inputs
        for i, filters in enumerate(self.params["filters"], start=1):
            x = layers.Conv1D(filters, self.params["kernel_size"], padding="same", name=f"conv{i}")(
                x
            )
            x = layers.BatchNormalization(name=f"bn{i}")(x)
            x = layers.Activation("relu", name=f"relu{i}")(x)
            x = layers.MaxPooling1D(2, name=f"pool{i}")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(64, activation="relu", name="dense")(x)
        x = layers.Dropout(self.params["dropout"], name="head_dropout")(x)
        outputs = layers.Dense(n_classes, activation="softmax", name="head_dense")(x)
        return keras.Model(inputs, outputs, name=self.name)
