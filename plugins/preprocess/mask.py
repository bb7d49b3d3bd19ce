"""The ``mask`` preprocessor: ivar 0 at unusable pixels (and_mask bits, ivar, non-finite)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.interfaces import DeviceFunction, Preprocessor
from bench.kernels import fill_bad, good_pixels
from bench.options import Option
from bench.spectra import SpectrumBatch

# SDSS and_mask bits that make a pixel unusable: FULLREJECT, NOSKY, BRIGHTSKY, NODATA,
# COMBINEREJ. Bits such as BADFLAT or LOWFLAT are set on whole spectra that are fine.
DEFAULT_BITS = [18, 22, 23, 24, 25]


def mask_pixels(xp: Any, flux: Any, ivar: Any, fill: str, flagged: Any = None) -> tuple[Any, Any]:
    """(flux, ivar) float32 with ivar 0 at bad or ``flagged`` pixels, whose flux is
    interpolated from good neighbours (``fill`` "interpolate") or 0 ("zero")."""
    good = good_pixels(xp, flux, ivar)
    if flagged is not None:
        good &= ~flagged
    ivar = xp.where(good, ivar, 0.0).astype(xp.float32)
    if fill == "zero":
        return xp.where(good, flux, 0.0).astype(xp.float32), ivar
    return fill_bad(xp, flux, good), ivar


class Mask(Preprocessor):
    """Set ivar 0 where chosen and_mask bits are set, ivar <= 0, or flux/ivar is not finite.

    ``bits`` lists the and_mask bit numbers that mask a pixel (default: FULLREJECT,
    NOSKY, BRIGHTSKY, NODATA, COMBINEREJ; ``[]`` uses ivar only; ``any_bit`` masks
    every flagged pixel, which on real data can mask whole spectra).
    """

    name = "mask"
    description = "Mask pixels flagged in and_mask, with ivar <= 0 or non-finite values."
    options = (
        Option(
            "bits",
            list,
            DEFAULT_BITS,
            "and_mask bit numbers that mask a pixel",
            item_type=int,
            ge=0,
            le=31,
        ),  # fmt: skip
        Option("any_bit", bool, False, "mask a pixel with any and_mask bit set"),
        Option(
            "fill", str, "interpolate", "flux at masked pixels", choices=("interpolate", "zero")
        ),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        bits = range(32) if self.params["any_bit"] else set(self.params["bits"])
        self._bitmask = int(sum(1 << b for b in bits))

    def device_function(self, loglam: np.ndarray) -> DeviceFunction | None:
        """On the device only when masking by ivar alone (and_mask is not shipped)."""
        if self._bitmask != 0:
            return None
        import jax.numpy as jnp

        fill = str(self.params["fill"])
        return lambda flux, ivar: mask_pixels(jnp, flux, ivar, fill)

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        flagged = (batch.mask.astype(np.int64) & self._bitmask) != 0
        flux, ivar = mask_pixels(np, batch.flux, batch.ivar, self.params["fill"], flagged)
        return batch.with_arrays(flux=flux, ivar=ivar)
