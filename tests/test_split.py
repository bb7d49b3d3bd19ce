"""Stratified splits, sampling, options and grid placement."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.split import stratified_sample, stratified_split
from bench.errors import BenchError
from bench.options import Option, resolve_options
from bench.spectra import boss_grid, to_grid


def labels_of(counts: dict[str, int]) -> np.ndarray:
    return np.array([c for c, n in counts.items() for _ in range(n)], dtype=object)


def test_split_is_stratified_seeded_and_disjoint():
    labels = labels_of({"STAR": 50, "GALAXY": 30, "QSO": 20})
    ids = np.array([f"o{i}" for i in range(len(labels))], dtype=object)
    index = np.arange(len(labels))
    train, test = stratified_split(ids, labels, index, 0.8, seed=3, where="t")
    again = stratified_split(ids, labels, index, 0.8, seed=3, where="t")
    other = stratified_split(ids, labels, index, 0.8, seed=4, where="t")
    assert np.array_equal(train, again[0]) and not np.array_equal(train, other[0])
    assert not set(train) & set(test) and len(train) + len(test) == 100
    for name, n in {"STAR": 50, "GALAXY": 30, "QSO": 20}.items():
        assert (labels[test] == name).sum() == n // 5


def test_repeated_object_ids_stay_on_one_side():
    labels = labels_of({"STAR": 20, "QSO": 20})
    ids = np.array([f"obj{i // 2}" for i in range(40)], dtype=object)  # every object twice
    train, test = stratified_split(ids, labels, np.arange(40), 0.5, seed=0, where="t")
    assert not set(ids[train]) & set(ids[test])
    assert len(train) == len(test) == 20


def test_class_with_one_member_cannot_be_split():
    labels = labels_of({"STAR": 10, "QSO": 1})
    ids = np.arange(11).astype(str)
    with pytest.raises(BenchError, match="class 'QSO' has 1 object; need at least 2"):
        stratified_split(ids, labels, np.arange(11), 0.8, 0, "dataset 'x'")


def test_stratified_sample_keeps_proportions():
    labels = labels_of({"STAR": 600, "GALAXY": 300, "QSO": 100})
    keep = stratified_sample(labels, np.arange(1000), 100, seed=0)
    assert len(keep) == 100 and np.all(np.diff(keep) > 0)
    assert (labels[keep] == "STAR").sum() == 60 and (labels[keep] == "QSO").sum() == 10


def test_options_defaults_types_choices_and_unknown_keys():
    declared = (
        Option("window", int, 5, "w"),
        Option("scale", float, 1.0, "s"),
        Option("mode", str, "a", "m", choices=("a", "b")),
        Option("sizes", list, [1], "z", item_type=int),
    )
    assert resolve_options(declared, {"scale": 2}, "x") == {
        "window": 5,
        "scale": 2.0,
        "mode": "a",
        "sizes": [1],
    }
    for given, message in [
        (
            {"windw": 3},
            "unknown option 'windw' (did you mean 'window'?); valid options: mode, scale, sizes, window",
        ),
        ({"window": True}, "x.window: expected integer, got bool True"),
        ({"mode": "c"}, "x.mode: 'c' is not valid; expected one of ['a', 'b']"),
        ({"sizes": [1, "2"]}, "x.sizes[1]: expected integer, got str '2'"),
    ]:
        with pytest.raises(BenchError) as err:
            resolve_options(declared, given, "x")
        assert message in str(err.value)


def test_to_grid_places_boss_pixels_exactly_and_interpolates_others():
    grid = boss_grid()
    loglam = grid[100:300]
    flux = np.arange(200, dtype=np.float32)
    f, iv, m = to_grid(loglam, flux, np.ones(200, np.float32), np.zeros(200, np.int32), grid)
    assert np.array_equal(f[100:300], flux) and iv[:100].sum() == 0 and iv[300:].sum() == 0
    shifted = loglam + 0.5e-4  # half a pixel off the lattice: linear interpolation
    f2, iv2, _ = to_grid(shifted, flux, np.ones(200, np.float32), None, grid)
    assert f2[150] == pytest.approx(49.5) and iv2[100] == 0 and iv2[150] == 1
