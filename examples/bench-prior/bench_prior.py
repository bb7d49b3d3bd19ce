"""An example third-party plugin: one module, one entry point, one model.

``nearest_centroid`` standardises each flux vector, keeps the mean vector of each class
and scores a spectrum by its distance to them, weighted by the class priors seen in
training: ``p(k | x) ∝ prior_k ** w * exp(-d_k / temperature)``. It needs numpy only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench import hookimpl
from bench.interfaces import Model, ModelInput
from bench.options import Option


def standardise(x: np.ndarray) -> np.ndarray:
    """Each row to zero mean and unit spread (a flat row stays 0)."""
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(x.std(axis=1, keepdims=True), 1e-12)


class NearestCentroid(Model):
    """Distance to each class's mean standardised flux vector, weighted by class priors."""

    name = "nearest_centroid"
    description = "Nearest class centroid of standardised flux, weighted by class priors"
    input_kind = "flux"
    options = (
        Option("n_pixels", int, 512, "length of the flux vector"),
        Option("temperature", float, 0.1, "softmax temperature of the mean squared distance"),
        Option("prior_weight", float, 1.0, "exponent of the class priors (0: ignore them)"),
    )
    quick_options: ClassVar[dict[str, Any]] = {"n_pixels": 64}

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        return (self.params["n_pixels"], 1)

    def build(self, input_shape: tuple[int, ...], classes: Any, seed: int) -> None:
        self.classes = [str(c) for c in classes]
        self.centroids = np.zeros((len(self.classes), input_shape[0]))
        self.log_prior = np.full(len(self.classes), -np.log(len(self.classes)))

    def fit(
        self, train: ModelInput, validation: ModelInput | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        x, y = standardise(train.inputs()[..., 0]), train.y
        counts = np.array([(y == k).sum() for k in range(len(self.classes))], float)
        for k in np.flatnonzero(counts):
            self.centroids[k] = x[y == k].mean(axis=0)
        self.log_prior = np.log(np.maximum(counts, 0.5) / counts.sum())
        history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        for inputs, prefix in ((train, ""), (validation, "val_")):
            if inputs is None or inputs.n_samples == 0:
                continue
            p = self.predict_proba(inputs)
            known = inputs.y >= 0
            loss = -np.log(np.maximum(p[known, inputs.y[known]], 1e-12)).mean()
            accuracy = (p[known].argmax(1) == inputs.y[known]).mean()
            history[prefix + "loss"] = [float(loss)] * (epochs - initial_epoch)
            history[prefix + "accuracy"] = [float(accuracy)] * (epochs - initial_epoch)
        return history

    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        x = standardise(inputs.inputs()[..., 0])
        d = ((x[:, None, :] - self.centroids[None]) ** 2).mean(axis=-1)
        logits = -d / self.params["temperature"] + self.params["prior_weight"] * self.log_prior
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "centroids.npz", centroids=self.centroids, log_prior=self.log_prior)
        (directory / "classes.json").write_text(json.dumps(self.classes))

    def load(self, directory: Path) -> None:
        with np.load(directory / "centroids.npz") as saved:
            self.centroids, self.log_prior = saved["centroids"], saved["log_prior"]
        self.classes = json.loads((directory / "classes.json").read_text())


@hookimpl
def register_models(register: Any) -> None:
    register(NearestCentroid)
