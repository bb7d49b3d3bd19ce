"""The Keras model plugin: one network trained on a :class:`~bench.interfaces.ModelInput`
through streaming PyDatasets, per-epoch history, ``.keras`` save and safe-mode reload.
Keras is imported lazily (:func:`import_keras`).

With more than one local JAX device, a model that uses the fit/predict below trains
data-parallel (``keras.distribution.DataParallel``, scoped to the model): the batch size
is rounded up to a multiple of the device count and short batches are padded with
zero-weight samples (recorded as ``devices``/``batch_size`` in ``describe()``).

Device speed (issue #14): ``device_render`` draws the picture on the accelerator inside
the compiled step when the renderer has a device version (:meth:`ModelInput.device_stage`;
the input then ships spectra, and a :class:`~.layers.DeviceInput` layer in front of the
network renders them); ``transfer_dtype`` ships host-rendered images as uint8/float16;
``workers`` renders ahead in threads; ``steps_per_execution`` runs several steps per
compiled call; ``precision = "mixed_bfloat16"`` computes in bfloat16 with a float32
head. The saved network always takes float32 images, whatever the training path.
:meth:`KerasModel.timing` says where the fit time went.

Sim-to-real (issue #18): ``augment = true`` changes the raw training spectra before the
pipeline (:mod:`bench_plugins.models.augment`), fresh every epoch; validation and test
spectra never.

Seed ensembles (``ensemble`` > 1) are a :class:`~.ensemble.SeedEnsemble` of single
networks of the model's own class: the code below is the single network's only.
"""

from __future__ import annotations

import contextlib
import json
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.interfaces import DeviceStage, Model, ModelInput
from bench_plugins.models.augment import augmented, check_augment_options
from bench_plugins.models.common import read_meta
from bench_plugins.models.keras.ensemble import SeedEnsemble, check_member_count
from bench_plugins.models.keras.options import HISTORY_KEYS

if TYPE_CHECKING:
    import keras


