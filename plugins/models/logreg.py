"""Logistic regression on the resampled, normalised flux vector (scikit-learn baseline).

``fit`` trains once, on the whole training split (``train.inputs()``); a later call with a
larger ``epochs`` keeps the fitted model (there are no epochs to continue). The history
records training and test log-loss and accuracy once per call, repeated for each epoch
of the call. The model is saved as plain arrays in ``logreg.npz`` (no pickle: loading a
pickle can run arbitrary code) and predicted from them with numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Model, ModelInput
from bench.options import Option
from bench_plugins.models.common import FLUX_OPTIONS, read_meta


def softmax_proba(x: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """scikit-learn's LogisticRegression.predict_proba from its fitted arrays."""
    z = x @ coef.T + intercept
    if coef.shape[0] == 1:  # binary: one decision function
        z = np.hstack([np.zeros_like(z), z])
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sklearn_checked(validate: Any) -> None:
    """Run scikit-learn's parameter validation; its refusal as a one-line BenchError."""
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        validate()
    except InvalidParameterError as exc:
        raise BenchError(f"scikit-learn refuses the options: {exc}") from None


class LogisticRegression(Model):
    name = "logreg"
    description = "scikit-learn multinomial logistic regression on the flux vector"
    input_kind = "flux"
    options = (
        *FLUX_OPTIONS,
        Option("C", float, 1.0, "inverse L2 regularisation strength", gt=0.0),
        Option("max_iter", int, 1000, "L-BFGS iterations", ge=1),
        Option("class_weight", str, "none", "class weights", choices=("none", "balanced")),
    )
    quick_options: ClassVar[dict[str, Any]] = {"n_pixels": 128}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        _sklearn_checked(self._estimator(seed=0)._validate_params)  # sklearn's constraints
        self.classes: list[str] = []
        self.shape: tuple[int, ...] = ()
        self.coef: np.ndarray | None = None
        self.intercept = np.zeros(0)
        self.fitted_classes = np.zeros(0, np.int64)  # indices into classes seen in training
        self.seed = 0

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        return (self.params["n_pixels"], 1)

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        self.classes, self.shape, self.seed = list(classes), tuple(input_shape), seed
        self.coef = None

    def fit(
        self, train: ModelInput, validation: ModelInput | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        if self.coef is None:
            self._fit_once(train)
        history: dict[str, list[float]] = {}
        splits = [("", train), ("val_", validation)]
        for prefix, inputs in splits:
            if inputs is None or inputs.n_samples == 0:
                continue
            known = inputs.y >= 0
            proba = self.predict_proba(inputs)[known]
            y = inputs.y[known]
            loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0))))
            accuracy = float(np.mean(proba.argmax(axis=1) == y))
            history[prefix + "loss"] = [loss] * (epochs - initial_epoch)
            history[prefix + "accuracy"] = [accuracy] * (epochs - initial_epoch)
        return history

    def _estimator(self, seed: int) -> Any:
        """scikit-learn's estimator for these options; a BenchError with scikit-learn's
        own message when its parameter constraints refuse them (checked at config load,
        so `bench validate` sees them, not training)."""
        from sklearn.linear_model import LogisticRegression as SkLogisticRegression

        class_weight = None if self.params["class_weight"] == "none" else "balanced"
        model = SkLogisticRegression(
            C=self.params["C"],
            max_iter=self.params["max_iter"],
            class_weight=class_weight,
            random_state=seed,
        )
        return model

    def _fit_once(self, train: ModelInput) -> None:
        known = train.y >= 0
        x = train.inputs().reshape(train.n_samples, -1)[known]
        y = train.y[known]
        if len(np.unique(y)) < 2:
            raise BenchError(
                f"model {self.name}: the training split holds {len(np.unique(y))} class(es); "
                "logistic regression needs at least 2"
            )
        model = self._estimator(self.seed)
        model.fit(x, y)
        self.coef, self.intercept = model.coef_, model.intercept_
        self.fitted_classes = model.classes_.astype(np.int64)

    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError(f"model {self.name!r}: call fit() or load() first")
        x = inputs.inputs().reshape(inputs.n_samples, -1).astype(np.float64)
        proba = np.zeros((inputs.n_samples, len(self.classes)))
        proba[:, self.fitted_classes] = softmax_proba(x, self.coef, self.intercept)
        return proba

    def save(self, directory: Path) -> None:
        import json

        if self.coef is None:
            raise RuntimeError(f"model {self.name!r}: nothing to save before fit()")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "logreg.npz",
            coef=self.coef,
            intercept=self.intercept,
            fitted_classes=self.fitted_classes,
        )
        meta = {"model": self.name, "classes": self.classes, "input_shape": list(self.shape)}
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        meta = read_meta(Path(directory), self.name)
        self.classes, self.shape = list(meta["classes"]), tuple(meta["input_shape"])
        with np.load(Path(directory) / "logreg.npz", allow_pickle=False) as data:
            self.coef, self.intercept = data["coef"], data["intercept"]
            self.fitted_classes = data["fitted_classes"]

    def describe(self) -> Mapping[str, Any]:
        import sklearn

        size = 0 if self.coef is None else int(self.coef.size + self.intercept.size)
        return {"backend": f"scikit-learn {sklearn.__version__}", "parameters": size}
