"""InceptionV3 and ResNet50 (keras.applications) with a new classification head.

The paper (Lara-Cruz & Garcia 2024, Table 1 and section 3) used ImageNet weights at
224x224x3 and kept them fixed while training for spectra: ``mode = "frozen"``. In frozen
mode the backbone's pooled features are computed once per split and only the head
(dropout + dense softmax) is trained on them; the saved model is the full backbone + head.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.errors import BenchError
from bench.options import Option
from bench_plugins.models.keras_base import TRAINING_OPTIONS, KerasModel, import_keras

if TYPE_CHECKING:
    import keras

    from bench.feed import Feed

IMAGE_OPTIONS = (
    Option("image_size", list, [224, 224], "input image [height, width]", item_type=int),
    Option("channels", int, 3, "channels of the rendered image (1 is repeated to 3)", (1, 3)),
    Option("weights", str, "imagenet", "'imagenet', 'none' or a path to a backbone weights file"),
    Option(
        "mode",
        str,
        "frozen",
        "frozen: backbone fixed, head trained (the paper); finetune: also the top "
        "finetune_blocks blocks; scratch: every layer from random initialisation",
        ("frozen", "finetune", "scratch"),
    ),
    Option("finetune_blocks", int, 1, "top backbone blocks trained in finetune mode"),
    Option("dropout", float, 0.2, "dropout rate before the dense softmax head"),
    Option("cache_features", bool, True, "frozen mode: train the head on cached features"),
)


def keras_cache_file(filename: str) -> str:
    """Where Keras's downloader caches a weights file (``$KERAS_HOME/models``)."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "models", filename)


