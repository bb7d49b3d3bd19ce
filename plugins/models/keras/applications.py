"""InceptionV3 and ResNet50 (keras.applications) with a new classification head.

The paper (Lara-Cruz & Garcia 2024, Table 1 and section 3) used ImageNet weights at
224x224x3 and kept them fixed while training for spectra: ``mode = "frozen"``. In frozen
mode the backbone's pooled features are computed once per split and only the head
(dropout + dense softmax) is trained on them; the saved model is the head and a
reference to the untouched backbone (its weights argument, seed and weights hash,
rebuilt on load: :mod:`~bench_plugins.models.keras.frozen`).
With ``feature_dir`` set, the features are extracted in streaming batches (rendered on
the device when ``device_render`` is on) into memory-mapped ``.npy`` files there instead
of RAM (300k x 2048 float32 features are 2.4 GB).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.errors import BenchError
from bench.interfaces import ModelInput
from bench.options import Option
from bench_plugins.models.common import read_meta
from bench_plugins.models.keras import frozen
from bench_plugins.models.keras.base import KerasModel, import_keras
from bench_plugins.models.keras.ensemble import check_member_count
from bench_plugins.models.keras.features import FeatureCache
from bench_plugins.models.keras.options import TRAINING_OPTIONS

if TYPE_CHECKING:
    import keras

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
    Option(
        "cache_features",
        bool,
        True,
        "frozen mode: train the head on cached features (not with augment: augmented "
        "spectra change every epoch)",
    ),
    Option(
        "feature_dir",
        str,
        "",
        "frozen mode: '' keeps cached features in RAM; a folder: stream them into "
        "memory-mapped files in a temporary subfolder there (removed with the model)",
    ),
)


def keras_cache_file(filename: str) -> str:
    """Where Keras's downloader caches a weights file (``$KERAS_HOME/models``)."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "models", filename)


