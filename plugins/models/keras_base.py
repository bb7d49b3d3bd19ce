"""The shared Keras model plugin: training through a streaming PyDataset over a Feed,
per-epoch history, ``.keras`` save and safe-mode reload. Keras is imported lazily.

With more than one local JAX device, a model that uses the fit/predict below trains
data-parallel (``keras.distribution.DataParallel``, scoped to the model): the batch size
is rounded up to a multiple of the device count and short batches are padded with
zero-weight samples (recorded as ``devices``/``batch_size`` in ``describe()``)."""

from __future__ import annotations

import contextlib
import json
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Model
from bench.options import Option

if TYPE_CHECKING:
    import keras

    from bench.feed import Feed

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

TRAINING_OPTIONS = (
    Option("batch_size", int, 32, "samples per gradient step"),
    Option("optimizer", str, "adam", "optimizer", choices=("adam", "sgd", "rmsprop")),
    Option("learning_rate", float, 1e-3, "optimizer learning rate"),
    Option(
        "class_weight",
        str,
        "none",
        "'balanced' weights each class by n_samples / (n_classes * count) in the loss",
        choices=("none", "balanced"),
    ),
    Option(
        "workers",
        int,
        1,
        "threads rendering batches ahead of training; 1: none (> 1 is not bit-reproducible)",
    ),
)


def import_keras() -> Any:
    """Keras on the JAX backend (imported on first use, never at module import)."""
    from bench.backend import ensure_jax_backend

    ensure_jax_backend()
    import keras

    return keras


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """scikit-learn's 'balanced' class weights; 0 for classes absent from ``y``."""
    counts = np.bincount(y[y >= 0], minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def pad_batch(batch: tuple[np.ndarray, ...], multiple: int) -> tuple[np.ndarray, ...]:
    """``(x, y[, w])`` padded to a multiple of ``multiple`` samples; the pads have weight 0
    (``(x,)`` batches are padded with zeros; drop the extra rows of the predictions)."""
    x = batch[0]
    pad = -len(x) % multiple
    if len(batch) == 1:
        return (np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]),)
    y = batch[1]
    w = batch[2] if len(batch) > 2 else np.ones(len(y), np.float32)
    return (
        np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]),
        np.concatenate([y, np.zeros(pad, y.dtype)]),
        np.concatenate([w, np.zeros(pad, np.float32)]),
    )


def padded(dataset: Any, multiple: int) -> Any:
    """A PyDataset yielding ``dataset``'s batches through :func:`pad_batch`."""
    keras = import_keras()

    class Padded(keras.utils.PyDataset):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.feed = getattr(dataset, "feed", None)  # for Reshuffle

        def __len__(self) -> int:
            return len(dataset)

        def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
            return pad_batch(tuple(dataset[i]), multiple)

    return Padded()


