"""Metrics against a confusion matrix worked out by hand, bootstrap intervals, binned recall."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import BenchError
from bench.results.bins import EDGES, binned, merged_edges, wilson
from bench.results.metrics import (
    bootstrap_counts,
    bootstrap_intervals,
    compute_metrics,
    metric_value,
    rates,
)

CLASSES = ["A", "B", "C"]
# true:      A A A A B B B C C C
# predicted: A A A B B B C C C A
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])


def one_hot_proba(y_pred: np.ndarray, k: int = 3) -> np.ndarray:
    """0.8 on the predicted class, 0.1 elsewhere."""
    proba = np.full((len(y_pred), k), 0.1)
    proba[np.arange(len(y_pred)), y_pred] = 0.8
    return proba


def test_metrics_match_a_confusion_matrix_computed_by_hand():
    m = compute_metrics(Y_TRUE, one_hot_proba(Y_PRED), CLASSES)
    # rows true, columns predicted: A->(3 A, 1 B), B->(2 B, 1 C), C->(1 A, 2 C)
    assert m["confusion_matrix"]["counts"] == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]
    assert m["confusion_matrix"]["normalized"][0] == pytest.approx([3 / 4, 1 / 4, 0])
    assert m["confusion_matrix"]["normalized_pred"][0] == pytest.approx([3 / 4, 1 / 3, 0], abs=1e-6)
    assert m["accuracy"] == pytest.approx(7 / 10)
    a, b = m["per_class"]["A"], m["per_class"]["B"]
    assert a["precision"] == pytest.approx(3 / 4)  # 3 of the 4 called A are A
    assert a["recall"] == pytest.approx(3 / 4)
    assert b["precision"] == pytest.approx(2 / 3)
    assert b["recall"] == pytest.approx(2 / 3)
    # one-vs-rest accuracy for A: tp 3 + tn 5 of 10
    assert a["accuracy"] == pytest.approx(8 / 10)
    assert [m["per_class"][c]["support"] for c in CLASSES] == [4, 3, 3]
    assert m["macro_f1"] == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx(0.4 * 3 / 4 + 0.6 * 2 / 3)
    # ROC-AUC for A: 4 positives x 6 negatives; three 0.8 positives beat five 0.1
    # negatives (15) and tie the 0.8 negative (1.5); the 0.1 positive ties five (2.5)
    assert a["roc_auc"] == pytest.approx((15 + 1.5 + 2.5) / 24)


def test_absent_class_has_no_roc_auc_and_zero_recall():
    y_true = np.array([0, 0, 1, 1])
    m = compute_metrics(y_true, one_hot_proba(np.array([0, 1, 1, 1])), CLASSES)
    assert m["per_class"]["C"]["roc_auc"] is None
    assert m["per_class"]["C"]["support"] == 0
    assert m["roc_auc"] == pytest.approx(np.mean([m["per_class"][c]["roc_auc"] for c in "AB"]))


def test_vectorised_rates_agree_with_scikit_learn():
    from sklearn.metrics import confusion_matrix, f1_score, recall_score

    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    r = rates(confusion_matrix(y_true, y_pred, labels=[0, 1, 2]))
    assert r["recall"] == pytest.approx(recall_score(y_true, y_pred, average=None))
    assert r["f1"].mean() == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_bootstrap_is_seeded_contains_the_estimate_and_narrows_with_more_objects():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 300)
    y_pred = np.where(rng.random(300) < 0.8, y_true, rng.integers(0, 3, 300))
    first = bootstrap_intervals(y_true, y_pred, CLASSES, seed=7)
    assert first == bootstrap_intervals(y_true, y_pred, CLASSES, seed=7)
    assert first != bootstrap_intervals(y_true, y_pred, CLASSES, seed=8)
    m = compute_metrics(y_true, one_hot_proba(y_pred), CLASSES, seed=7)
    lo, hi = first["accuracy"]
    assert lo < m["accuracy"] < hi
    lo_f1, hi_f1 = first["macro_f1"]
    assert lo_f1 < m["macro_f1"] < hi_f1
    for c in CLASSES:
        lo_r, hi_r = first["recall"][c]
        assert lo_r < m["per_class"][c]["recall"] < hi_r
    # sixteen times the objects, same proportions: the interval about a quarter as wide
    wide = bootstrap_intervals(np.tile(y_true, 16), np.tile(y_pred, 16), CLASSES, seed=7)
    ratio = (wide["accuracy"][1] - wide["accuracy"][0]) / (hi - lo)
    assert 0.15 < ratio < 0.4


def test_bootstrap_draws_average_to_the_observed_counts():
    draws = bootstrap_counts(Y_TRUE, Y_PRED, 3, 4000, seed=1)
    assert draws.shape == (4000, 3, 3)
    assert (draws.sum(axis=(1, 2)) == len(Y_TRUE)).all()
    observed = np.array([[3, 1, 0], [0, 2, 1], [1, 0, 2]])
    assert draws.mean(axis=0) == pytest.approx(observed, abs=0.1)


def test_redshift_bins_give_quasar_completeness_and_drop_nan():
    # seven quasars: four at z = 2.5 (three found), two at z = 1.5 (none found), one z = NaN
    y_true = np.full(7, 2)
    y_pred = np.array([2, 2, 2, 0, 0, 0, 2])
    z = np.array([2.5, 2.5, 2.5, 2.5, 1.5, 1.5, np.nan])
    rows = binned(y_true, y_pred, CLASSES, z, "redshift", min_count=2)
    by_bin = {b["bin"]: b for b in rows}
    assert set(by_bin) == {"z < 2.1", "z >= 2.1"}  # empty low-z bins merged away
    assert by_bin["z >= 2.1"]["recall"]["C"] == pytest.approx(3 / 4)
    assert by_bin["z >= 2.1"]["purity"]["C"] == 1.0
    assert by_bin["z < 2.1"]["recall"]["C"] == 0.0 and by_bin["z < 2.1"]["purity"]["C"] is None
    assert sum(b["n"] for b in rows) == 6


def test_bins_are_merged_to_a_minimum_count_and_carry_wilson_intervals():
    rng = np.random.default_rng(0)
    snr = np.concatenate([rng.uniform(0.5, 1.9, 5), rng.uniform(3, 30, 195)])
    y_true = rng.integers(0, 3, 200)
    y_pred = np.where(rng.random(200) < 0.8, y_true, (y_true + 1) % 3)
    m = compute_metrics(y_true, one_hot_proba(y_pred), CLASSES, snr=snr)
    rows = m["bins"]["snr"]
    assert all(b["n"] >= 20 for b in rows) and sum(b["n"] for b in rows) == 200
    assert not rows[0]["bin"].startswith("S/N < 2")  # 5 objects: merged into the next bin
    for b in rows:
        for c in CLASSES:
            lo, hi = b["recall_interval"][c]
            assert lo <= b["recall"][c] <= hi and hi - lo > 0.05
            assert sum(b["n_predicted"].values()) == b["n"]


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 0) is None
    assert merged_edges(np.array([0.05] * 30), EDGES["redshift"], 20) == []


def test_metric_value_reads_per_class_values_and_rejects_unknown_names():
    m = compute_metrics(Y_TRUE, one_hot_proba(Y_PRED), CLASSES)
    value, interval = metric_value(m, "recall:B")
    assert value == pytest.approx(2 / 3)
    assert interval == m["intervals"]["recall"]["B"]
    assert metric_value(m, "macro_f1")[1] == m["intervals"]["macro_f1"]
    with pytest.raises(BenchError, match="unknown metric 'macro_f2'.*valid: accuracy, macro_f1"):
        metric_value(m, "macro_f2")


def test_every_built_in_source_gives_per_object_snr():
    """Synthetic spectra (generated), SDSS-style arrays and the toy source all report S/N."""
    from bench.plugins.manager import get_registry

    registry = get_registry(third_party=False)
    source = registry.create("dataset", "synthetic", {"n": 40}, "synthetic").open()
    props = source.object_properties(np.arange(10))
    assert props["snr"].shape == (10,) and np.isfinite(props["snr"]).all()
    assert (props["snr"] > 0).all() and np.isnan(props["magnitude"]).all()
    assert np.allclose(props["snr"], source.read(np.arange(10)).snr, rtol=1e-5)


def test_one_interval_method_per_quantity_and_none_of_them_zero_width():
    """Proportions (accuracy, recall, precision) get Wilson intervals from the counts, the
    same numbers as the binned tables; macro F1 a clipped bootstrap; a perfect recall on
    4 objects is not [1, 1]; the point metrics are the same as before."""
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 1])
    m = compute_metrics(y_true, one_hot_proba(y_pred), CLASSES, seed=3)
    ci = m["intervals"]
    assert ci["recall"]["A"] == wilson(4, 4)
    lo, hi = ci["recall"]["A"]
    assert hi == 1.0 and lo == pytest.approx(0.510, abs=1e-3)  # not [1.000, 1.000]
    assert ci["accuracy"] == wilson(8, 10)
    assert ci["precision"]["B"] == wilson(2, 3)
    z = np.full(10, 2.5)  # one redshift bin holding every object: the table's interval
    (row,) = compute_metrics(y_true, one_hot_proba(y_pred), CLASSES, redshift=z)["bins"]["redshift"]
    assert row["recall_interval"]["A"] == ci["recall"]["A"]
    assert row["purity_interval"]["B"] == ci["precision"]["B"]
    assert m["accuracy"] == pytest.approx(0.8) and m["per_class"]["A"]["recall"] == 1.0
    assert "Wilson" in ci["method"] and "bootstrap" in ci["method"]
    f_lo, f_hi = ci["macro_f1"]
    assert 0.0 <= f_lo <= m["macro_f1"] <= f_hi <= 1.0
    assert metric_value(m, "precision:B")[1] == ci["precision"]["B"]


def test_across_seed_intervals_are_clipped_to_the_unit_range():
    from bench.results.metrics import mean_interval

    lo, hi = mean_interval([0.80, 0.95])  # two seeds: the raw t interval reaches 1.35
    assert lo < 0.80 and hi == 1.0
    assert mean_interval([0.9]) is None
    assert mean_interval([0.02, 0.3])[0] == 0.0