def two_rows_like(x: np.ndarray, step: int = 1 << 14) -> np.ndarray:
    """Two rows with the per-column mean and variance of ``x`` (mean -+ std), computed a
    chunk at a time (float64): adapts a Normalization layer to memory-mapped features
    without reading them all into RAM."""
    total = np.zeros(x.shape[1])
    for s in range(0, len(x), step):
        total += x[s : s + step].sum(axis=0, dtype=np.float64)
    mean = total / max(len(x), 1)
    squares = np.zeros(x.shape[1])
    for s in range(0, len(x), step):
        squares += ((x[s : s + step] - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / max(len(x), 1))
    return np.stack([mean - std, mean + std]).astype(np.float32)


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
        self._reference: dict[str, Any] | None = None  # of a frozen backbone, from build
        self.feature_cache = FeatureCache(self.name, self.params["feature_dir"])

    def build(self, input_shape: tuple[int, ...], classes: Any, seed: int) -> None:
        self._head, self._extractor = None, None
        self.feature_cache.clear()
        super().build(input_shape, classes, seed)
        self._reference = None
        if self.params["mode"] == "frozen":  # what save() may point to instead of copying
            backbone = self._network().get_layer(frozen.BACKBONE)
            self._reference = {
                "constructor": self.constructor,
                "weights": self.params["weights"],
                "seed": int(seed),
                "sha256": frozen.weights_hash(backbone),
            }

    def save(self, directory: Path) -> None:
        """Frozen mode: the head and the backbone's reference; else the whole model."""
        reference = self._reference
        backbone = self._network().get_layer(frozen.BACKBONE)
        if reference is None or frozen.weights_hash(backbone) != reference["sha256"]:
            super().save(directory)  # trained, or touched: no reference can rebuild it
            return
        meta = {"model": self.name, "classes": self.classes, "input_shape": list(self.shape)}
        frozen.save_head(self._network(), Path(directory), meta, reference)

    def load(self, directory: Path) -> None:
        """A saved head on the rebuilt, hash-checked backbone; or a whole ``model.keras``."""
        self._head, self._extractor = None, None
        self.feature_cache.clear()
        directory = Path(directory)
        meta = read_meta(directory, self.name)
        reference = meta.get(frozen.BACKBONE)
        if reference is None:
            super().load(directory)
            return
        check_member_count(directory, meta, self.name, 1)
        for key, value in (("constructor", self.constructor), ("weights", self.params["weights"])):
            if reference[key] != value:
                raise BenchError(
                    f"{directory / 'model.json'}: saved with backbone {key} "
                    f"{reference[key]!r}; model {self.name} has {value!r}"
                )
        self.build(tuple(meta["input_shape"]), meta["classes"], int(reference["seed"]))
        frozen.check_backbone(self._reference, reference, directory)
        frozen.load_head(self._network(), directory)

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
        from bench_plugins.models.keras.layers import ImageNetInput

        backbone = self.backbone((*input_shape[:2], 3))
        inputs = keras.Input(input_shape, name="image")
        f32 = self.head_dtype()  # None (default policy) unless mixed precision
        x = backbone(ImageNetInput(self.family, name="imagenet_input", dtype=f32)(inputs))
        if self.params["mode"] == "frozen":
            # standardise the fixed features (set from the training features in fit):
            # random-init backbones give features ~1e-3 that barely vary between inputs
            x = keras.layers.Normalization(name="head_norm", dtype=f32)(x)
        x = keras.layers.Dropout(self.params["dropout"], name="head_dropout", dtype=f32)(x)
        outputs = keras.layers.Dense(n_classes, activation="softmax", name="head_dense", dtype=f32)(
            x
        )
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
        self, train: ModelInput, validation: ModelInput | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        if self.params["mode"] != "frozen":
            return super().fit(train, validation, epochs, initial_epoch)
        if initial_epoch == 0:  # before anything traces the head
            x = self.features(train)
            norm = self._network().get_layer("head_norm")
            norm.adapt(x if not isinstance(x, np.memmap) else two_rows_like(x))
        if not self.params["cache_features"] or self.params["augment"]:
            # the full model recomputes features every batch (augmented spectra change
            # every epoch, so their features cannot be cached)
            self.feature_cache.clear()
            return super().fit(train, validation, epochs, initial_epoch)
        from bench_plugins.models.keras.data import TrainingBatches

        x_train = self.features(train)
        batch = train.rebatched(self.params["batch_size"])
        data = TrainingBatches(batch, self.class_weights(batch), x_of=x_train.__getitem__)
        val = None
        if validation is not None and validation.n_samples:
            x_val = self.features(validation)
            in_order = validation.rebatched(self.params["batch_size"]).in_order()
            val = TrainingBatches(in_order, x_of=x_val.__getitem__)
        return self.run_fit(self.head(), data, val, epochs, initial_epoch, progress=self.progress)

    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        """Frozen mode: the head on cached features when ``inputs`` was seen in ``fit``."""
        x = self.feature_cache.get(inputs)
        if x is None:
            return super().predict_proba(inputs)
        step = 1 << 14  # memory-mapped features: a chunk in RAM at a time
        parts = [
            self.head().predict(np.asarray(x[s : s + step]), verbose=0)
            for s in range(0, len(x), step)
        ]
        proba = np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, 0))
        return proba / proba.sum(axis=1, keepdims=True)

    def features(self, inputs: ModelInput) -> np.ndarray:
        """Pooled backbone features of ``inputs`` in position order, computed once per
        input (shipped like the images, rendered on the device when that is on)."""
        x = self.feature_cache.get(inputs)
        if x is not None:
            return x
        keras = import_keras()
        from bench_plugins.models.keras.data import InputsOnly

        start = time.perf_counter()
        if self._extractor is None:  # kept: its compiled predict step is reused
            network = self._network()
            pooled = network.get_layer("head_norm").input  # the backbone output
            self._extractor = keras.Model(network.inputs, pooled)
        shipped = self.shipped(inputs.rebatched(self.params["batch_size"]))
        extractor = self.wrapped(self._extractor, shipped)
        data = InputsOnly(shipped, workers=self.params["workers"])
        try:
            x = self.feature_cache.extract(extractor, data, inputs.n_samples)
        finally:
            data.close()
        self.feature_cache.add(inputs, x)
        self.add_timing({"features_s": time.perf_counter() - start})
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
