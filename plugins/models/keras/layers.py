"""The Keras layers of the built-in models: :class:`DeviceInput` (what a model's input
travels as, turned into float32 pictures on the device; training wrappers only, never
saved) and :class:`ImageNetInput` (a keras.applications backbone's own preprocessing,
saved with the network and registered for safe-mode loading). Imports keras at module
level: import this module lazily, inside methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.backend import ensure_jax_backend

ensure_jax_backend()

import keras  # noqa: E402


class DeviceInput(keras.layers.Layer):
    """What the input ships, turned into the network's float32 inputs on the device:
    spectra ``(N, 2, P)`` through a device stage's ``function(flux, ivar)`` (the picture
    drawn inside the compiled step), or images decoded from uint8 (/255) or float16.
    Used by the training wrappers only, never saved (the saved network takes images)."""

    def __init__(
        self,
        function: Callable[[Any, Any], Any] | None = None,
        output_shape: tuple[int, ...] = (),
        scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(dtype="float32", **kwargs)
        self.function = function
        self.image_shape = tuple(output_shape)
        self.scale = float(scale)

    def call(self, x: Any) -> Any:
        if self.function is not None:
            x = keras.ops.cast(x, "float32")
            return self.function(x[:, 0], x[:, 1])
        x = keras.ops.cast(x, "float32")
        return x * self.scale if self.scale != 1.0 else x

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.function is not None:
            return (input_shape[0], *self.image_shape)
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="specclassbench")
class ImageNetInput(keras.layers.Layer):
    """Renders in [0, 1] to a Keras application's input: 1 channel repeated to 3, scaled to
    0..255, then that family's own ``keras.applications.<family>.preprocess_input``."""

    def __init__(self, family: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.family = family

    def call(self, x: Any) -> Any:
        if x.shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)
        module = getattr(keras.applications, self.family)
        return module.preprocess_input(x * 255.0)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*input_shape[:-1], 3)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "family": self.family}
