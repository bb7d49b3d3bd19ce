"""Spectra in the core: reading files, splitting by object, checking folders."""