class KerasModel(Model):
    """Base of the Keras classifiers; subclasses define :meth:`make_network`."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.network: keras.Model | None = None
        self.classes: list[str] = []
        self.shape: tuple[int, ...] = ()
        self.devices = 1  # > 1: trains data-parallel over this many local devices
        self._distribution: Any = None

    @abstractmethod
    def make_network(self, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
        """The uncompiled network: inputs of ``input_shape``, softmax over ``n_classes``."""

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        keras = import_keras()
        keras.utils.set_random_seed(seed)
        self.classes, self.shape = list(classes), tuple(input_shape)
        self._distribution = self.data_parallel()
        with self.scope():
            self.network = self.make_network(self.shape, len(self.classes))
            self.compile(self.network)

    def data_parallel(self) -> Any:
        """``DataParallel`` over the local JAX devices when there are several and this
        model trains through :meth:`fit`/:meth:`predict_proba` below (which pad batches);
        models that override them train on one device."""
        keras = import_keras()
        import jax

        own = type(self).fit is KerasModel.fit and type(self).predict_proba is (
            KerasModel.predict_proba
        )
        self.devices = len(jax.local_devices()) if own else 1
        if self.devices < 2:
            self.devices = 1
            return None
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices())

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """The model's distribution while it builds, trains and predicts (none: no-op)."""
        if self._distribution is None:
            yield
            return
        with self._distribution.scope():
            yield

    def global_batch_size(self) -> int:
        """The option's batch size, rounded up to a multiple of the device count."""
        return -(-self.params["batch_size"] // self.devices) * self.devices

    def compile(self, network: keras.Model) -> None:
        from bench_plugins.models.keras_parts import make_optimizer

        network.compile(
            optimizer=make_optimizer(self.params["optimizer"], self.params["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    def _network(self) -> keras.Model:
        if self.network is None:
            raise RuntimeError(f"model {self.name!r}: call build() or load() first")
        return self.network

    def class_weights(self, train: Feed) -> np.ndarray | None:
        if self.params["class_weight"] == "none":
            return None
        return balanced_weights(train.y, len(self.classes))

    def fit(
        self, train: Feed, validation: Feed | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        from bench_plugins.models.keras_parts import FeedDataset, in_index_order, with_batch_size

        batch_size = self.global_batch_size()
        train = with_batch_size(train, batch_size)
        data = FeedDataset(train, self.class_weights(train), workers=self.params["workers"])
        val = None
        if validation is not None and validation.n_samples:
            val = FeedDataset(in_index_order(with_batch_size(validation, batch_size)))
        if self.devices > 1:
            data = padded(data, self.devices)
            val = None if val is None else padded(val, self.devices)
        with self.scope():
            return self.run_fit(
                self._network(), data, val, epochs, initial_epoch, progress=self.progress
            )

    @staticmethod
    def run_fit(
        network: keras.Model,
        data: Any,
        val: Any,
        epochs: int,
        initial_epoch: int,
        progress: Callable[[int, dict[str, float]], None] | None = None,
    ) -> dict[str, list[float]]:
        """``network.fit`` over the datasets; the history of the epochs run in this call."""
        from bench_plugins.models.keras_parts import Reshuffle

        history = network.fit(
            data,
            validation_data=val,
            epochs=epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # the Feed orders the samples, reshuffled by Reshuffle
            callbacks=[Reshuffle(data.feed, progress)],
            verbose=0,
        )
        return {
            k: [float(v) for v in history.history[k]] for k in HISTORY_KEYS if k in history.history
        }

    def predict_proba(self, feed: Feed) -> np.ndarray:
        from bench_plugins.models.keras_parts import InputsOnly, with_batch_size

        if feed.n_samples == 0:
            return np.zeros((0, len(self.classes)))
        data = InputsOnly(with_batch_size(feed, self.global_batch_size()))
        if self.devices > 1:  # only the last batch is short: its pads come last
            data = padded(data, self.devices)
        with self.scope():
            proba = np.asarray(self._network().predict(data, verbose=0), dtype=np.float64)
        proba = proba[: feed.n_samples]
        return proba / proba.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._network().save(directory / "model.keras")
        meta = {"model": self.name, "classes": self.classes, "input_shape": list(self.shape)}
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        import_keras()
        import keras

        import bench_plugins.models.keras_parts  # noqa: F401  (registers the custom layers)

        meta = read_meta(Path(directory), self.name)
        self.classes, self.shape = list(meta["classes"]), tuple(meta["input_shape"])
        self.network = keras.saving.load_model(Path(directory) / "model.keras", safe_mode=True)

    def describe(self) -> Mapping[str, Any]:
        keras = import_keras()
        import jax

        network = self._network()
        trainable = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
        return {
            "backend": keras.backend.backend(),
            "devices": [str(d) for d in jax.devices()],
            "data_parallel_devices": self.devices,
            "batch_size": self.global_batch_size(),
            "parameters": int(network.count_params()),
            "trainable_parameters": trainable,
        }


def read_meta(directory: Path, name: str) -> dict[str, Any]:
    """The ``model.json`` written by ``save``, checked to belong to model ``name``."""
    path = directory / "model.json"
    if not path.is_file():
        raise BenchError(f"{path}: not found; expected a model directory written by save()")
    meta = json.loads(path.read_text())
    if meta.get("model") != name:
        raise BenchError(f"{path}: holds model {meta.get('model')!r}, expected {name!r}")
    return meta
