"""A LeNet-style CNN for 28x28x1 images: the paper's "MNIST" model.

The paper's Table 1 lists the models' original settings (MNIST: 28x28x1 inputs, 10
classes, learning rate 60E-3, 15 layers, 96.3 % accuracy); it does not give the layers.
Here: two 5x5 convolution + max-pooling stages (32, 64 filters), a 128-unit dense layer,
dropout and a softmax head. With ``pretrained = "mnist"`` the network is first trained on
the MNIST digits (``keras.datasets.mnist`` online, or a local ``mnist.npz``), then the
10-digit head is replaced by one over the spectral classes. The default learning rate is
Adam's 1e-3; set ``learning_rate = 0.06`` with ``optimizer = "sgd"`` for Table 1's value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.errors import BenchError
from bench.options import Option
from bench_plugins.models.keras.base import KerasModel, import_keras
from bench_plugins.models.keras.options import TRAINING_OPTIONS

if TYPE_CHECKING:
    import keras

MIN_SIZE = 8


class MnistCNN(KerasModel):
    name = "mnist_cnn"
    description = "LeNet-style CNN for 28x28x1 images, optionally pre-trained on MNIST"
    options = (
        Option("image_size", list, [28, 28], "input image [height, width]", item_type=int),
        Option("channels", int, 1, "channels of the rendered image", (1,)),
        Option("pretrained", str, "none", "pre-train on MNIST digits first", ("none", "mnist")),
        Option("mnist_path", str, "", "local mnist.npz (x_train, y_train); '' downloads it"),
        Option("pretrain_epochs", int, 1, "epochs on the MNIST digits"),
        Option("dropout", float, 0.5, "dropout rate before the softmax head"),
        *TRAINING_OPTIONS,
    )
    quick_options: ClassVar[dict[str, Any]] = {}

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        size = self.params["image_size"]
        if len(size) != 2 or min(size) < MIN_SIZE:
            raise BenchError(
                f"model {self.name}.image_size: {size!r} is not valid; "
                f"expected [height, width] each >= {MIN_SIZE}"
            )
        return (size[0], size[1], self.params["channels"])

    def make_network(self, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
        keras = import_keras()
        layers = keras.layers
        inputs = keras.Input(input_shape, name="image")
        x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(inputs)
        x = layers.MaxPooling2D(2, name="pool1")(x)
        x = layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2")(x)
        x = layers.MaxPooling2D(2, name="pool2")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(128, activation="relu", name="dense")(x)
        x = layers.Dropout(self.params["dropout"], name="head_dropout")(x)
        if self.params["pretrained"] == "mnist":
            self.pretrain(keras.Model(inputs, x, name="body"))
        outputs = layers.Dense(
            n_classes, activation="softmax", name="head_dense", dtype=self.head_dtype()
        )(x)
        return keras.Model(inputs, outputs, name=self.name)

    def pretrain(self, body: keras.Model) -> None:
        """Train ``body`` with a 10-digit head on MNIST; the digit head is then dropped."""
        keras = import_keras()
        x, y = self.digits()
        if x.shape[1:3] != tuple(body.input_shape[1:3]):
            x = np.asarray(keras.ops.image.resize(x, body.input_shape[1:3]))
        digits = keras.Model(
            body.inputs,
            keras.layers.Dense(10, activation="softmax", name="digits", dtype=self.head_dtype())(
                body.output
            ),
        )
        self.compile(digits)
        digits.fit(
            x,
            y,
            batch_size=self.params["batch_size"],
            epochs=self.params["pretrain_epochs"],
            shuffle=True,
            verbose=0,
        )

    def digits(self) -> tuple[np.ndarray, np.ndarray]:
        """MNIST training digits as (N, 28, 28, 1) float32 in [0, 1] and int labels."""
        path = self.params["mnist_path"]
        if path:
            if not Path(path).is_file():
                raise BenchError(f"model {self.name}.mnist_path: {path!r} is not a file")
            with np.load(path) as data:
                if not {"x_train", "y_train"} <= set(data.files):
                    raise BenchError(
                        f"{path}: expected arrays x_train and y_train (keras mnist.npz layout)"
                    )
                x, y = data["x_train"], data["y_train"]
        else:
            keras = import_keras()
            try:
                (x, y), _ = keras.datasets.mnist.load_data()
            except Exception as err:
                home = os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))
                raise BenchError(
                    f"model {self.name}.pretrained: could not download mnist.npz "
                    f"({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}); "
                    f"offline, copy it to {home}/datasets/mnist.npz or set mnist_path"
                ) from err
        return (x.astype(np.float32) / 255.0)[..., None], y.astype(np.int32)
