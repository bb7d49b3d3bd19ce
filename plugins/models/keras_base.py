"""The shared Keras model plugin: training through a streaming PyDataset over a Feed,
per-epoch history, ``.keras`` save and safe-mode reload. Keras is imported lazily.

With more than one local JAX device, a model that uses the fit/predict below trains
data-parallel (``keras.distribution.DataParallel``, scoped to the model): the batch size
is rounded up to a multiple of the device count and short batches are padded with
zero-weight samples (recorded as ``devices``/``batch_size`` in ``describe()``).

Device speed (issue #14): ``device_render`` draws the picture on the accelerator inside
the compiled step when the renderer has a device version (the feed then ships spectra,
and a :class:`~bench_plugins.models.keras_parts.DeviceInput` layer in front of the
network renders them); ``transfer_dtype`` ships host-rendered images as uint8/float16;
``workers`` renders ahead in threads; ``steps_per_execution`` runs several steps per
compiled call; ``precision = "mixed_bfloat16"`` computes in bfloat16 with a float32
head. The saved network always takes float32 images, whatever the training path.
:meth:`KerasModel.timing` says where the fit time went.

Sim-to-real (issue #18): ``augment = true`` changes the raw training spectra before the
pipeline (flux scale, calibration tilt, extra noise, masked stretches, trimmed coverage;
:mod:`~bench_plugins.models.augment`), fresh every epoch; validation and test spectra never."""

from __future__ import annotations

import contextlib
import json
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.interfaces import Model
from bench_plugins.models.augment import augmented, check_augment_options
from bench_plugins.models.common import read_meta
from bench_plugins.models.keras_device import DeviceShipping
from bench_plugins.models.keras_ensemble import KerasEnsemble
from bench_plugins.models.keras_helpers import (  # noqa: F401 - re-exported for the models
    HISTORY_KEYS,
    TRAINING_OPTIONS,
    balanced_weights,
    import_keras,
    pad_batch,
    padded,
)

if TYPE_CHECKING:
    import keras

    from bench.feed import DeviceStage, Feed


