"""Seed ensembles of the Keras models (option ``ensemble``): N members of one architecture,
trained independently, whose softmax probabilities are averaged.

A :class:`SeedEnsemble` is a composite model: a :class:`~.base.KerasModel` built with
``ensemble`` > 1 hands it every :class:`~bench.interfaces.Model` method, once, when it is
constructed. Each member is a full single-network instance of the same class with
``ensemble = 1``, so all per-network state (device wrappers, the data-parallel
distribution, frozen-backbone feature caches, timings) is its own. Member 0 is exactly the
single model: built with the ``build`` seed and trained on the input as given. Member
k >= 1 is built with :func:`member_seed` ``(seed, k)`` (its own initialisation and dropout
draws) and trains on the input re-seeded with ``member_seed(train.seed, k)`` (its own
shuffled order every epoch and, with ``augment``, its own augmentation draws); validation
and test inputs are shared.

- ``fit``: the members one after the other over the same epochs (each reports progress);
  the history is the per-epoch mean over the members of each key (``loss``,
  ``accuracy``, ``val_loss``, ``val_accuracy``); a continued fit continues every member.
- ``predict_proba``: the mean of the members' probabilities.
- ``save``: member 0 in ``model.keras`` (as a single model), member k in
  ``member<k>.keras``; ``model.json`` records ``"ensemble": N``. ``load`` restores them
  all in safe mode.
- ``describe``: member 0's facts with ``ensemble`` = N, ``parameters`` and
  ``trainable_parameters`` summed over the members and ``member_parameters`` (one member).
- ``timing``: seconds (and steps) summed over the members.

With ``ensemble = 1`` none of this exists: the model trains, predicts, saves and
describes itself exactly as before the option existed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Model, ModelInput
from bench_plugins.models.common import read_meta

# A member: a KerasModel of the owner's class with ensemble = 1 (typed loosely: this module
# must not import base.py, which imports it).
Member = Any

_MEMBER_TAG = 0xE45E  # tells member seeds from other seeds derived from the same one


def member_seed(seed: int, k: int) -> int:
    """Seed of member ``k``: ``seed`` itself for member 0, else a SeedSequence hash of
    (seed, k) in [0, 2**31): unlike seed + k, the members of seed 0 do not repeat seed 1."""
    if k == 0:
        return int(seed)
    state = np.random.SeedSequence([int(seed) % 2**32, k, _MEMBER_TAG]).generate_state(1)
    return int(state[0] >> 1)


def member_file(k: int) -> str:
    """The file member ``k`` is saved in: ``model.keras`` (member 0), ``member<k>.keras``."""
    return "model.keras" if k == 0 else f"member{k}.keras"


def check_member_count(directory: Path, meta: Mapping[str, Any], name: str, expected: int) -> None:
    """BenchError when the saved ``model.json`` (``meta``) holds another number of members."""
    count = int(meta.get("ensemble", 1))
    if count != expected:
        raise BenchError(
            f"{directory / 'model.json'}: holds an ensemble of {count} member(s); "
            f"model {name}.ensemble is {expected}"
        )


def mean_history(histories: Sequence[Mapping[str, list[float]]]) -> dict[str, list[float]]:
    """Per-epoch mean over ``histories`` of every key they all have (in the first's order)."""
    keys = [key for key in histories[0] if all(key in h for h in histories)]
    return {key: [float(v) for v in np.mean([h[key] for h in histories], axis=0)] for key in keys}


class SeedEnsemble:
    """The members of ``owner``'s seed ensemble and the Model methods over them.

    ``owner`` is the registered model the core holds (``ensemble`` > 1): its ``progress``
    reaches the members, and after ``build``/``load`` its ``classes``, ``shape`` and
    ``network`` (member 0's) describe the ensemble as they would a single model.
    """

    # the Model methods a KerasModel with ensemble > 1 takes from its SeedEnsemble
    MODEL_METHODS = ("build", "fit", "predict_proba", "save", "load", "describe", "timing")

    def __init__(self, owner: Model) -> None:
        self.owner = owner
        self.size = int(owner.params["ensemble"])
        self.members: list[Member] = []
        self._train: dict[int, tuple[ModelInput, ModelInput]] = {}

    def new_member(self) -> Member:
        """An unbuilt member: the owner's class and options, ``ensemble = 1``."""
        return type(self.owner)(**{**self.owner.params, "ensemble": 1})

    def _adopt(self) -> None:
        """The owner shows member 0's network (and its classes and shape)."""
        first = self.members[0]
        owner: Any = self.owner
        owner.classes, owner.shape = list(first.classes), tuple(first.shape)
        owner.network, owner.devices = first.network, first.devices

    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None:
        """Build the members, member k with :func:`member_seed` ``(seed, k)``."""
        self.members, self._train = [], {}
        for k in range(self.size):
            member = self.new_member()
            member.build(input_shape, classes, member_seed(seed, k))
            self.members.append(member)
        self._adopt()

    def member_train(self, k: int, train: ModelInput) -> ModelInput:
        """``train`` for member ``k``: re-seeded with ``member_seed(train.seed, k)`` (kept
        inputs shared), the same copy on every continued fit."""
        if k == 0:
            return train
        known = self._train.get(k)
        if known is None or known[0] is not train:
            seed = member_seed(int(train.seed), k)
            known = (train, train.rebatched(train.batch_size, seed=seed))
            self._train[k] = known
        return known[1]

    def fit(
        self, train: ModelInput, validation: ModelInput | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        """Fit every member in turn; the per-epoch mean of their histories."""
        histories = []
        for k, member in enumerate(self.members):
            member.progress = self.owner.progress
            own = self.member_train(k, train)
            histories.append(member.fit(own, validation, epochs, initial_epoch))
        return mean_history(histories)

    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        """The mean of the members' probabilities."""
        if inputs.n_samples == 0:
            return np.zeros((0, len(self.owner.classes)))
        return np.mean([member.predict_proba(inputs) for member in self.members], axis=0)

    def save(self, directory: Path) -> None:
        """Member k in :func:`member_file` ``(k)``; ``model.json`` with ``"ensemble": N``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for k, member in enumerate(self.members):
            member._network().save(directory / member_file(k))
        first = self.members[0]
        meta = {
            "model": self.owner.name,
            "classes": first.classes,
            "input_shape": list(first.shape),
            "ensemble": len(self.members),
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=1) + "\n")

    def load(self, directory: Path) -> None:
        """Restore the members :meth:`save` wrote (safe mode)."""
        directory = Path(directory)
        meta = read_meta(directory, self.owner.name)
        check_member_count(directory, meta, self.owner.name, self.size)
        self.members, self._train = [], {}
        for k in range(self.size):
            member = self.new_member()
            member.restore(directory, meta, member_file(k))
            self.members.append(member)
        self._adopt()

    def describe(self) -> Mapping[str, Any]:
        """Member 0's facts, with the ensemble size and parameters summed over members."""
        facts = [dict(member.describe()) for member in self.members]
        info = facts[0]
        info["ensemble"] = len(self.members)
        info["member_parameters"] = info["parameters"]
        for key in ("parameters", "trainable_parameters"):
            info[key] = sum(int(f[key]) for f in facts)
        return info

    def timing(self) -> Mapping[str, float]:
        """The members' timing records, summed key by key."""
        total: dict[str, float] = {}
        for member in self.members:
            for key, value in member.timing().items():
                total[key] = total.get(key, 0.0) + float(value)
        return {k: round(v, 4) if k != "steps" else int(v) for k, v in total.items()}
