"""Tiny fake plugins for core tests: a toy dataset, a flat renderer, a nearest-centroid model."""

from __future__ import annotations

import json

import numpy as np

from bench import hookimpl
from bench.interfaces import Dataset, Model, Renderer
from bench.options import Option
from bench.spectra import CLASSES, ArraySource, SpectrumBatch


class ToyDataset(Dataset):
    """Gaussian noise plus one emission line whose position depends on the class."""

    name = "toy"
    options = (
        Option("n", int, 120, "number of spectra"),
        Option("seed", int, 0, "random seed"),
        Option("unknown", int, 0, "how many extra spectra carry an unknown label"),
        Option("noise", float, 0.3, "noise sigma (larger: the centroid model makes mistakes)"),
        Option("facts", bool, False, "the source also knows per-object S/N and magnitude"),
    )

    def open(self) -> ArraySource:
        n, rng = (
            self.params["n"] + self.params["unknown"],
            np.random.default_rng(self.params["seed"]),
        )
        loglam = 3.6 + 1e-4 * np.arange(200)
        labels = np.array([CLASSES[i % 3] for i in range(n)], dtype=object)
        labels[self.params["n"] :] = "UNKNOWN"
        flux = rng.normal(1.0, self.params["noise"], (n, 200)).astype(np.float32)
        for i in range(n):
            flux[i, 30 + 60 * (i % 3) : 40 + 60 * (i % 3)] += 3.0
        batch = SpectrumBatch(
            ids=np.array([f"toy-{i}" for i in range(n)], dtype=object),
            loglam=loglam,
            flux=flux,
            ivar=np.ones_like(flux),
            mask=np.zeros(flux.shape, np.int32),
            labels=labels,
            redshift=np.zeros(n) if not self.params["facts"] else rng.uniform(0, 3, n),
            snr=np.full(n, 3.0, np.float32),
        )
        source = ArraySource(batch, {"generator": "toy"})
        if self.params["facts"]:  # what sdss sources know (getattr'd by the runner)
            source.snr = rng.uniform(1.0, 30.0, n)  # type: ignore[attr-defined]
            source.magnitude = rng.uniform(16.0, 22.0, n)  # type: ignore[attr-defined]
        return source


class FlatRenderer(Renderer):
    name = "flat"

    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray:
        return batch.flux[:, : shape[0], None].astype(np.float32)


class CentroidModel(Model):
    name = "centroid"
    input_kind = "flux"
    options = (
        Option("fail", bool, False, "raise in fit (to test failing cells)"),
        Option(
            "bad_output",
            str,
            "",
            "return a broken history or probabilities (to test the output checks)",
            choices=("", "no_val_loss", "nan", "unnormalised"),
        ),
    )

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        return (n_pixels, 1)

    def build(self, input_shape, classes, seed):  # type: ignore[no-untyped-def]
        self.classes = list(classes)

    def fit(self, train, validation, epochs, initial_epoch=0):  # type: ignore[no-untyped-def]
        if self.params["fail"]:
            raise RuntimeError("centroid asked to fail")
        x = train.inputs()[..., 0]
        self.centroids = np.stack([x[train.y == k].mean(0) for k in range(len(self.classes))])
        n = epochs - initial_epoch
        history = {
            "loss": [0.5] * n,
            "accuracy": [1.0] * n,
            "val_loss": [0.5] * n,
            "val_accuracy": [1.0] * n,
        }
        if self.params["bad_output"] == "no_val_loss":
            del history["val_loss"]
        return history

    def predict_proba(self, feed):  # type: ignore[no-untyped-def]
        d = ((feed.inputs()[..., 0][:, None, :] - self.centroids[None]) ** 2).mean(-1)
        e = np.exp(-(d - d.min(1, keepdims=True)))
        proba = e / e.sum(1, keepdims=True)
        if self.params.get("bad_output") == "nan":
            proba[0] = np.nan
        elif self.params.get("bad_output") == "unnormalised":
            proba = proba * 2
        return proba

    def save(self, directory):  # type: ignore[no-untyped-def]
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "centroids.npy", self.centroids)
        (directory / "classes.json").write_text(json.dumps(self.classes))

    def load(self, directory):  # type: ignore[no-untyped-def]
        self.centroids = np.load(directory / "centroids.npy")
        self.classes = json.loads((directory / "classes.json").read_text())


@hookimpl
def register_datasets(register):  # type: ignore[no-untyped-def]
    register(ToyDataset)


@hookimpl
def register_renderers(register):  # type: ignore[no-untyped-def]
    register(FlatRenderer)


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    register(CentroidModel)
