"""Reading SDSS spectrum files: the public API a plugin uses (``bench.PUBLIC_API``).

The formats (BOSS/eBOSS/DR18 spec-lite, DR7 spSpec, FITS tables read by column name) are
detected per file and live behind this module in ``bench/data/``, where the core's own
``bench data check`` and ``bench predict`` read through them too; a plugin imports these
names from here and never from ``bench.data``, so the format modules can change freely.

- :func:`find_spectra`: spectrum files under files or folders, sorted, no duplicates.
- :func:`read_spectrum`: one file as a :class:`RawSpectrum` on its own log10-wavelength
  grid (a one-line :class:`~bench.errors.BenchError` naming the file when it is bad).
- :func:`read_batch`: files onto a common grid as a :class:`~bench.spectra.SpectrumBatch`,
  with the ``(path, reason)`` of each file that could not be read.
- :func:`object_snr`: the file's SN_MEDIAN_ALL, else :func:`snr_median` of the flux.
- :func:`find_template_file` and :func:`read_template_file`: the SDSS pipeline's template
  files (spEigenStar, spEigenGal, spEigenQSO) as a :class:`TemplateFile`.
"""

from __future__ import annotations

from bench.data.raw import RawSpectrum
from bench.data.readers import (
    SPECTRUM_SUFFIXES,
    find_spectra,
    object_snr,
    read_batch,
    read_spectrum,
    snr_median,
)
from bench.data.speigen import (
    TEMPLATE_PATTERNS,
    TemplateFile,
    find_template_file,
    read_template_file,
)

__all__ = [
    "SPECTRUM_SUFFIXES",
    "TEMPLATE_PATTERNS",
    "RawSpectrum",
    "TemplateFile",
    "find_spectra",
    "find_template_file",
    "object_snr",
    "read_batch",
    "read_spectrum",
    "read_template_file",
    "snr_median",
]
