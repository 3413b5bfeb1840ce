"""Ensembles: mean and stack combiners, one self-contained directory, clear errors."""

import json

import numpy as np
import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import BaselineClassifier, SentimentClassifier
from sentirnn.errors import ArtifactError, ConfigError, DataError, NotFittedError
from sentirnn.estimators.classifier import load
from sentirnn.estimators.ensemble import EnsembleClassifier

torch.set_num_threads(1)
PROBE = ["great food", "awful plot", "", "zzz", "the movie was really good and bad"]


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Two tiny models trained on the same labels (a BiLSTM and a TextCNN), saved."""
    root = tmp_path_factory.mktemp("members")
    texts, labels = make_corpus("en", 200, seed=1)
    paths = []
    for arch in ("bilstm", "textcnn"):
        clf = SentimentClassifier(arch=arch, **FAST).fit(texts, labels)
        paths.append(clf.save(root / arch))
    return paths


@pytest.fixture(scope="module")
def valid():
    return make_corpus("en", 80, seed=5)


def member_probabilities(paths, texts):
    return [load(p).predict_proba(texts) for p in paths]


def test_mean_is_the_average_of_member_probabilities(members):
    ens = EnsembleClassifier(members).fit()
    a, b = member_probabilities(members, PROBE)
    np.testing.assert_allclose(ens.predict_proba(PROBE), (a + b) / 2, atol=1e-7)
    assert ens.classes_ == ["negative", "positive"]
    assert ens.predict(["great"]) == ["positive"]
    assert ens.classify("great", top_k=2)[0]["label"] == "positive"


def test_weighted_mean(members):
    ens = EnsembleClassifier(members, weights=[3, 1]).fit()
    a, b = member_probabilities(members, PROBE)
    np.testing.assert_allclose(ens.predict_proba(PROBE), 0.75 * a + 0.25 * b, atol=1e-7)


def test_mean_save_load_round_trip_is_self_contained(members, valid, tmp_path):
    ens = EnsembleClassifier(members).fit(*valid)
    assert ens.report_.accuracy >= 0.9
    path = ens.save(tmp_path / "ens")
    config = json.loads((path / "config.json").read_text())
    assert config["format"] == "sentirnn.ensemble" and config["format_version"] == 1
    assert config["combiner"] == "mean" and config["weights"] == [0.5, 0.5]
    assert [m["dir"] for m in config["members"]] == ["members/0", "members/1"]
    assert (path / "members" / "1" / "model.safetensors").exists()
    assert (path / "metrics.json").exists()
    assert not [p for p in path.rglob("*") if p.suffix in (".pkl", ".pickle", ".pt")]
    back = load(path)
    assert isinstance(back, EnsembleClassifier)
    np.testing.assert_allclose(back.predict_proba(PROBE), ens.predict_proba(PROBE), atol=1e-7)
    assert back.evaluate(*valid).accuracy == ens.report_.accuracy
    # A loaded ensemble saves again (to itself too: members are copied before replacing).
    again = load(back.save(path))
    np.testing.assert_allclose(again.predict_proba(PROBE), ens.predict_proba(PROBE), atol=1e-7)


def test_stack_fits_predicts_and_round_trips(members, valid, tmp_path):
    from sklearn.linear_model import LogisticRegression

    ens = EnsembleClassifier(members, combiner="stack").fit(*valid)
    probs = ens.predict_proba(PROBE)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    # The stored coefficients reproduce the fitted scikit-learn model exactly.
    features = np.concatenate(member_probabilities(members, valid[0]), 1)
    lr = LogisticRegression(max_iter=1000).fit(features, [int(y == "positive")
                                                          for y in valid[1]])
    probe_features = np.concatenate(member_probabilities(members, PROBE), 1)
    np.testing.assert_allclose(probs, lr.predict_proba(probe_features), atol=1e-6)
    test_x, test_y = make_corpus("en", 80, seed=9)
    assert ens.evaluate(test_x, test_y).accuracy >= 0.9
    path = ens.save(tmp_path / "stack")
    from safetensors.torch import load_file

    assert set(load_file(path / "model.safetensors")) == {"stack.coef", "stack.intercept"}
    np.testing.assert_allclose(load(path).predict_proba(PROBE), probs, atol=1e-9)


@pytest.mark.slow
def test_stack_with_three_labels(tmp_path):
    labels3 = ("negative", "neutral", "positive")
    texts, labels = make_corpus("en", 150, seed=3, labels=labels3)
    path = SentimentClassifier(arch="textcnn", **FAST).fit(texts, labels).save(tmp_path / "m3")
    valid = make_corpus("en", 60, seed=4, labels=labels3)
    ens = EnsembleClassifier([path, path], combiner="stack").fit(*valid)
    assert ens.coef_.shape == (3, 6)
    probs = ens.predict_proba(PROBE)
    assert probs.shape == (len(PROBE), 3)
    np.testing.assert_allclose(load(ens.save(tmp_path / "e3")).predict_proba(PROBE), probs,
                               atol=1e-9)


@pytest.mark.slow
def test_different_label_sets_are_one_line_error(members, tmp_path):
    texts, labels = make_corpus("en", 120, seed=2, labels=("bad", "good"))
    other = SentimentClassifier(arch="textcnn", **FAST).fit(texts, labels).save(tmp_path / "o")
    with pytest.raises(ConfigError) as info:
        EnsembleClassifier([members[0], other]).fit()
    message = str(info.value)
    assert "\n" not in message
    assert str(members[0]) in message and str(other) in message
    assert "['negative', 'positive']" in message and "['bad', 'good']" in message


def test_bad_configurations(members, valid):
    with pytest.raises(ConfigError, match="at least two models"):
        EnsembleClassifier(members[:1]).fit()
    with pytest.raises(ConfigError, match="stack combiner learns"):
        EnsembleClassifier(members, combiner="stack").fit()
    with pytest.raises(ConfigError, match="one per model"):
        EnsembleClassifier(members, weights=[1, 2, 3]).fit()
    with pytest.raises(ConfigError, match="non-negative"):
        EnsembleClassifier(members, weights=[1, -1]).fit()
    with pytest.raises(ConfigError, match="'combiner' parameter"):
        EnsembleClassifier(members, combiner="vote").fit()
    with pytest.raises(DataError, match="not known to the members"):
        EnsembleClassifier(members).fit(["x", "y"], ["negative", "meh"])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        EnsembleClassifier(members).predict(["x"])
    with pytest.raises(DataError, match="wrap it"):
        EnsembleClassifier(members).fit().predict("great")


def test_modified_member_is_refused(members, tmp_path):
    path = EnsembleClassifier(members).fit().save(tmp_path / "ens")
    config = path / "members" / "0" / "config.json"
    config.write_text(config.read_text().replace('"lr"', '"lr" '))
    with pytest.raises(ArtifactError, match="modified"):
        load(path)


def test_saving_over_a_member_is_refused(members):
    with pytest.raises(ArtifactError, match="one of the members"):
        EnsembleClassifier(members).fit().save(members[0])


def test_mixed_ensemble_with_a_baseline(members, valid, tmp_path):
    """A TF-IDF baseline directory (format sentirnn.baseline) is a member like any other."""
    texts, labels = make_corpus("en", 200, seed=1)
    base = BaselineClassifier(arch="tfidf-lr").fit(texts, labels).save(tmp_path / "b")
    ens = EnsembleClassifier([members[1], base], combiner="stack").fit(*valid)
    back = load(ens.save(tmp_path / "mixed"))
    formats = [m["format"] for m in json.loads((tmp_path / "mixed" / "config.json")
                                               .read_text())["members"]]
    assert formats == ["sentirnn.classifier", "sentirnn.baseline"]
    np.testing.assert_allclose(back.predict_proba(PROBE), ens.predict_proba(PROBE), atol=1e-9)
    assert back.evaluate(*valid).accuracy >= 0.9
