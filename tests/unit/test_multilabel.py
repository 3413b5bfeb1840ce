"""Multi-label data: label sets in, sigmoid probabilities and tuned thresholds out."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import FAST, assert_one_line_error, run_cli

from sentirnn.errors import ConfigError, DataError
from sentirnn.estimators.multilabel import MultiLabelClassifier, multi_hot, parse_label_sets
from sentirnn.metrics import tune_thresholds

ASPECTS = {"food": ["tasty", "bland", "salty"], "service": ["waiter", "rude", "friendly"],
           "price": ["cheap", "expensive", "overpriced"]}
FILL = ["the", "was", "and", "really", "a", "place", "today", "we"]


def aspect_corpus(n: int = 300, seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts that mention one to three aspects; the label set is the aspects mentioned."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        chosen = sorted(rng.sample(sorted(ASPECTS), rng.randint(1, 3)))
        words = [rng.choice(FILL) for _ in range(rng.randint(2, 6))]
        for aspect in chosen:
            words.insert(rng.randint(0, len(words)), rng.choice(ASPECTS[aspect]))
        texts.append(" ".join(words))
        labels.append("|".join(chosen))
    return texts, labels


def test_label_sets_parse_strings_and_lists():
    assert parse_label_sets(["b|a", ["c"], " a | ", ""]) == [["a", "b"], ["c"], ["a"], []]
    assert multi_hot([["a"], ["a", "c"], []], ["a", "b", "c"]) == [[1, 0, 0], [1, 0, 1],
                                                                    [0, 0, 0]]


def test_thresholds_maximise_each_class_f1():
    targets = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    # class 0 is on exactly where its probability is ≥ 0.3; class 1 where ≥ 0.8
    probs = np.array([[0.35, 0.1], [0.3, 0.2], [0.1, 0.85], [0.2, 0.5]])
    t = tune_thresholds(probs, targets)
    assert 0.2 < t[0] <= 0.3 and 0.5 < t[1] <= 0.85
    assert tune_thresholds(probs, np.zeros_like(targets)).tolist() == [0.5, 0.5]


@pytest.fixture(scope="module")
def fitted():
    texts, labels = aspect_corpus()
    params = dict(FAST, max_epochs=10)
    return MultiLabelClassifier(**params).fit(texts[:240], labels[:240]), texts[240:], \
        labels[240:]


def test_learns_label_sets_and_tunes_thresholds(fitted):
    clf, texts, labels = fitted
    assert clf.classes_ == ["food", "price", "service"]
    probs = clf.predict_proba(texts)
    assert probs.shape == (len(texts), 3)
    assert not np.allclose(probs.sum(1), 1.0)  # independent sigmoids, not a softmax
    report = clf.evaluate(texts, labels)
    assert report.micro_f1 > 0.9 and report.accuracy > 0.7
    assert set(report.thresholds) == set(clf.classes_)
    assert all(0 < t < 1 for t in clf.thresholds_)
    predicted = clf.predict(texts)
    assert all(set(p.split("|")) <= set(clf.classes_) for p in predicted if p)


def test_round_trips_through_the_model_directory(fitted, tmp_path):
    import sentirnn

    clf, texts, _ = fitted
    clf.save(tmp_path / "m")
    back = sentirnn.load(tmp_path / "m")
    assert isinstance(back, MultiLabelClassifier)
    np.testing.assert_allclose(back.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    np.testing.assert_array_equal(back.thresholds_, clf.thresholds_)
    assert back.predict(texts) == clf.predict(texts)


def test_unknown_label_in_validation_is_one_clear_error():
    texts, labels = aspect_corpus(60)
    with pytest.raises(DataError, match="do not occur in the training data"):
        MultiLabelClassifier(**FAST).fit(texts, labels, valid=(texts[:3], ["food|drinks"] * 3))



@pytest.mark.parametrize("param, value", [("arch", "bilstn"), ("optimizer", "adamx"),
                                          ("dropout", 1.5)])
def test_parameter_errors_name_the_subclass(param, value):
    """The config checks name type(self), before and after the data is read."""
    texts, labels = aspect_corpus(20)
    with pytest.raises(ConfigError, match=rf"The '{param}' parameter of MultiLabelClassifier "):
        MultiLabelClassifier(**{**FAST, param: value}).fit(texts, labels)

@pytest.mark.slow
def test_cli_trains_evaluates_and_predicts_label_sets(tmp_path, capsys, monkeypatch):
    import pandas as pd

    texts, labels = aspect_corpus(300, seed=3)
    pd.DataFrame({"text": texts[:240], "label": labels[:240]}).to_csv(tmp_path / "train.csv",
                                                                      index=False)
    pd.DataFrame({"text": texts[240:], "label": labels[240:]}).to_csv(tmp_path / "test.csv",
                                                                      index=False)
    tiny = ["--embedding-dim", "16", "--hidden-size", "16", "--epochs", "10", "--batch-size",
            "16", "--lr", "0.01", "--min-freq", "1", "--num-threads", "1", "--no-progress"]
    code, _, err = run_cli(capsys, monkeypatch, "train", str(tmp_path / "train.csv"),
                           "--multi-label", "--out", str(tmp_path / "m"), *tiny)
    assert code == 0, err
    code, out, err = run_cli(capsys, monkeypatch, "evaluate", str(tmp_path / "m"),
                             str(tmp_path / "test.csv"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["micro_f1"] > 0.9 and set(report["per_class"]) == {"food", "price", "service"}
    code, _, err = run_cli(capsys, monkeypatch, "predict", str(tmp_path / "m"), "--input",
                           str(tmp_path / "test.csv"), "--output", str(tmp_path / "out.csv"))
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(scored["text"]) == texts[240:]
    got = [set(x.split("|")) for x in scored["label"]]
    want = [set(x.split("|")) for x in labels[240:]]
    assert sum(g == w for g, w in zip(got, want)) / len(want) > 0.7
    code, _, err = run_cli(capsys, monkeypatch, "train", str(tmp_path / "train.csv"),
                           "--multi-label", "--arch", "tfidf-lr", "--out", str(tmp_path / "b"))
    assert_one_line_error(code, err, "--multi-label")
