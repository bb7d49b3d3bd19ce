"""BOSS/eBOSS/DR18 spec-lite files: a COADD table, and the SPALL/SPECOBJ row with the
class and redshift."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.fits_table import FitsTable, find_table
from bench.data.raw import RawSpectrum, ids_from
from bench.errors import BenchError

_SPEC_NAME = re.compile(r"spec-(\d+)-(\d+)-(\d+)", re.IGNORECASE)


def read_spec_lite(
    hdul: Any, tables: Sequence[FitsTable], coadd: FitsTable, path: Path
) -> RawSpectrum:
    if not coadd.has("ivar"):
        raise BenchError(f"{path}: coadd table {coadd.name or '(unnamed)'} has no 'ivar' column")
    n = coadd.nrows
    spec = RawSpectrum(
        id="",
        loglam=coadd.column("loglam").astype(np.float64),
        flux=coadd.column("flux").astype(np.float32),
        ivar=coadd.column("ivar").astype(np.float32),
        mask=coadd.column("and_mask").astype(np.int32)
        if coadd.has("and_mask")
        else np.zeros(n, np.int32),
        meta={"format": "spec-lite", "path": str(path)},
    )
    spall = find_table(tables, ("CLASS", "Z"), prefer=("SPALL", "SPECOBJ"))
    if problem := missing_hdus(hdul, spall is not None):
        spec.meta["incomplete"] = problem
    if spall is not None and spall.nrows >= 1:
        spec.label = str(spall.column("CLASS")[0]).strip().upper()
        spec.redshift = float(spall.column("Z")[0])
        spec.meta["subclass"] = (
            str(spall.column("SUBCLASS")[0]).strip() if spall.has("SUBCLASS") else ""
        )
        spec.meta["zwarning"] = int(spall.column("ZWARNING")[0]) if spall.has("ZWARNING") else -1
        for key, col in (("plate", "PLATE"), ("mjd", "MJD"), ("fiber", "FIBERID")):
            if spall.has(col):
                spec.meta[key] = int(spall.column(col)[0])
        if spall.has("SN_MEDIAN_ALL"):
            spec.meta["snr"] = float(spall.column("SN_MEDIAN_ALL")[0])
        if spall.has("SPECTROSYNFLUX"):  # ugriz nanomaggies: r-band AB magnitude
            r_flux = float(np.ravel(spall.column("SPECTROSYNFLUX")[0])[2])
            spec.meta["magnitude"] = 22.5 - 2.5 * np.log10(r_flux) if r_flux > 0 else np.nan
        if len(tables) > 3:
            spec.meta["format"] = "spec-lite+exposures"
    ids_from(spec, hdul[0].header, _SPEC_NAME.search(path.name), (1, 2, 3))
    return spec


def missing_hdus(hdul: Any, has_class_table: bool) -> str:
    """Which HDUs of a spec-lite file are missing ('' when none): the class table
    (SPALL/SPECOBJ, found by its columns) always; in a file the SDSS pipeline wrote
    (primary header card VERS2D), any of its four HDUs (PRIMARY, COADD, SPALL, SPZLINE;
    some files leave them unnamed). A file cut at an HDU boundary lacks them."""
    names = [str(h.name).strip().upper() or "(unnamed)" for h in hdul]
    lacking = [] if has_class_table else ["SPALL or SPECOBJ"]
    if "VERS2D" in hdul[0].header and len(names) < len(PIPELINE_HDUS):
        lacking += PIPELINE_HDUS[len(names) :]
    if not lacking:
        return ""
    return f"{len(names)} HDUs ({', '.join(names)}); no {', '.join(dict.fromkeys(lacking))} HDU"


PIPELINE_HDUS = ["PRIMARY", "COADD", "SPALL or SPECOBJ", "SPZLINE"]
