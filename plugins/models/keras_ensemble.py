"""Seed ensembles of the Keras models (option ``ensemble``): N members of one architecture,
trained independently, whose softmax probabilities are averaged.

Each member is a full model instance of the same class with ``ensemble = 1``, so all
per-network state (device wrappers, the data-parallel distribution, frozen-backbone
feature caches, timings) is its own. Member 0 is exactly the single model: built with
the ``build`` seed and trained on the feed as given. Member k >= 1 is built with
:func:`member_seed` ``(seed, k)`` (its own initialisation and dropout draws) and trains on
the feed re-seeded with ``member_seed(feed.seed, k)`` (its own shuffled order every epoch
and, with ``augment``, its own augmentation draws); validation and test feeds are shared.

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

With ``ensemble = 1`` none of this runs: the model trains, predicts, saves and describes
itself exactly as before the option existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.feed import Feed
    from bench_plugins.models.keras_base import KerasModel

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


class KerasEnsemble:
    """Mixin of :class:`~bench_plugins.models.keras_base.KerasModel`: the members of a
    seed ensemble (``members`` is empty for ``ensemble = 1``)."""

    params: dict[str, Any]
    name: str
    progress: Any
    members: list[KerasModel]
    _member_feeds: dict[int, tuple[Feed, Feed]]

    def new_member(self) -> KerasModel:
        """An unbuilt member: this model's class and options, ``ensemble = 1``."""
        return type(self)(**{**self.params, "ensemble": 1})  # type: ignore[return-value]

    def build_members(
        self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int
    ) -> None:
        """Build the ``ensemble`` members, member k with :func:`member_seed` ``(seed, k)``."""
        self.members, self._member_feeds = [], {}
        for k in range(self.params["ensemble"]):
            member = self.new_member()
            member.build(input_shape, classes, member_seed(seed, k))
            self.members.append(member)

    def member_feed(self, k: int, train: Feed) -> Feed:
        """``train`` for member ``k``: re-seeded with ``member_seed(train.seed, k)`` (kept
        inputs shared), the same copy on every continued fit."""
        if k == 0:
            return train
        known = self._member_feeds.get(k)
        if known is None or known[0] is not train:
            seed = member_seed(int(train.seed), k)
            known = (train, train.rebatched(train.batch_size, seed=seed))
            self._member_feeds[k] = known
        return known[1]

    def fit_members(
        self, train: Feed, validation: Feed | None, epochs: int, initial_epoch: int
    ) -> dict[str, list[float]]:
        """Fit every member in turn; the per-epoch mean of their histories."""
        histories = []
        for k, member in enumerate(self.members):
            member.progress = self.progress
            feed = self.member_feed(k, train)
            histories.append(member.fit(feed, validation, epochs, initial_epoch))
        return mean_history(histories)

    def predict_members(self, feed: Feed) -> np.ndarray:
        """The mean of the members' probabilities."""
        return np.mean([member.predict_proba(feed) for member in self.members], axis=0)

    def save_members(self, directory: Path) -> int:
        """Write members 1.. as ``member<k>.keras`` (the caller saves member 0); their count."""
        for k, member in enumerate(self.members[1:], start=1):
            member._network().save(directory / member_file(k))
        return len(self.members)

    def load_members(self, directory: Path, meta: Mapping[str, Any]) -> None:
        """Restore the members a :meth:`save_members` wrote (``meta``: ``model.json``)."""
        count = int(meta.get("ensemble", 1))
        if count != self.params["ensemble"]:
            raise BenchError(
                f"{directory / 'model.json'}: holds an ensemble of {count} member(s); "
                f"model {self.name}.ensemble is {self.params['ensemble']}"
            )
        self.members, self._member_feeds = [], {}
        if count == 1:
            return
        for k in range(count):
            member = self.new_member()
            member.restore(directory, meta, member_file(k))
            self.members.append(member)

    def describe_members(self) -> dict[str, Any]:
        """Member 0's facts, with the ensemble size and parameters summed over members."""
        facts = [dict(member.describe()) for member in self.members]
        info = facts[0]
        info["ensemble"] = len(self.members)
        info["member_parameters"] = info["parameters"]
        for key in ("parameters", "trainable_parameters"):
            info[key] = sum(int(f[key]) for f in facts)
        return info

    def member_timing(self) -> dict[str, float]:
        """The members' raw timing records, summed key by key."""
        total: dict[str, float] = {}
        for member in self.members:
            for key, value in member._timing.items():
                total[key] = total.get(key, 0.0) + float(value)
        return total


def mean_history(histories: Sequence[Mapping[str, list[float]]]) -> dict[str, list[float]]:
    """Per-epoch mean over ``histories`` of every key they all have (in the first's order)."""
    keys = [key for key in histories[0] if all(key in h for h in histories)]
    return {key: [float(v) for v in np.mean([h[key] for h in histories], axis=0)] for key in keys}