def import_keras() -> Any:
    """Keras on the JAX backend (imported on first use, never at module import)."""
    from bench.backend import ensure_jax_backend

    ensure_jax_backend()
    import keras

    return keras


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam, SGD (momentum 0.9) or RMSprop at ``learning_rate``."""
    keras = import_keras()
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9)
    return keras.optimizers.RMSprop(learning_rate)


class KerasModel(Model):
    """Base of the Keras classifiers; subclasses define :meth:`make_network`.

    With ``ensemble`` > 1 the instance's :class:`~bench.interfaces.Model` methods are
    those of its :class:`~.ensemble.SeedEnsemble` (``self.ensemble``), whose members are
    single networks of this class; ``network`` is then member 0's.
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        check_augment_options(self.params)
        self.network: keras.Model | None = None
        self.classes: list[str] = []
        self.shape: tuple[int, ...] = ()
        self.devices = 1  # > 1: trains data-parallel over this many local devices
        self._distribution: Any = None
        self._device_steps: tuple[str, ...] | None = None  # of the device stage used
        self._wrappers: dict[tuple[int, int, str], tuple[Any, Any]] = {}
        self._trained: set[int] = set()
        self._timing: dict[str, float] = {}
        self.ensemble: SeedEnsemble | None = None
        if self.params["ensemble"] > 1:  # the one place a seed ensemble branches off
            self.ensemble = SeedEnsemble(self)
            for method in SeedEnsemble.MODEL_METHODS:
                setattr(self, method, getattr(self.ensemble, method))

    @abstractmethod
    def make_network(self, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
        """The uncompiled network: inputs of ``input_shape``, softmax over ``n_classes``."""

    def _reset(self) -> None:
        self._device_steps, self._wrappers, self._trained, self._timing = None, {}, set(), {}

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        keras = import_keras()
        self.classes, self.shape = list(classes), tuple(input_shape)
        self._reset()
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

    def class_weights(self, train: ModelInput) -> np.ndarray | None:
        if self.params["class_weight"] == "none":
            return None
        from bench_plugins.models.keras.data import balanced_weights

        return balanced_weights(train.y, len(self.classes))

    # -- what travels to the device -----------------------------------------------------

    def device_render(self) -> bool:
        """Whether to render on the device: the option, ``auto`` meaning an accelerator."""
        choice = self.params["device_render"]
        if choice == "auto":
            import jax

            return jax.default_backend() != "cpu"
        return choice == "on"

    def stage(self, inputs: ModelInput) -> DeviceStage | None:
        """The device stage drawing this model's pictures from ``inputs`` (None: render
        on the host: ``device_render`` is off, or the renderer has no device version)."""
        if not self.device_render():
            return None
        stage = inputs.device_stage(self.shape)
        if stage is not None and self._device_steps is None:
            self._device_steps = stage.device_steps
        return stage

    def shipped(self, inputs: ModelInput) -> ModelInput:
        """``inputs`` as they travel to the device: spectra for the device stage, or
        images encoded as ``transfer_dtype`` (``inputs`` itself on the default path)."""
        stage = self.stage(inputs)
        if stage is not None:
            return inputs.for_device(stage)
        return inputs.with_transfer_dtype(self.params["transfer_dtype"])

    def wrapped(self, model: keras.Model, inputs: ModelInput) -> keras.Model:
        """``model`` behind a DeviceInput layer taking what ``inputs`` (from :meth:`shipped`)
        yields, compiled and kept (optimizer state carries over between fits);
        ``model`` itself when ``inputs`` yields float32 images."""
        if inputs.stage is None and inputs.transfer_dtype == "float32":
            return model
        key = (id(model), id(inputs.stage), inputs.transfer_dtype)
        if key not in self._wrappers:
            keras = import_keras()
            from bench_plugins.models.keras.layers import DeviceInput

            if inputs.stage is not None:
                dtype, layer = "float32", DeviceInput(inputs.stage.function, self.shape)
            else:
                dtype = inputs.transfer_dtype
                layer = DeviceInput(scale=1 / 255 if dtype == "uint8" else 1.0)
            with self.scope():
                x = keras.Input(inputs.input_shape, dtype=dtype, name="shipped")
                wrapper = keras.Model(x, model(layer(x)), name=f"{model.name}_shipped")
                self.compile(wrapper)
            self._wrappers[key] = (model, wrapper)
        return self._wrappers[key][1]

    # -- training and prediction --------------------------------------------------------

    def reports_epochs(self) -> bool:
        return True  # the Reshuffle callback calls progress after each epoch

    def fit(
        self, train: ModelInput, validation: ModelInput | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        from bench_plugins.models.keras.data import Padded, TrainingBatches

        batch_size = self.global_batch_size()
        train = self.shipped(augmented(train, self.params).rebatched(batch_size))
        data: Any = TrainingBatches(
            train, self.class_weights(train), workers=self.params["workers"]
        )
        val: Any = None
        if validation is not None and validation.n_samples:
            val = TrainingBatches(self.shipped(validation.rebatched(batch_size).in_order()))
        timed = data
        if self.devices > 1:
            data = Padded(data, self.devices)
            val = None if val is None else Padded(val, self.devices)
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
        from bench_plugins.models.keras.callbacks import (
            Reshuffle,
            StepTimer,
            WeightAverage,
            cosine_schedule,
        )

        timer = StepTimer(data if timed is None else timed, first=id(network) not in self._trained)
        timer.start()
        callbacks = [Reshuffle(data.inputs, progress), timer]
        if self.params["average_epochs"] > 1:
            callbacks.append(WeightAverage(self.params["average_epochs"]))
        if self.params["lr_schedule"] == "cosine":
            rate = cosine_schedule(self.params["learning_rate"], epochs)
            callbacks.append(import_keras().callbacks.LearningRateScheduler(rate))
        try:
            history = network.fit(
                data,
                validation_data=val,
                epochs=epochs,
                initial_epoch=initial_epoch,
                shuffle=False,  # the input orders the samples, reshuffled by Reshuffle
                callbacks=callbacks,
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
        """Seconds since :meth:`build`, summed over the fits: ``setup_s`` (before the first
        epoch: Keras reads a first batch; kept inputs are rendered then), ``compile_s``
        (first step of each compiled network: tracing, compiling, running it), ``data_s``
        (waiting for training batches), ``step_s`` (the other training steps),
        ``validation_s``, ``features_s`` (frozen backbones: feature extraction); ``steps``
        (train calls)."""
        return {k: round(v, 4) if k != "steps" else int(v) for k, v in self._timing.items()}

    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        from bench_plugins.models.keras.data import InputsOnly, Padded

        if inputs.n_samples == 0:
            return np.zeros((0, len(self.classes)))
        shipped = self.shipped(inputs.rebatched(self.global_batch_size()))
        batches = InputsOnly(shipped, workers=self.params["workers"])
        data = Padded(batches, self.devices) if self.devices > 1 else batches
        network = self.wrapped(self._network(), shipped)
        try:
            with self.scope():
                proba = np.asarray(network.predict(data, verbose=0), dtype=np.float64)
        finally:
            batches.close()
        proba = proba[: inputs.n_samples]
        return proba / proba.sum(axis=1, keepdims=True)

    # -- the saved model ----------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._network().save(directory / "model.keras")
        meta = {"model": self.name, "classes": self.classes, "input_shape": list(self.shape)}
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        meta = read_meta(Path(directory), self.name)
        check_member_count(Path(directory), meta, self.name, 1)
        self.restore(Path(directory), meta, "model.keras")

    def restore(self, directory: Path, meta: Mapping[str, Any], filename: str) -> None:
        """Load the network saved as ``filename`` (safe mode), with ``meta``'s classes."""
        import_keras()
        import keras

        import bench_plugins.models.keras.layers  # noqa: F401  (registers the custom layers)

        self._reset()
        self.classes, self.shape = list(meta["classes"]), tuple(meta["input_shape"])
        self.network = keras.saving.load_model(directory / filename, safe_mode=True)

    def describe(self) -> Mapping[str, Any]:
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
        if self._device_steps is not None:  # only when the device path ran
            info["device_render"] = list(self._device_steps)
        return info
