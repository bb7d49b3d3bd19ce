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
:meth:`KerasModel.timing` says where the fit time went."""

from __future__ import annotations

import contextlib
import json
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Model
from bench.options import Option

if TYPE_CHECKING:
    import keras

    from bench.feed import DeviceStage, Feed

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
        "threads rendering batches ahead of training; 1: none (any count gives "
        "bit-identical batches)",
    ),
    Option(
        "device_render",
        str,
        "auto",
        "draw the pictures on the accelerator inside the compiled step when the renderer "
        "has a device version; auto: only when JAX runs on a GPU/TPU (on CPU the numpy "
        "path stays, bit-identical to earlier versions)",
        ("auto", "on", "off"),
    ),
    Option(
        "transfer_dtype",
        str,
        "float32",
        "how host-rendered images travel to the device: float32 (exact), float16 or "
        "uint8 (fewer bytes, pixels rounded; decoded on the device)",
        ("float32", "float16", "uint8"),
    ),
    Option(
        "steps_per_execution",
        int,
        1,
        "training steps per compiled call (raise it for small models on an accelerator)",
    ),
    Option(
        "precision",
        str,
        "float32",
        "float32, or mixed_bfloat16: bfloat16 compute, float32 variables and head",
        ("float32", "mixed_bfloat16"),
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
        self._stages: dict[int, tuple[Any, DeviceStage | None]] = {}
        self._wrappers: dict[tuple[int, int, str], tuple[Any, Any]] = {}
        self._trained: set[int] = set()
        self._timing: dict[str, float] = {}

    @abstractmethod
    def make_network(self, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
        """The uncompiled network: inputs of ``input_shape``, softmax over ``n_classes``."""

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        keras = import_keras()
        keras.utils.set_random_seed(seed)
        self.classes, self.shape = list(classes), tuple(input_shape)
        self._distribution = self.data_parallel()
        self._stages, self._wrappers, self._trained, self._timing = {}, {}, set(), {}
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

    def device_render(self) -> bool:
        """Whether to render on the device: the option, ``auto`` meaning an accelerator."""
        choice = self.params["device_render"]
        if choice == "auto":
            import jax

            return jax.default_backend() != "cpu"
        return choice == "on"

    def stage(self, feed: Feed) -> DeviceStage | None:
        """The device stage of ``feed``'s pipeline (None: render on the host)."""
        if not self.device_render() or feed.pipeline.shape != self.shape:
            return None
        key = id(feed.pipeline)
        if key not in self._stages:
            from bench_plugins.render.device import step_function

            stage = feed.pipeline.device_stage(feed.source.loglam, step_function)
            self._stages[key] = (feed.pipeline, stage)  # keeps the pipeline (and its id)
        return self._stages[key][1]

    def shipped(self, feed: Feed) -> Feed:
        """``feed`` as it travels to the device: spectra for the device stage, or images
        encoded as ``transfer_dtype`` (``feed`` itself on the default path)."""
        stage = self.stage(feed)
        if stage is not None:
            return feed.for_device(stage)
        return feed.with_transfer_dtype(self.params["transfer_dtype"])

    def wrapped(self, model: keras.Model, feed: Feed) -> keras.Model:
        """``model`` behind a DeviceInput layer taking what ``feed`` (from :meth:`shipped`)
        yields, compiled and kept (optimizer state carries over between fits);
        ``model`` itself when ``feed`` yields float32 images."""
        if feed.stage is None and feed.transfer_dtype == "float32":
            return model
        key = (id(model), id(feed.stage), feed.transfer_dtype)
        if key not in self._wrappers:
            keras = import_keras()
            from bench_plugins.models.keras_parts import DeviceInput

            if feed.stage is not None:
                dtype, layer = "float32", DeviceInput(feed.stage.function, self.shape)
            else:
                dtype = feed.transfer_dtype
                layer = DeviceInput(scale=1 / 255 if dtype == "uint8" else 1.0)
            with self.scope():
                inputs = keras.Input(feed.input_shape, dtype=dtype, name="shipped")
                wrapper = keras.Model(inputs, model(layer(inputs)), name=f"{model.name}_shipped")
                self.compile(wrapper)
            self._wrappers[key] = (model, wrapper)
        return self._wrappers[key][1]

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

        batch_size = self.global_batch_size()
        train = self.shipped(with_batch_size(train, batch_size))
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
            return self.run_fit(network, data, val, epochs, initial_epoch, timed)

    def run_fit(
        self,
        network: keras.Model,
        data: Any,
        val: Any,
        epochs: int,
        initial_epoch: int,
        timed: Any = None,
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
                callbacks=[Reshuffle(data.feed), timer],
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
        (first step of each compiled network: tracing, compiling, running it), ``data_s`` (waiting for
        training batches), ``step_s`` (the other training steps), ``validation_s``,
        ``features_s`` (frozen backbones: feature extraction); ``steps`` (train calls)."""
        return {k: round(v, 4) if k != "steps" else int(v) for k, v in self._timing.items()}

    def predict_proba(self, feed: Feed) -> np.ndarray:
        from bench_plugins.models.keras_parts import InputsOnly, with_batch_size

        if feed.n_samples == 0:
            return np.zeros((0, len(self.classes)))
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
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        import_keras()
        import keras

        import bench_plugins.models.keras_parts  # noqa: F401  (registers the custom layers)

        meta = read_meta(Path(directory), self.name)
        self._stages, self._wrappers, self._trained, self._timing = {}, {}, set(), {}
        self.classes, self.shape = list(meta["classes"]), tuple(meta["input_shape"])
        self.network = keras.saving.load_model(Path(directory) / "model.keras", safe_mode=True)

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
        stages = [stage for _, stage in self._stages.values() if stage is not None]
        if stages:  # only when the device path ran: the default report is unchanged
            info["device_render"] = list(stages[0].device_steps)
        return info


def read_meta(directory: Path, name: str) -> dict[str, Any]:
    """The ``model.json`` written by ``save``, checked to belong to model ``name``."""
    path = directory / "model.json"
    if not path.is_file():
        raise BenchError(f"{path}: not found; expected a model directory written by save()")
    meta = json.loads(path.read_text())
    if meta.get("model") != name:
        raise BenchError(f"{path}: holds model {meta.get('model')!r}, expected {name!r}")
    return meta