class KerasModel(DeviceShipping, KerasEnsemble, Model):
    """Base of the Keras classifiers; subclasses define :meth:`make_network`. With
    ``ensemble`` > 1, ``members`` do the work and ``network`` is member 0's."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        check_augment_options(self.params)
        self.network: keras.Model | None = None
        self.classes: list[str] = []
        self.shape: tuple[int, ...] = ()
        self.devices = 1  # > 1: trains data-parallel over this many local devices
        self._distribution: Any = None
        self._stages: dict[int, tuple[Any, DeviceStage | None]] = {}
        self._wrappers: dict[tuple[int, int, str], tuple[Any, Any]] = {}
        self._trained: set[int] = set()
        self._timing: dict[str, float] = {}
        self.members: list[KerasModel] = []  # of a seed ensemble; [] for ensemble = 1

    @abstractmethod
    def make_network(self, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
        """The uncompiled network: inputs of ``input_shape``, softmax over ``n_classes``."""

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        keras = import_keras()
        self.classes, self.shape = list(classes), tuple(input_shape)
        self._stages, self._wrappers, self._trained, self._timing = {}, {}, set(), {}
        self.members = []
        if self.params["ensemble"] > 1:
            self.build_members(input_shape, classes, seed)
            self.network, self.devices = self.members[0].network, self.members[0].devices
            return
        keras.utils.set_random_seed(seed)
        self._distribution = self.data_parallel()
        with self.scope(), self.precision_scope():
            self.network = self.make_network(self.shape, len(self.classes))
        with self.scope():
            self.compile(self.network)

    @contextlib.contextmanager
    def precision_scope(self) -> Iterator[None]:
        """Layers made inside take the ``precision`` option's dtype policy."""
        if self.params["precision"] == "float32":
            yield
            return
        keras = import_keras()
        before = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.params["precision"])
        try:
            yield
        finally:
            keras.config.set_dtype_policy(before)

    def head_dtype(self) -> str | None:
        """dtype for the layers that must stay float32 under mixed precision (input
        scaling, softmax head); None (the default policy) in float32 mode."""
        return None if self.params["precision"] == "float32" else "float32"

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
            steps_per_execution=self.params["steps_per_execution"],
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

        if self.members:
            return self.fit_members(train, validation, epochs, initial_epoch)
        batch_size = self.global_batch_size()
        train = self.shipped(with_batch_size(augmented(train, self.params), batch_size))
        data = FeedDataset(train, self.class_weights(train), workers=self.params["workers"])
        val = None
        if validation is not None and validation.n_samples:
            val = FeedDataset(self.shipped(in_index_order(with_batch_size(validation, batch_size))))
        timed = data
        if self.devices > 1:
            data = padded(data, self.devices)
            val = None if val is None else padded(val, self.devices)
        network = self.wrapped(self._network(), train)
        with self.scope():
            return self.run_fit(
                network, data, val, epochs, initial_epoch, timed, progress=self.progress
            )

    def run_fit(
        self,
        network: keras.Model,
        data: Any,
        val: Any,
        epochs: int,
        initial_epoch: int,
        timed: Any = None,
        progress: Callable[[int, dict[str, float]], None] | None = None,
    ) -> dict[str, list[float]]:
        """``network.fit`` over the datasets; the history of the epochs run in this call.
        Adds the fit's compile/data/step/validation seconds to :meth:`timing`
        (``timed``: the dataset counting data waits, default ``data``)."""
        from bench_plugins.models.keras_parts import Reshuffle, StepTimer

        timer = StepTimer(data if timed is None else timed, first=id(network) not in self._trained)
        timer.start()
        try:
            history = network.fit(
                data,
                validation_data=val,
                epochs=epochs,
                initial_epoch=initial_epoch,
                shuffle=False,  # the Feed orders the samples, reshuffled by Reshuffle
                callbacks=[Reshuffle(data.feed, progress), timer],
                verbose=0,
            )
        finally:
            for dataset in (timed, data):
                if hasattr(dataset, "close"):
                    dataset.close()
        self._trained.add(id(network))
        self.add_timing(timer.record)
        self.add_timing({"steps": float(timer.steps)})
        return {
            k: [float(v) for v in history.history[k]] for k in HISTORY_KEYS if k in history.history
        }

    def add_timing(self, record: Mapping[str, float]) -> None:
        """Add seconds (or counts) to the record :meth:`timing` returns."""
        for key, value in record.items():
            self._timing[key] = self._timing.get(key, 0.0) + float(value)

    def timing(self) -> Mapping[str, float]:
        """Seconds since :meth:`build`, summed over the fits and ensemble members: ``setup_s``
        (before the first epoch: Keras reads a first batch; kept inputs are rendered then), ``compile_s``
        (first step of each compiled network: tracing, compiling, running it), ``data_s`` (waiting for
        training batches), ``step_s`` (the other training steps), ``validation_s``,
        ``features_s`` (frozen backbones: feature extraction); ``steps`` (train calls)."""
        record = self.member_timing() if self.members else self._timing
        return {k: round(v, 4) if k != "steps" else int(v) for k, v in record.items()}

    def predict_proba(self, feed: Feed) -> np.ndarray:
        from bench_plugins.models.keras_parts import InputsOnly, with_batch_size

        if feed.n_samples == 0:
            return np.zeros((0, len(self.classes)))
        if self.members:
            return self.predict_members(feed)
        shipped = self.shipped(with_batch_size(feed, self.global_batch_size()))
        inputs = InputsOnly(shipped, workers=self.params["workers"])
        data = padded(inputs, self.devices) if self.devices > 1 else inputs
        network = self.wrapped(self._network(), shipped)
        try:
            with self.scope():
                proba = np.asarray(network.predict(data, verbose=0), dtype=np.float64)
        finally:
            inputs.close()
        proba = proba[: feed.n_samples]
        return proba / proba.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._network().save(directory / "model.keras")
        meta = {"model": self.name, "classes": self.classes, "input_shape": list(self.shape)}
        if self.members:  # ensemble = 1 writes exactly what it did before the option
            meta["ensemble"] = self.save_members(directory)
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        meta = read_meta(Path(directory), self.name)
        self.load_members(Path(directory), meta)
        self.restore(Path(directory), meta, "model.keras")

    def restore(self, directory: Path, meta: Mapping[str, Any], filename: str) -> None:
        """Load the network saved as ``filename`` (safe mode), with ``meta``'s classes."""
        import_keras()
        import keras

        import bench_plugins.models.keras_parts  # noqa: F401  (registers the custom layers)

        self._stages, self._wrappers, self._trained, self._timing = {}, {}, set(), {}
        self.classes, self.shape = list(meta["classes"]), tuple(meta["input_shape"])
        if self.members:  # member 0 loaded it already
            self.network = self.members[0].network
            return
        self.network = keras.saving.load_model(directory / filename, safe_mode=True)

    def describe(self) -> Mapping[str, Any]:
        if self.members:
            return self.describe_members()
        keras = import_keras()
        import jax

        network = self._network()
        trainable = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
        info = {
            "backend": keras.backend.backend(),
            "devices": [str(d) for d in jax.devices()],
            "data_parallel_devices": self.devices,
            "batch_size": self.global_batch_size(),
            "parameters": int(network.count_params()),
            "trainable_parameters": trainable,
        }
        stages = [stage for _, stage in self._stages.values() if stage is not None]
        if stages:  # only when the device path ran: the default report is unchanged
            info["device_render"] = list(stages[0].device_steps)
        return info
