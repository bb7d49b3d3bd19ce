"""``TemplateFit``, the ``template_fit`` model plugin: classification by redshifted template
fitting, the way the SDSS pipeline (idlspec2d ``spreduce1d``) and DESI's redrock do it.

For each class its templates (spEigenStar: 123 stellar templates fitted one at a time;
spEigenGal, spEigenQSO: 4 eigen-spectra fitted together) plus observed-frame Legendre
polynomials (``n_poly`` terms; ``star_n_poly`` for one stellar template, which needs more
continuum freedom: the pipeline uses 4, 5 was chosen on synthetic spectra) are fitted by
weighted linear least squares at every trial redshift of a grid suited to the class (stars:
+-``star_v_kms``; galaxies ``galaxy_z``, from where stars end; quasars ``qso_z``).
Quasars below ``qso_host_z`` are also fitted as a quasar plus its host galaxy (spEigenQSO
and spEigenGal together at one redshift): Seyferts and low-z quasars, whose starlight the
quasar eigen-spectra alone cannot fit. That fit has more freedom than the galaxy one, so
its chi-square counts ``1 + host_margin`` times (real BOSS galaxies gain < 4 % from it;
broad-line AGN > 30 %).

Emission lines (:mod:`.emission`), at each class's fitted redshift below ``qso_host_z``:
a quasar there must show broad lines, as in the pipeline's BROADLINE rule (lines wider
than 200 km/s at > 10 sigma). Galaxy + narrow lines and galaxy + narrow + broad Gaussian
lines (Mg II, Balmer; sigma 600-3500 km/s) are fitted with free non-negative line
amplitudes; unless the broad lines gain ``broad_line_sigma``^2 in chi-square (rescaled by
the reduced chi-square when above 1), the low-z quasar fit gives way to the best quasar
fit above ``qso_host_z``, and the galaxy takes the galaxy + narrow-line fit
(``emission_lines``: [O II], [Ne III], Balmer, [O III], [O I], [N II], [S II] at sigma
100 and 200 km/s, like ppxf's gas templates) where the lines are detected at the same
level and the fit is better: starbursts and narrow-line AGN fit as galaxies, while noise
buys a faint star no line freedom. Where no broad line falls on good pixels nothing
changes.

A class's score is its best chi-square, plus a penalty per free parameter of its fit with
``complexity_penalty`` (:mod:`.criterion`; by default rchi2, the SDSS pipeline's reduced
chi-square chi2 / (n_good - k) in chi-square units: about 1 per parameter, so a faint star,
one template and 5 polynomials, is not lost to a galaxy or quasar fit of 7 parameters
that gains less than its extra freedom buys on noise); class probabilities are ``softmax(-(score - min score) / (2 T))``, the
temperature ``T >= 1`` calibrated on (a sample of) the training split by minimising the
log-loss. The fit itself needs no training data:
the predicted class never depends on the training split.

Wavelengths and inverse variances: rendered model inputs carry neither, so the model is a
``"spectra"`` model (``input_kind``) and reads the spectra (``SpectrumBatch``: ``loglam``,
``flux``, ``ivar``, ``mask``) through ``ModelInput.spectra(positions, preprocessed=...)``:
raw by default, through the run's preprocessing steps with ``apply_preprocess = true``.

Per-object results: :meth:`TemplateFit.redshifts` gives the best redshift of every class
``(N, n_classes)``, :meth:`TemplateFit.fit_results` also their errors, the chi-squares and
the best stellar template, :meth:`TemplateFit.object_facts` the columns ``z_err``,
``subclass``, ``delta_chi2`` and ``zwarning``; all reuse the fits ``predict_proba`` made
(cached by spectrum).

``zwarning`` is the SDSS pipeline's ZWARNING (:mod:`.zwarning`), 0 for a clean fit, else
the sum of: 2 LITTLE_COVERAGE (good pixels span < 0.18 in log10 wavelength), 4
SMALL_DELTA_CHI2 (the runner-up class within 0.01 per good pixel in chi-square: ~46 on a
BOSS spectrum, or 1 % of a poor best fit's chi-square; the class is a coin toss), 8
NEGATIVE_MODEL (a star or quasar whose first template coefficient is <= 0), 16
MANY_OUTLIERS (over 5 % of the good pixels 5 sigma off the best fit's model, above it for
a quasar: :mod:`.bestfit`), 32 Z_FITLIMIT (the best minimum at an edge of its range, no
redshift error), 512 NODATA (no good pixel). It lands in predictions.csv
and in ``bench predict``'s output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Model, ModelInput
from bench_plugins.models.template_fit.calibration import fit_temperature, probabilities
from bench_plugins.models.template_fit.criterion import class_scores
from bench_plugins.models.template_fit.options import OPTIONS
from bench_plugins.models.template_fit.redshift import FitSettings
from bench_plugins.models.template_fit.results import FitCache, fit_cached, fit_facts
from bench_plugins.models.template_fit.templates import (
    FIT_CLASSES,
    ClassTemplates,
    load_templates,
    template_files,
)


class TemplateFit(Model):
    name = "template_fit"
    description = "SDSS/redrock-style redshifted template fit (spEigen templates + polynomial)"
    input_kind = "spectra"  # fits the spectra (ModelInput.spectra), not rendered inputs
    options = OPTIONS
    quick_options: ClassVar[dict[str, Any]] = {"calibration_size": 100}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        for key in ("galaxy_z", "qso_z"):
            z = p[key]
            if len(z) != 2 or not -0.1 <= z[0] < z[1] <= 10.0:
                raise BenchError(
                    f"template_fit.{key}: expected [min, max] within -0.1..10, got {z!r}"
                )
        self.classes: list[str] = []
        self.shape: tuple[int, ...] = ()
        self.seed = 0
        self.temperature = 1.0
        self.fitted = False
        self._cache: FitCache = {}
        self.last_results: dict[str, np.ndarray] | None = None

    # -- Model API ----------------------------------------------------------------------

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        return (int(n_pixels), 1)

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        self.classes, self.shape, self.seed = list(classes), tuple(input_shape), int(seed)
        if not set(self.classes) & set(FIT_CLASSES):
            raise BenchError(
                f"model template_fit: classes {self.classes} hold none of {list(FIT_CLASSES)}"
            )
        self.temperature, self.fitted = 1.0, False
        self.templates()  # fail early on a bad template_dir

    def fit(
        self,
        train: ModelInput,
        validation: ModelInput | None,
        epochs: int,
        initial_epoch: int = 0,
    ) -> dict[str, list[float]]:
        size = self.params["calibration_size"]
        train_pos = self._sample(train, size, 0)
        if not self.fitted:
            chi2 = self._chi2(train, train_pos)
            self.temperature = fit_temperature(chi2, train.y[train_pos])
            self.fitted = True
        history: dict[str, list[float]] = {}
        runs = epochs - initial_epoch
        for prefix, inputs, pos in (
            ("", train, train_pos),
            ("val_", validation, None if validation is None else self._sample(validation, size, 1)),
        ):
            if inputs is None or inputs.n_samples == 0 or pos is None:
                continue
            y = inputs.y[pos]
            proba = probabilities(self._chi2(inputs, pos), self.temperature)[y >= 0]
            y = y[y >= 0]
            if not len(y):
                continue
            loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0))))
            history[prefix + "loss"] = [loss] * runs
            history[prefix + "accuracy"] = [float(np.mean(proba.argmax(1) == y))] * runs
        return history

    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        results = self.fit_results(inputs)
        return probabilities(results["score"], self.temperature)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "model": self.name,
            "classes": self.classes,
            "input_shape": list(self.shape),
            "seed": self.seed,
            "temperature": self.temperature,
            "fitted": self.fitted,
            "templates": self._template_names(),
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        path = Path(directory) / "model.json"
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(f"{path}: not a saved template_fit model ({exc})") from None
        if meta.get("model") != self.name:
            raise BenchError(f"{path}: holds model {meta.get('model')!r}, not {self.name!r}")
        self.classes, self.shape = list(meta["classes"]), tuple(meta["input_shape"])
        self.seed, self.temperature = int(meta["seed"]), float(meta["temperature"])
        self.fitted = bool(meta["fitted"])

    def describe(self) -> Mapping[str, Any]:
        templates = self.templates()
        return {
            "backend": self.backend(),
            "templates": self._template_names(),
            "n_templates": {k: int(np.prod(v.flux.shape[:2])) for k, v in templates.items()},
            "temperature": self.temperature,
            "parameters": 1,
        }

    # -- per-object results ---------------------------------------------------------------

    def fit_results(self, inputs: ModelInput) -> dict[str, np.ndarray]:
        """Per spectrum of ``inputs`` (in position order): ``chi2``, ``score`` (the chi-square
        the classes are ranked by, :mod:`.criterion`), ``z`` and ``z_err`` (1 sigma),
        ``n_params`` (free parameters of each fit), ``outliers`` (good pixels over 5 sigma
        from each class's model) and ``negative`` (a negative model) (N, n_classes) in the
        order of ``classes`` (inf / NaN / 0 for a class without templates),
        ``star_template`` (N,) name of the best stellar template, ``n_good`` (N,) good
        pixels and ``coverage`` (N,) their span in log10 wavelength. Cached: free after
        ``predict_proba``."""
        fit = self._fit(inputs, np.arange(inputs.n_samples))
        self.last_results = {
            "chi2": self._by_class(fit["chi2"], np.inf),
            "score": self._by_class(self._score(fit), np.inf),
            "z": self._by_class(fit["z"], np.nan),
            "z_err": self._by_class(fit["z_err"], np.nan),
            "n_params": self._by_class(fit["n_params"], 0).astype(np.int64),
            "outliers": self._by_class(fit["outliers"], 0).astype(np.int64),
            "negative": self._by_class(fit["negative"], 0).astype(bool),
            "star_template": np.array(self.templates()["STAR"].names, dtype=object)[fit["star"]],
            "n_good": fit["n_good"],
            "coverage": fit["coverage"],
        }
        return self.last_results

    def redshifts(self, inputs: ModelInput) -> np.ndarray:
        """Best redshift of every class (N, n_classes), in the order of ``classes``."""
        return self.fit_results(inputs)["z"]

    def object_facts(self, inputs: ModelInput) -> Mapping[str, np.ndarray]:
        """``z_err``, ``subclass``, ``delta_chi2`` and ``zwarning`` for predictions.csv
        (:func:`fit_facts`)."""
        return fit_facts(self.fit_results(inputs), self.classes)

    # -- internals ------------------------------------------------------------------------

    def templates(self) -> dict[str, ClassTemplates]:
        folder = self.params["template_dir"]
        return load_templates(None if folder is None else str(Path(folder).resolve()))

    def _template_names(self) -> list[str]:
        return template_files(self.params["template_dir"])

    def backend(self) -> str:
        choice = self.params["backend"]
        if choice != "auto":
            return choice
        try:
            import jax

            return "numpy" if jax.default_backend() == "cpu" else "jax"
        except ImportError:  # pragma: no cover - jax is a dependency
            return "numpy"

    def settings(self) -> FitSettings:
        p = self.params
        return FitSettings(
            n_poly=p["n_poly"], star_n_poly=p["star_n_poly"], star_v_kms=p["star_v_kms"],
            galaxy_z=(p["galaxy_z"][0], p["galaxy_z"][1]), qso_z=(p["qso_z"][0], p["qso_z"][1]),
            qso_host_z=p["qso_host_z"], host_margin=p["host_margin"],
            constrain=p["constrain"], emission_lines=p["emission_lines"],
            broad_line_sigma=p["broad_line_sigma"], backend=self.backend(),
            precision=p["precision"],
        )  # fmt: skip

    def _sample(self, inputs: ModelInput, size: int, stream: int) -> np.ndarray:
        known = np.flatnonzero(inputs.y >= 0)
        if len(known) <= size:
            return known
        rng = np.random.default_rng([self.seed, stream])
        return np.sort(rng.choice(known, size, replace=False))

    def _chi2(self, inputs: ModelInput, positions: np.ndarray) -> np.ndarray:
        """The class scores (chi-square with the complexity penalty) of some spectra."""
        return self._by_class(self._score(self._fit(inputs, positions)), np.inf)

    def _score(self, fit: Mapping[str, np.ndarray]) -> np.ndarray:
        penalty = self.params["complexity_penalty"]
        return class_scores(fit["chi2"], fit["n_params"], fit["n_good"], penalty)

    def _by_class(self, values: np.ndarray, fill: float) -> np.ndarray:
        """(N, 3) columns in FIT_CLASSES order -> (N, n_classes) in ``classes`` order."""
        out = np.full((len(values), len(self.classes)), fill)
        for j, label in enumerate(self.classes):
            if label in FIT_CLASSES:
                out[:, j] = values[:, FIT_CLASSES.index(label)]
        return out

    def _fit(self, inputs: ModelInput, positions: np.ndarray) -> dict[str, np.ndarray]:
        p = self.params
        return fit_cached(
            self._cache, inputs, positions, self.templates(), self.settings(), p["batch"],
            p["apply_preprocess"],
        )  # fmt: skip
