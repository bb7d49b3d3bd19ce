"""What a Keras model ships to the device and how: spectra for a device stage that draws
the picture inside the compiled step, or host-rendered images as float32, float16 or
uint8 behind a :class:`DeviceInput` layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench_plugins.models.keras_helpers import import_keras

if TYPE_CHECKING:
    import keras

    from bench.feed import DeviceStage, Feed


class DeviceShipping:
    """Mixin of :class:`KerasModel`: the device stage and the shipped feeds and wrappers."""

    params: dict[str, Any]
    shape: tuple[int, ...]
    _stages: dict[int, tuple[Any, DeviceStage | None]]
    _wrappers: dict[tuple[int, int, str], tuple[Any, Any]]

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
            stage = feed.pipeline.device_stage(feed.source.loglam)
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