class KerasApplication(KerasModel):
    """A keras.applications backbone (include_top=False, average pooling) plus a new head."""

    family: ClassVar[str] = ""  # module in keras.applications
    constructor: ClassVar[str] = ""
    min_size: ClassVar[int] = 32
    weights_file: ClassVar[str] = ""  # the ImageNet no-top file Keras downloads
    block_end: ClassVar[str] = ""  # regex naming the last layer of each backbone block
    options = (*IMAGE_OPTIONS, *TRAINING_OPTIONS)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._head: keras.Model | None = None
        self._extractor: keras.Model | None = None
        self._features: list[tuple[Feed, np.ndarray]] = []

    def build(self, input_shape: tuple[int, ...], classes: Any, seed: int) -> None:
        self._head, self._extractor, self._features = None, None, []
        super().build(input_shape, classes, seed)

    def load(self, directory: Path) -> None:
        self._head, self._extractor, self._features = None, None, []
        super().load(directory)

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        size = self.params["image_size"]
        if len(size) != 2 or min(size) < self.min_size:
            raise BenchError(
                f"model {self.name}.image_size: {size!r} is not valid; expected [height, width] "
                f"each >= {self.min_size} (the Keras minimum for {self.constructor})"
            )
        return (size[0], size[1], self.params["channels"])

    def make_network(self, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
        keras = import_keras()
        from bench_plugins.models.keras_parts import ImageNetInput

        backbone = self.backbone((*input_shape[:2], 3))
        inputs = keras.Input(input_shape, name="image")
        x = backbone(ImageNetInput(self.family, name="imagenet_input")(inputs))
        if self.params["mode"] == "frozen":
            # standardise the fixed features (set from the training features in fit):
            # random-init backbones give features ~1e-3 that barely vary between inputs
            x = keras.layers.Normalization(name="head_norm")(x)
        x = keras.layers.Dropout(self.params["dropout"], name="head_dropout")(x)
        outputs = keras.layers.Dense(n_classes, activation="softmax", name="head_dense")(x)
        return keras.Model(inputs, outputs, name=self.name)

    def backbone(self, shape: tuple[int, ...]) -> keras.Model:
        """The pre-trained (or random) backbone, frozen or partly unfrozen per ``mode``."""
        keras = import_keras()
        build = getattr(keras.applications, self.constructor)
        weights, mode = self.params["weights"], self.params["mode"]
        source: str | None = None if weights == "none" or mode == "scratch" else weights
        if mode == "scratch" and weights not in ("imagenet", "none"):
            raise BenchError(
                f"model {self.name}.weights: {weights!r} is a file but mode is 'scratch' "
                "(random initialisation); use mode 'frozen' or 'finetune'"
            )
        if source not in (None, "imagenet") and not Path(str(source)).is_file():
            raise BenchError(
                f"model {self.name}.weights: {source!r} is not a file; expected 'imagenet', "
                "'none' or a path to a weights file"
            )
        try:
            net = build(include_top=False, weights=source, input_shape=shape, pooling="avg")
        except Exception as err:
            raise self.weights_error(source, err) from err
        net.name = "backbone"
        self.set_trainable(net, mode)
        return net

    def weights_error(self, source: str | None, err: Exception) -> BenchError:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if source == "imagenet":
            return BenchError(
                f"model {self.name}.weights: could not download ImageNet weights "
                f"{self.weights_file} ({first}); offline, copy that file to "
                f"{keras_cache_file(self.weights_file)} or set weights to its path"
            )
        return BenchError(
            f"model {self.name}.weights: {source} does not fit {self.constructor} "
            f"without top ({first})"
        )

    def set_trainable(self, net: keras.Model, mode: str) -> None:
        """frozen: nothing; scratch: everything; finetune: layers after the Nth-last block
        end (BatchNormalization stays frozen, as Keras's transfer-learning guide advises)."""
        keras = import_keras()
        net.trainable = mode != "frozen"
        if mode != "finetune":
            return
        ends = [i for i, layer in enumerate(net.layers) if re.match(self.block_end, layer.name)]
        n = self.params["finetune_blocks"]
        if not 0 <= n < len(ends):
            raise BenchError(
                f"model {self.name}.finetune_blocks: {n} is not valid; expected 0..{len(ends) - 1}"
            )
        first = ends[-1 - n] + 1
        for i, layer in enumerate(net.layers):
            frozen = i < first or isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = not frozen

    # -- frozen mode: train the head on cached backbone features ------------------------

    def fit(
        self, train: Feed, validation: Feed | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        if self.params["mode"] != "frozen":
            return super().fit(train, validation, epochs, initial_epoch)
        if initial_epoch == 0:  # before anything traces the head
            self._network().get_layer("head_norm").adapt(self.features(train))
        if not self.params["cache_features"]:
            self._features = []  # the full model recomputes features every batch
            return super().fit(train, validation, epochs, initial_epoch)
        from bench_plugins.models.keras_parts import FeedDataset, in_index_order, with_batch_size

        x_train = self.features(train)
        batch = with_batch_size(train, self.params["batch_size"])
        data = FeedDataset(batch, self.class_weights(batch), x_of=x_train.__getitem__)
        val = None
        if validation is not None and validation.n_samples:
            x_val = self.features(validation)
            val_feed = in_index_order(with_batch_size(validation, self.params["batch_size"]))
            val = FeedDataset(val_feed, x_of=x_val.__getitem__)
        return self.run_fit(self.head(), data, val, epochs, initial_epoch, self.progress)

    def predict_proba(self, feed: Feed) -> np.ndarray:
        """Frozen mode: the head on cached features when ``feed`` was seen in ``fit``."""
        for known, x in self._features:
            if known is feed:
                proba = np.asarray(self.head().predict(x, verbose=0), dtype=np.float64)
                return proba / proba.sum(axis=1, keepdims=True)
        return super().predict_proba(feed)

    def features(self, feed: Feed) -> np.ndarray:
        """Pooled backbone features of ``feed`` in index order, computed once per feed."""
        for known, x in self._features:
            if known is feed:
                return x
        keras = import_keras()
        from bench_plugins.models.keras_parts import InputsOnly, with_batch_size

        if self._extractor is None:  # kept: its compiled predict step is reused
            network = self._network()
            pooled = network.get_layer("head_norm").input  # the backbone output
            self._extractor = keras.Model(network.inputs, pooled)
        data = InputsOnly(with_batch_size(feed, self.params["batch_size"]))
        x = np.asarray(self._extractor.predict(data, verbose=0), dtype=np.float32)
        self._features.append((feed, x))
        return x

    def head(self) -> keras.Model:
        """The head alone (sharing its layers with the full network), compiled once."""
        if self._head is None:
            keras = import_keras()
            network = self._network()
            width = network.get_layer("head_norm").input.shape[-1]
            inputs = keras.Input((width,), name="features")
            x = network.get_layer("head_norm")(inputs)
            x = network.get_layer("head_dropout")(x)
            self._head = keras.Model(inputs, network.get_layer("head_dense")(x), name="head")
            self.compile(self._head)
        return self._head


class InceptionV3(KerasApplication):
    name = "inception_v3"
    description = "InceptionV3 backbone (keras.applications) + dense softmax head"
    family, constructor, min_size = "inception_v3", "InceptionV3", 75
    weights_file = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    block_end = r"mixed\d+$"
    quick_options: ClassVar[dict[str, Any]] = {"image_size": [75, 75], "weights": "none"}


class ResNet50(KerasApplication):
    name = "resnet50"
    description = "ResNet50 backbone (keras.applications) + dense softmax head"
    family, constructor, min_size = "resnet50", "ResNet50", 32
    weights_file = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    block_end = r"conv\d_block\d+_out$"
    quick_options: ClassVar[dict[str, Any]] = {"image_size": [32, 32], "weights": "none"}
