"""``template_fit``: the SDSS pipeline's and redrock's way to classify spectra, as a model
plugin (:class:`TemplateFit`). The modules, from the plugin down to the arithmetic:

- ``model``: :class:`TemplateFit`, the :class:`bench.interfaces.Model`; what it does and
  how it reads the spectra (``ModelInput.spectra``).
- ``options``: its options, declared as data.
- ``results``: the fits cached by spectrum and the per-object facts drawn from them
  (``z_err``, ``subclass``, ``delta_chi2``, ``zwarning``).
- ``zwarning``: the SDSS pipeline's warning bits (SMALL_DELTA_CHI2, LITTLE_COVERAGE...).
- ``calibration``: class probabilities from chi-squares, the temperature fitted to a
  labelled sample.
- ``redshift``: the redshift search per class (ranges, polynomials, the best minimum
  refined to a sub-pixel redshift and its error, the quasar-plus-host fit).
- ``emission``: emission lines at a fitted redshift: the galaxy's narrow lines and the
  low-z quasar's broad-line test (bounded least squares).
- ``prepare``: observed spectra on a uniform log10 grid with weights.
- ``scan``: the chi-square of every template set at every trial redshift at once, one
  function for numpy and jax.numpy (``xp``).
- ``templates``: the spEigenStar/Gal/QSO FITS files as :class:`ClassTemplates`.
"""

from __future__ import annotations

from bench_plugins.models.template_fit.model import TemplateFit

__all__ = ["TemplateFit"]
