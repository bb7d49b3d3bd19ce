"""What the image renderers share: shape checks, the scaling options and the cached
column geometry of the last grid."""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Renderer
from bench.options import Option
from bench_plugins.render.geometry import Columns, columns

# The y scaling and look of the pictures (see geometry's docstring).
SCALING_OPTIONS = (
    Option(
        "percentiles",
        list,
        [0.5, 99.5],
        "flux percentiles setting the y limits",
        item_type=float,
        ge=0.0,
        le=100.0,
    ),  # fmt: skip
    Option("margin", float, 0.1, "y limits widened by this fraction of their distance"),
    Option("x_axis", str, "wavelength", "x linear in", choices=("wavelength", "loglam")),
    Option(
        "invert", bool, False, "dark ink on white (matplotlib's look) instead of white on black"
    ),
)


def image_shape(shape: tuple[int, ...], renderer: str) -> tuple[int, int, int]:
    """``shape`` as (height, width, channels), or a one-line BenchError."""
    ok = (
        len(shape) == 3
        and all(isinstance(s, int | np.integer) and s > 0 for s in shape)
        and shape[2] in (1, 3)
    )
    if not ok:
        raise BenchError(
            f"renderer {renderer!r}: shape {tuple(shape)} is not valid; expected "
            "(height, width, channels) with positive sizes and channels 1 or 3"
        )
    return int(shape[0]), int(shape[1]), int(shape[2])


def check_percentiles(values: list[float], where: str) -> tuple[float, float]:
    """Two increasing percentiles (each in [0, 100]: the option's bounds), or a BenchError."""
    if len(values) != 2 or not 0 <= values[0] < values[1] <= 100:
        raise BenchError(f"{where}: expected two increasing numbers in [0, 100], got {values!r}")
    return float(values[0]), float(values[1])


class ImageRenderer(Renderer):
    """A renderer of images that remembers the column geometry of the last grid."""

    _geometry: tuple[np.ndarray, int, str, Columns] | None = None

    def columns(self, loglam: np.ndarray, width: int, x_axis: str) -> Columns:
        cached = self._geometry
        if (
            cached is not None
            and cached[1] == width
            and cached[2] == x_axis
            and cached[0].shape == loglam.shape
            and np.array_equal(cached[0], loglam)
        ):
            return cached[3]
        cols = columns(loglam, width, x_axis)
        self._geometry = (np.array(loglam, copy=True), width, x_axis, cols)
        return cols
