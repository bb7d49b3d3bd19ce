"""Deliberately broken plugins: the conformance suite must say what to fix in each."""

from __future__ import annotations

import numpy as np

from bench import hookimpl
from bench.conformance import spectra
from bench.interfaces import Dataset, Model, Preprocessor, Renderer
from bench.options import Option
from bench.spectra import ArraySource, SpectrumBatch


class UnnormalisedModel(Model):
    """Raw scores instead of probabilities; forgets its weights on save; unseeded."""

    name = "broken_model"
    input_kind = "flux"

    def input_shape(self, n_pixels):  # type: ignore[no-untyped-def]
        return (n_pixels, 1)

    def build(self, input_shape, classes, seed):  # type: ignore[no-untyped-def]
        self.weights = np.random.default_rng().normal(size=(input_shape[0], len(classes)))

    def fit(self, train, validation, epochs, initial_epoch=0):  # type: ignore[no-untyped-def]
        return {
            "loss": [1.0] * (epochs - initial_epoch),
            "accuracy": [0.3] * (epochs - initial_epoch),
        }

    def predict_proba(self, feed):  # type: ignore[no-untyped-def]
        return np.abs(feed.inputs()[..., 0] @ self.weights) / 100

    def save(self, directory):  # type: ignore[no-untyped-def]
        directory.mkdir(parents=True, exist_ok=True)

    def load(self, directory):  # type: ignore[no-untyped-def]
        self.weights = np.ones((400, 3))


class WrongShapeRenderer(Renderer):
    """Drops the channel axis and returns float64 values above 1."""

    name = "broken_renderer"

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        return np.full((len(batch), *shape[:2]), 2.0)


class NaNPreprocessor(Preprocessor):
    """Divides by ivar: NaN and inf where ivar is 0."""

    name = "broken_preprocessor"

    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch:
        with np.errstate(divide="ignore", invalid="ignore"):
            return batch.with_arrays(flux=batch.flux / batch.ivar)


class ShortLabelsDataset(Dataset):
    """One label short of its ids."""

    name = "broken_dataset"
    options = (Option("n", int, 10, "number of spectra"),)

    def open(self) -> ArraySource:
        n = self.params["n"]
        source = ArraySource(spectra(n=n))
        source.labels = source.labels[:-1]
        return source


@hookimpl
def register_datasets(register):  # type: ignore[no-untyped-def]
    register(ShortLabelsDataset)


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    register(UnnormalisedModel)


@hookimpl
def register_renderers(register):  # type: ignore[no-untyped-def]
    register(WrongShapeRenderer)


@hookimpl
def register_preprocessors(register):  # type: ignore[no-untyped-def]
    register(NaNPreprocessor)
