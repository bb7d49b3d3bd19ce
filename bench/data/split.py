"""Stratified train/test splits with no object on both sides."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.errors import BenchError


def known_label_index(labels: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Positions whose label is one of ``classes``."""
    return np.flatnonzero(np.isin(labels.astype(str), list(classes)))


def stratified_sample(labels: np.ndarray, index: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most ``n`` of ``index``, keeping the class proportions (sorted positions)."""
    if len(index) <= n:
        return index
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(
        index, train_size=n, stratify=_strata(labels[index]), random_state=seed
    )
    return np.sort(keep)


def _strata(labels: np.ndarray) -> np.ndarray | None:
    values, counts = np.unique(labels.astype(str), return_counts=True)
    return labels.astype(str) if len(values) > 1 and counts.min() >= 2 else None


def stratified_split(
    ids: np.ndarray,
    labels: np.ndarray,
    index: np.ndarray,
    train_fraction: float,
    seed: int,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Split positions ``index`` by class; all spectra of one object id fall on one side."""
    from sklearn.model_selection import train_test_split

    uniq, first, inverse = np.unique(ids[index].astype(str), return_index=True, return_inverse=True)
    obj_labels = labels[index][first].astype(str)
    classes, counts = np.unique(obj_labels, return_counts=True)
    for name, count in zip(classes.tolist(), counts.tolist(), strict=True):
        if count < 2:
            raise BenchError(
                f"{where}: class {name!r} has {count} object; need at least 2 to split into train and test"
            )
    n_test = len(uniq) - int(round(train_fraction * len(uniq)))
    if n_test < len(classes) or len(uniq) - n_test < len(classes):
        raise BenchError(
            f"{where}: {len(uniq)} objects are too few for a stratified {train_fraction:g} split "
            f"over {len(classes)} classes"
        )
    obj = np.arange(len(uniq))
    train_obj, _ = train_test_split(obj, test_size=n_test, stratify=obj_labels, random_state=seed)
    in_train = np.isin(inverse, train_obj)
    return np.sort(index[in_train]), np.sort(index[~in_train])
