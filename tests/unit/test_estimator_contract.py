"""The contract battery (scikit-learn common checks × flair's BaseModelTest), run per arch."""

import numpy as np
import pytest
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier, load
from sentirnn.errors import ConfigError, DataError, NotFittedError

ARCHS = ["rnn", "lstm", "gru", "bilstm", "bigru", "textcnn"]


@pytest.fixture(scope="module")
def corpus():
    return make_corpus("en", 160, seed=3)


@pytest.fixture(scope="module", params=ARCHS)
def fitted(request, corpus):
    pooling = {"rnn": "last", "lstm": "mean", "gru": "max", "bigru": "attention"}.get(
        request.param, "maxmean")
    return SentimentClassifier(arch=request.param, pooling=pooling, **FAST).fit(*corpus)


def test_default_constructible_and_params_echo():
    clf = SentimentClassifier(arch="gru", lr=0.01)
    params = clf.get_params()
    assert params["arch"] == "gru" and params["lr"] == 0.01
    assert not [k for k in vars(clf) if k.endswith("_")]
    assert SentimentClassifier().set_params(**params).get_params() == params


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        SentimentClassifier().predict(["x"])


def test_invalid_arch_uses_sklearn_template(corpus):
    with pytest.raises(ConfigError, match=r"'arch' parameter of SentimentClassifier must be one "
                                          r"of .*Got 'bilstn' instead"):
        SentimentClassifier(arch="bilstn").fit(*corpus)


def test_single_class_is_refused():
    with pytest.raises(DataError, match="single class"):
        SentimentClassifier(**FAST).fit(["a b", "c d"], ["pos", "pos"])


def test_fit_returns_self_and_learns(fitted, corpus):
    texts, labels = corpus
    assert fitted.classes_ == ["negative", "positive"]
    assert np.mean(np.array(fitted.predict(texts)) == np.array(labels)) >= 0.9


def test_proba_shape_rows_and_argmax(fitted, corpus):
    texts, _ = corpus
    p = fitted.predict_proba(texts[:20])
    assert p.shape == (20, 2)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert [fitted.classes_[i] for i in p.argmax(1)] == fitted.predict(texts[:20])


def test_bare_string_rejected_and_odd_texts_still_predicted(fitted):
    with pytest.raises(DataError, match=r"wrap it: predict\(\['good'\]\)"):
        fitted.predict("good")
    assert len(fitted.predict(["", "zzzz qqqq xxxx"])) == 2
    assert fitted.classify("good movie")[0]["label"] in fitted.classes_


def test_batch_composition_does_not_change_results(fitted, corpus):
    texts, _ = corpus
    together = fitted.predict_proba(texts[:30])
    alone = np.vstack([fitted.predict_proba([t]) for t in texts[:30]])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_save_load_identical_and_only_safe_files(fitted, corpus, tmp_path):
    texts, _ = corpus
    fitted.save(tmp_path / "m")
    again = load(tmp_path / "m")
    np.testing.assert_array_equal(again.predict_proba(texts), fitted.predict_proba(texts))
    suffixes = {p.suffix for p in (tmp_path / "m").iterdir()}
    assert suffixes <= {".json", ".safetensors", ".png", ".csv", ".txt"}


def test_same_seed_same_predictions(corpus):
    a = SentimentClassifier(arch="gru", **FAST).fit(*corpus)
    b = SentimentClassifier(arch="gru", **FAST).fit(*corpus)
    np.testing.assert_allclose(a.predict_proba(corpus[0]), b.predict_proba(corpus[0]))


def test_chinese_auto_language_and_quality(zh_corpus):
    texts, labels = zh_corpus
    clf = SentimentClassifier(**FAST).fit(texts, labels)
    assert clf.language_ == "zh"
    held_texts, held_labels = make_corpus("zh", 80, seed=9)
    assert clf.evaluate(held_texts, held_labels).accuracy >= 0.95


def test_three_classes_balanced_weights_and_explicit_valid():
    labels = ("negative", "neutral", "positive")
    texts, ys = make_corpus("en", 240, seed=4, labels=labels)
    dev = make_corpus("en", 60, seed=5, labels=labels)
    clf = SentimentClassifier(class_weights="balanced", **FAST).fit(texts, ys, valid=dev)
    assert clf.classes_ == list(labels)
    assert clf.report_.n == 60 and clf.report_.accuracy >= 0.8
    assert len(clf.history_) >= 1 and "val_macro_f1" in clf.history_[0]


def test_long_texts_truncated_head_and_tail(corpus):
    texts, labels = corpus
    clf = SentimentClassifier(max_len=5, truncation="head+tail", **FAST).fit(texts, labels)
    assert all(len(s) <= 5 for s in clf._encode(["the " * 50 + "great"]))


def test_time_budget_stops_training_early(corpus):
    params = dict(FAST, max_epochs=500, patience=0)
    clf = SentimentClassifier(max_minutes=0.02, **params).fit(*corpus)  # 1.2 s budget
    assert clf.train_summary_["epochs_run"] < 500
    assert clf.train_summary_["train_seconds"] < 30
    assert len(clf.predict(corpus[0][:3])) == 3
