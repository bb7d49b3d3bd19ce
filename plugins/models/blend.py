"""``blend``: several model plugins trained side by side on the same split, their class
probabilities combined into one classifier (a product of experts by default).

Why: trained on synthetic spectra and tested on real ones, a physics fit and a learned
model fail on different objects. ``template_fit`` misses what its templates lack (M dwarfs,
odd stars) and low-S/N spectra where a freer class fits noise; a CNN misses host-dominated
Seyferts and nearby ellipticals. Multiplying their probabilities keeps what each is sure
of. The rule is fixed in advance (weights default to equal): tuning the weights on the real
test files would be fitting the test set.

``rule = "geometric"``: p ∝ prod_i p_i^w_i (log-linear pooling; a member's confident "no"
vetoes a class); ``"arithmetic"``: p = sum_i w_i p_i (a mixture). Weights are normalised
to sum to 1. Members are created with the core's model factory (:meth:`make_members`)
with their own options (``member_options = {cnn1d = {augment = true}}``; a member that
declares a ``batch_size`` and is given none takes the blend's, which a run sets to the
protocol's, as it does for any model), built with the run's seed, and fitted in order on
the run's inputs; the blend renders inputs for its learned members, which must agree on
the input kind and shape. Members that fit the spectra themselves (``input_kind =
"spectra"``, e.g. ``template_fit``) take any input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Model, ModelFactory, ModelInput
from bench.options import Option
from bench_plugins.models.common import read_meta

FLOOR = 1e-12  # probabilities are clipped here before logs: one member cannot give -inf


def combine(probas: Sequence[np.ndarray], weights: Sequence[float], rule: str) -> np.ndarray:
    """Members' (N, C) probabilities combined with normalised ``weights``; rows sum to 1."""
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    if rule == "arithmetic":
        out = sum(wi * np.asarray(p, np.float64) for wi, p in zip(w, probas, strict=True))
    else:
        logs = sum(
            wi * np.log(np.clip(np.asarray(p, np.float64), FLOOR, 1.0))
            for wi, p in zip(w, probas, strict=True)
        )
        logs = np.asarray(logs)
        out = np.exp(logs - logs.max(axis=1, keepdims=True))
    out = np.asarray(out, np.float64)
    return out / out.sum(axis=1, keepdims=True)


