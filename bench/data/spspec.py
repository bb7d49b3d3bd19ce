"""DR7 spSpec files: a 2-D primary image (flux, error, mask rows) on a log-linear grid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.raw import RawSpectrum, ids_from
from bench.errors import BenchError

# DR7 SPEC_CLN: 0 unknown, 1 star, 2 galaxy, 3 QSO, 4 high-z QSO, 5 sky, 6 late star, 7 em. galaxy
SPEC_CLN = {1: "STAR", 2: "GALAXY", 3: "QSO", 4: "QSO", 6: "STAR", 7: "GALAXY"}
SPEC_CLN_NAMES = {
    1: "STAR",
    2: "GALAXY",
    3: "QSO",
    4: "HIZ_QSO",
    5: "SKY",
    6: "STAR_LATE",
    7: "GAL_EM",
}
_SPSPEC_NAME = re.compile(r"spSpec-(\d+)-(\d+)-(\d+)", re.IGNORECASE)


def is_spspec(primary: Any) -> bool:
    h = primary.header
    return h.get("NAXIS") == 2 and "COEFF0" in h and "COEFF1" in h


def read_spspec(primary: Any, path: Path) -> RawSpectrum:
    h, data = primary.header, primary.data
    if data is None or data.ndim != 2:
        raise BenchError(f"{path}: spSpec primary image is missing or not 2-D")
    rows = {str(h.get(f"ARRAY{i + 1}", "")).strip().upper(): i for i in range(data.shape[0])}
    flux_row, err_row = rows.get("SPECTRUM", 0), rows.get("ERROR", 2)
    mask_row = rows.get("MASK", 3)
    if max(flux_row, err_row) >= data.shape[0]:
        raise BenchError(f"{path}: spSpec image has {data.shape[0]} rows, need flux and error")
    error = np.asarray(data[err_row], dtype=np.float64)
    with np.errstate(divide="ignore"):
        ivar = np.where(error > 0, 1.0 / np.maximum(error, 1e-30) ** 2, 0.0)
    npix = data.shape[1]
    cln = int(h.get("SPEC_CLN", 0))
    spec = RawSpectrum(
        id="",
        loglam=float(h["COEFF0"]) + float(h["COEFF1"]) * np.arange(npix, dtype=np.float64),
        flux=np.array(data[flux_row], dtype=np.float32),
        ivar=ivar.astype(np.float32),
        mask=np.array(data[mask_row], dtype=np.int32)
        if mask_row < data.shape[0]
        else np.zeros(npix, np.int32),
        label=SPEC_CLN.get(cln, ""),
        redshift=float(h.get("Z", np.nan)),
        meta={
            "format": "spSpec",
            "path": str(path),
            "subclass": SPEC_CLN_NAMES.get(cln, "UNKNOWN"),
            "zwarning": int(h.get("Z_WARNIN", -1)),
        },
    )
    m = _SPSPEC_NAME.search(path.name)  # spSpec-MJD-PLATE-FIBER
    ids_from(spec, h, m, (2, 1, 3))
    return spec
