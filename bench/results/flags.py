"""The per-object warning flag of every model: ``zwarning`` in predictions.csv.

Bits follow the SDSS pipeline's ZWARNING (idlspec2d ``spreduce1d``; redrock's ZWARN uses
the same numbers), so an astronomer reads them as the pipeline's; 0 is a clean object.
The core sets the bits that depend on the spectrum alone, for every model:

=====  ===================  ==========================================================
bit    name                 set when
=====  ===================  ==========================================================
1      LITTLE_COVERAGE      the good pixels span < 0.18 in log10 wavelength (the
                            pipeline's rule; a BOSS spectrum spans 0.42)
9      NODATA               no pixel with an inverse variance
=====  ===================  ==========================================================

A model adds its own bits through ``object_facts`` (a ``zwarning`` column: e.g.
``template_fit``'s SMALL_DELTA_CHI2, its coin tosses); predictions.csv holds the two
OR'ed. A good pixel has a positive, finite inverse variance and none of the and_mask
bits that mean no measurement (NODATA, FULLREJECT, COMBINEREJ), as the pipeline counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.results.rates import wilson
from bench.spectra import NO_MEASUREMENT, ZWARNING_BITS, SpectrumSource, zwarning_names

LITTLE_COVERAGE = ZWARNING_BITS["LITTLE_COVERAGE"]
NO_DATA = ZWARNING_BITS["NODATA"]
MIN_COVERAGE_DEX = 0.18
CHUNK = 512


def data_flags(source: SpectrumSource, index: np.ndarray) -> np.ndarray:
    """LITTLE_COVERAGE and NODATA (N,) int64 for the spectra ``index`` of ``source``,
    read ``CHUNK`` at a time."""
    index = np.asarray(index, dtype=np.int64)
    flags = np.zeros(len(index), np.int64)
    for start in range(0, len(index), CHUNK):
        batch = source.read(index[start : start + CHUNK])
        ivar = np.asarray(batch.ivar, np.float64)
        good = np.isfinite(ivar) & (ivar > 0) & ((np.asarray(batch.mask) & NO_MEASUREMENT) == 0)
        loglam = np.asarray(batch.loglam, np.float64)
        first = np.where(good.any(axis=1), np.argmax(good, axis=1), 0)
        last = len(loglam) - 1 - np.argmax(good[:, ::-1], axis=1)
        span = np.where(good.any(axis=1), loglam[last] - loglam[first], 0.0)
        chunk = np.where(span < MIN_COVERAGE_DEX, LITTLE_COVERAGE, 0)
        flags[start : start + len(batch)] = np.where(good.any(axis=1), chunk, NO_DATA)
    return flags


def combined(data: np.ndarray, model: np.ndarray | None) -> np.ndarray:
    """The data bits OR'ed with a model's own ``zwarning`` column (non-integers: ignored)."""
    if model is None:
        return data
    values = np.asarray(model)
    try:
        own = values.astype(np.float64)
    except (TypeError, ValueError):
        return data
    own = np.where(np.isfinite(own) & (own >= 0), own, 0).astype(np.int64)
    return data | own


def summary(y_true: np.ndarray, proba: np.ndarray, flags: np.ndarray) -> dict[str, Any]:
    """How many objects are flagged, and accuracy (Wilson interval) on the flagged and the
    clean ones (``None`` for an empty side); counts per bit name."""
    flags = np.asarray(flags, dtype=np.int64)
    hits = np.argmax(np.asarray(proba), axis=1) == np.asarray(y_true)
    flagged = flags != 0

    def side(keep: np.ndarray) -> dict[str, Any]:
        n, right = int(keep.sum()), int(hits[keep].sum())
        if not n:
            return {"n": 0, "accuracy": None, "interval": None}
        return {"n": n, "accuracy": round(right / n, 6), "interval": wilson(right, n)}

    bits: dict[str, int] = {}
    for k in range(63):
        count = int(((flags >> k) & 1).sum())
        if count:
            (name,) = zwarning_names(1 << k)
            bits[name] = count
    return {"flagged": side(flagged), "clean": side(~flagged), "bits": bits}