class Blend(Model):
    name = "blend"
    description = "member models' probabilities combined (geometric or arithmetic mean)"
    input_kind: ClassVar[str] = "flux"
    options = (
        Option("members", list, ["template_fit", "cnn1d"], "model plugins blended", item_type=str),
        Option("weights", list, None, "weight of each member (None: equal)", item_type=float, ge=0),
        Option(
            "rule",
            str,
            "geometric",
            "geometric: weighted mean of log-probabilities; arithmetic: of probabilities",
            choices=("geometric", "arithmetic"),
        ),  # fmt: skip
        Option("member_options", dict, {}, "options of each member by name, e.g. {cnn1d = {}}"),
        Option(
            "batch_size",
            int,
            None,
            "batch size of the members that declare one and whose member_options set none "
            "(None: their own default; a run gives the protocol's)",
            ge=1,
        ),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        names = list(p["members"])
        if not names:
            raise BenchError("members: expected at least one model name")
        if len(set(names)) != len(names):
            raise BenchError(f"members: {names} names a model twice")
        if "blend" in names:
            raise BenchError("members: a blend cannot hold a blend")
        if p["weights"] is not None and (len(p["weights"]) != len(names) or sum(p["weights"]) <= 0):
            raise BenchError(
                f"weights: expected {len(names)} numbers >= 0, not all 0 "
                f"(one per member), got {p['weights']!r}"
            )
        unknown = sorted(set(p["member_options"]) - set(names))
        if unknown:
            raise BenchError(f"member_options: {unknown} not in members {names}")
        self.members: list[Model] = []  # made by make_members
        self.n_pixels = 0
        self.classes: list[str] = []

    def make_members(self, create: ModelFactory) -> None:
        """Create the named members with their ``member_options``; the learned ones must
        agree on the input kind, which becomes the blend's."""
        names = list(self.params["members"])
        self.members = [self._create(create, name) for name in names]
        kinds = sorted({m.input_kind for m in self._learned()})
        if len(kinds) > 1:
            raise BenchError(
                f"members: {names} mix input kinds {kinds}; "
                "blend models that take the same input (all image or all flux)"
            )
        self.input_kind = kinds[0] if kinds else "flux"  # type: ignore[misc]

    @classmethod
    def code_dependencies(cls, params: Mapping[str, Any]) -> list[str]:
        """The members: their code goes into the blend's cell key."""
        return [str(name) for name in params.get("members") or cls.options[0].default]

    @classmethod
    def quick_params(
        cls, params: Mapping[str, Any], model_class: Callable[[str], type[Model]]
    ) -> dict[str, Any]:
        """For `bench run --quick`: each member's own quick options (smallest inputs)."""
        names = params.get("members") or cls.options[0].default
        given = dict(params.get("member_options") or {})
        quick = {}
        for name in names:
            own = given.get(name) if isinstance(given.get(name), dict) else {}
            quick[name] = {**own, **model_class(name).quick_params(own, model_class)}
        return {"member_options": {**given, **quick}}

    def _create(self, create: ModelFactory, name: str) -> Model:
        options = self.params["member_options"].get(name, {})
        if not isinstance(options, dict):
            raise BenchError(
                f"member_options.{name}: expected a table of options, got {type(options).__name__}"
            )
        where = f"member_options.{name}"
        model = create(name, dict(options), where)
        if not isinstance(model, Model):
            raise BenchError(f"members: {name!r} is not a model plugin")
        batch = self.params.get("batch_size")
        declared = {option.name for option in type(model).options}
        if batch is not None and "batch_size" in declared and "batch_size" not in options:
            model = create(name, {**options, "batch_size": batch}, where)
        return model

    def weights(self) -> list[float]:
        given = self.params["weights"]
        return [1.0] * len(self.members) if given is None else [float(w) for w in given]

    def _learned(self) -> list[Model]:
        """The members that learn from the rendered inputs (not fitting spectra themselves)."""
        return [m for m in self.members if m.input_kind != "spectra"]

    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        self.n_pixels = int(n_pixels)
        shapes = {m.name: tuple(m.input_shape(n_pixels)) for m in self._learned()}
        if len(set(shapes.values())) > 1:
            raise BenchError(
                f"members: input shapes differ ({shapes}); give the learned "
                "members the same input size (e.g. n_pixels) in member_options"
            )
        return next(iter(shapes.values())) if shapes else (int(n_pixels), 1)

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        self.classes = list(classes)
        learned = self._learned()
        for member in self.members:
            own = member not in learned
            shape = member.input_shape(self.n_pixels or input_shape[0]) if own else input_shape
            member.build(tuple(shape), classes, seed)

    def reports_epochs(self) -> bool:
        return any(member.reports_epochs() for member in self.members)

    def fit(
        self, train: ModelInput, validation: ModelInput | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        """Fit every member; the history is the per-epoch mean over the members that report
        each key (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``)."""
        histories = []
        for member in self.members:
            member.progress = self.progress
            histories.append(member.fit(train, validation, epochs, initial_epoch))
        out: dict[str, list[float]] = {}
        for key in sorted({k for h in histories for k in h}):
            rows = [h[key] for h in histories if key in h and len(h[key])]
            n = min(len(r) for r in rows)
            out[key] = [float(np.mean([r[i] for r in rows])) for i in range(n)]
        return out

    def member_probabilities(self, inputs: ModelInput) -> list[np.ndarray]:
        """Each member's (N, n_classes) probabilities for ``inputs``, in member order."""
        return [np.asarray(m.predict_proba(inputs), np.float64) for m in self.members]

    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        if inputs.n_samples == 0:
            return np.zeros((0, len(self.classes)))
        return combine(self.member_probabilities(inputs), self.weights(), self.params["rule"])

    def redshifts(self, inputs: ModelInput) -> np.ndarray:
        """The redshifts of the first member that measures them (``template_fit``); else NaN."""
        for member in self.members:
            z = member.redshifts(inputs)
            if z is not None:
                return np.asarray(z, np.float64)
        return np.full((inputs.n_samples, len(self.classes)), np.nan)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for i, member in enumerate(self.members):
            member.save(directory / f"member{i}-{member.name}")
        meta = {
            "model": self.name,
            "classes": self.classes,
            "members": [m.name for m in self.members],
            "n_pixels": self.n_pixels,
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        directory = Path(directory)
        meta = read_meta(directory, self.name)
        if meta.get("members") != [m.name for m in self.members]:
            raise BenchError(
                f"{directory / 'model.json'}: saved members {meta.get('members')} differ from "
                f"the configured {[m.name for m in self.members]}"
            )
        self.classes, self.n_pixels = list(meta["classes"]), int(meta.get("n_pixels", 0))
        for i, member in enumerate(self.members):
            member.load(directory / f"member{i}-{member.name}")

    def describe(self) -> Mapping[str, Any]:
        info: dict[str, Any] = {"rule": self.params["rule"], "weights": self.weights()}
        total = 0
        for member in self.members:
            facts = dict(member.describe())
            total += int(facts.get("parameters", 0) or 0)
            info[member.name] = facts
        info["parameters"] = total
        return info

    def timing(self) -> Mapping[str, float]:
        """Each member's timing, keys prefixed with its name (``cnn1d.data_s``)."""
        return {f"{m.name}.{k}": v for m in self.members for k, v in dict(m.timing()).items()}
