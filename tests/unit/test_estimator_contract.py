"""The contract battery (scikit-learn common checks × flair's BaseModelTest), run over every
estimator: SentimentClassifier per arch, MultiLabelClassifier, BaselineClassifier per
feature/classifier pair, EnsembleClassifier per combiner and the ONNX predictor; the parts of
it that apply to LanguageModel (not a classifier: no labels to predict) run on it too.

Where a class legitimately differs from a check, the check says why in place; nothing is
skipped. Every model here is tiny and trained once per module on generated data.
"""

import numpy as np
import pytest
from conftest import FAST, make_corpus
from sklearn.base import clone

from sentirnn import (
    BaselineClassifier,
    EnsembleClassifier,
    LanguageModel,
    SentimentClassifier,
    load,
)
from sentirnn.errors import ConfigError, DataError, NotFittedError
from sentirnn.estimators.multilabel import MultiLabelClassifier
from sentirnn.export.onnx import OnnxClassifier, export_onnx

ARCHS = ["rnn", "lstm", "gru", "bilstm", "bigru", "textcnn", "clstm", "rcnn"]
POOLING = {"rnn": "last", "lstm": "mean", "gru": "max", "bigru": "attention"}  # else maxmean
BASELINES = ["tfidf-lr", "bow-nb", "tfidf-svm"]
# every fitted classifier the battery runs on, by test id
CASES = [*ARCHS, "multilabel", *(f"baseline-{a}" for a in BASELINES),
         "ensemble-mean", "ensemble-stack", "onnx"]
LM_TINY = dict(embedding_dim=16, hidden_size=16, layers=1, batch_size=8, bptt=16, min_freq=1,
               max_epochs=1, num_threads=1, progress=False)
# class → (hyper-parameters other than the defaults, an invalid one for fit to refuse)
CONSTRUCTIBLE = {
    SentimentClassifier: ({"arch": "gru", "lr": 0.01}, ("arch", "bilstn")),
    MultiLabelClassifier: ({"arch": "gru", "lr": 0.01}, ("arch", "bilstn")),
    BaselineClassifier: ({"arch": "bow-nb", "C": 0.5}, ("arch", "bow-svm")),
    EnsembleClassifier: ({"combiner": "stack", "C": 0.5}, ("combiner", "median")),
    LanguageModel: ({"hidden_size": 32, "lr": 0.01}, ("arch", "gru")),
}
CLASSES = list(CONSTRUCTIBLE)
# what each class's files may be: JSON, safetensors, text, images — and for the baselines
# skops, scikit-learn's non-pickle format, loaded with an allow-list of types (baselines.py)
SAFE_SUFFIXES = {".json", ".safetensors", ".png", ".csv", ".txt"}
POSITIVE, NEGATIVE = "great excellent wonderful movie", "awful terrible boring movie"


# every constructible class, as parameters with readable ids
CLASS_PARAMS = [pytest.param(cls, id=cls.__name__) for cls in CLASSES]


@pytest.fixture(scope="module")
def corpus():
    """Texts and labels, reversed so that the first label seen ('positive') is not the first
    in sorted order: ``classes_`` must still come out sorted, columns in that order."""
    texts, labels = make_corpus("en", 160, seed=3)
    return texts[::-1], labels[::-1]


@pytest.fixture(scope="module")
def held_out():
    return make_corpus("en", 60, seed=5)


@pytest.fixture(scope="module")
def member_dirs(corpus, tmp_path_factory):
    """Two saved members of different kinds (recurrent + TF-IDF), trained on the same labels."""
    root = tmp_path_factory.mktemp("members")
    return [SentimentClassifier(arch="gru", **FAST).fit(*corpus).save(root / "gru"),
            BaselineClassifier("tfidf-lr").fit(*corpus).save(root / "tfidf")]


@pytest.fixture(scope="module")
def onnx_dir(corpus, tmp_path_factory):
    """A tiny BiLSTM's model directory, exported to ONNX (fp32)."""
    path = SentimentClassifier(**FAST).fit(*corpus).save(tmp_path_factory.mktemp("onnx") / "m")
    export_onnx(path)
    return path


def make(case: str, request):
    """The unfitted estimator of a case (None for ONNX, which only ever comes from load)."""
    if case in ARCHS:
        return SentimentClassifier(arch=case, pooling=POOLING.get(case, "maxmean"), **FAST)
    if case == "multilabel":
        return MultiLabelClassifier(**FAST)
    if case.startswith("baseline-"):
        return BaselineClassifier(case.removeprefix("baseline-"))
    if case.startswith("ensemble-"):
        return EnsembleClassifier(request.getfixturevalue("member_dirs"),
                                  combiner=case.removeprefix("ensemble-"))
    return None


def fit(estimator, case: str, request):
    """Fit as each class is meant to be fitted: an ensemble's members are already trained,
    so its fit takes held-out labelled texts (what the stack combiner learns from)."""
    data = request.getfixturevalue("held_out" if case.startswith("ensemble-") else "corpus")
    return estimator.fit(*data)


@pytest.fixture(scope="module", params=CASES)
def case(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(case, request):
    return fitted_case(case, request)


_FITTED = {}  # case → its fitted estimator, made once for the module


def fitted_case(case: str, request):
    if case not in _FITTED:
        if case == "onnx":
            _FITTED[case] = OnnxClassifier.load(request.getfixturevalue("onnx_dir"),
                                                num_threads=1)
        else:
            estimator = make(case, request)
            assert fit(estimator, case, request) is estimator  # fit returns self
            _FITTED[case] = estimator
    return _FITTED[case]


# ---- unfitted: constructor, parameters, repr, errors ---------------------------------------
@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_default_constructible_and_params_echo(cls):
    changed, _ = CONSTRUCTIBLE[cls]
    clf = cls(**changed)
    params = clf.get_params()
    assert {k: params[k] for k in changed} == changed
    assert set(params) == set(cls().get_params())
    assert not [k for k in vars(clf) if k.endswith("_")]  # __init__ learns nothing
    again = cls()
    assert again.set_params(**params) is again and again.get_params() == params
    with pytest.raises(ValueError, match="bogus"):
        cls().set_params(bogus=1)


@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_clone_gives_an_unfitted_copy_with_equal_params(cls, corpus):
    changed, _ = CONSTRUCTIBLE[cls]
    clf = cls(**changed)
    copy = clone(clf)
    assert type(copy) is cls and copy is not clf and copy.get_params() == clf.get_params()


@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_repr_names_the_class_and_the_changed_params(cls):
    changed, _ = CONSTRUCTIBLE[cls]
    text = repr(cls(**changed))
    assert text.startswith(f"{cls.__name__}(")
    for name, value in changed.items():
        assert f"{name}={value!r}" in text


def not_fitted(cls, method: str) -> str:
    return rf"This {cls.__name__} instance is not fitted yet. Call 'fit' .* before '{method}'"


@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_unfitted_use_raises_not_fitted_naming_the_call(cls, tmp_path):
    calls = {"save": lambda c: c.save(tmp_path / "m")}
    if cls is LanguageModel:  # not a classifier: its calls are perplexity and generate
        calls |= {"perplexity": lambda c: c.perplexity(["x"]),
                  "generate": lambda c: c.generate("x")}
    else:  # predict and classify: see test_not_fitted_names_predict_and_classify
        calls |= {"predict_proba": lambda c: c.predict_proba(["x"]),
                  "evaluate": lambda c: c.evaluate(["x"], ["y"])}
    for method, call in calls.items():
        with pytest.raises(NotFittedError, match=not_fitted(cls, method)):
            call(cls())


@pytest.mark.parametrize("cls", [p for p in CLASS_PARAMS
                                 if p.values[0] is not LanguageModel])
def test_not_fitted_names_predict_and_classify(cls):
    for method in ("predict", "classify"):
        with pytest.raises(NotFittedError, match=not_fitted(cls, method)):
            getattr(cls(), method)(["x"])


@pytest.mark.parametrize("cls", CLASS_PARAMS)
def test_invalid_param_uses_sklearn_template(cls, corpus):
    _, (name, value) = CONSTRUCTIBLE[cls]
    clf = cls(**{name: value})
    with pytest.raises(ConfigError, match=rf"The '{name}' parameter of {cls.__name__} must be "
                                          rf"one of .*Got '{value}' instead"):
        clf.fit(corpus[0]) if cls is LanguageModel else clf.fit(*corpus)


def test_onnx_predictor_is_made_by_load_only():
    """OnnxClassifier is no estimator to fit: its constructor takes onnxruntime sessions and
    a vocabulary, not hyper-parameters, so the unfitted checks above do not apply; it is only
    made by ``OnnxClassifier.load`` from an exported directory, fitted from the start."""
    assert not hasattr(OnnxClassifier, "fit") and not hasattr(OnnxClassifier, "get_params")


def test_single_class_is_refused():
    with pytest.raises(DataError, match="single class"):
        SentimentClassifier(**FAST).fit(["a b", "c d"], ["pos", "pos"])


# ---- fitted: every classifier --------------------------------------------------------------
def test_fit_learns_sorted_classes_and_only_learned_attributes(fitted, case, corpus):
    texts, labels = corpus
    assert fitted.classes_ == ["negative", "positive"]  # sorted, not in order of first sight
    assert np.mean(np.array(fitted.predict(texts)) == np.array(labels)) >= 0.9
    if case != "onnx":  # the ONNX predictor's constructor arguments are not hyper-parameters
        params = fitted.get_params()
        added = [k for k in vars(fitted) if k not in params and not k.endswith("_")
                 and not k.startswith("_")]
        assert not added, f"fit set attributes that are not learned state (no '_'): {added}"


def test_proba_columns_follow_classes(fitted, case, corpus):
    texts, _ = corpus
    p = fitted.predict_proba(texts[:20])
    assert p.shape == (20, len(fitted.classes_)) and p.dtype.kind == "f"
    assert ((p >= 0) & (p <= 1)).all()
    probe = fitted.predict_proba([POSITIVE, NEGATIVE])
    positive = fitted.classes_.index("positive")
    assert probe[0, positive] > probe[1, positive]
    if case == "multilabel":
        # Independent sigmoids, one per class: rows need not sum to 1, and the labels are
        # every class at or above its tuned threshold rather than the argmax.
        assert fitted.predict(texts[:20]) == fitted.decide(p)
        return
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert [fitted.classes_[i] for i in p.argmax(1)] == fitted.predict(texts[:20])


def test_bare_string_rejected_and_odd_texts_still_predicted(fitted):
    for method in (fitted.predict, fitted.predict_proba):
        with pytest.raises(DataError, match=r"wrap it: predict(_proba)?\(\['good'\]\)"):
            method("good")
    assert len(fitted.predict(["", "zzzz qqqq xxxx"])) == 2
    assert len(fitted.predict([])) == 0 and fitted.predict_proba([]).shape[0] == 0
    assert fitted.classify("good movie")[0]["label"] in fitted.classes_


def test_evaluate_agrees_with_predict(fitted, held_out):
    texts, labels = held_out
    report = fitted.evaluate(texts, labels)
    predicted = fitted.predict(texts)
    assert report.accuracy == pytest.approx(np.mean(np.array(predicted) == np.array(labels)))


def test_batch_composition_does_not_change_results(fitted, corpus):
    texts, _ = corpus
    together = fitted.predict_proba(texts[:30])
    alone = np.vstack([fitted.predict_proba([t]) for t in texts[:30]])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_save_load_identical_and_only_safe_files(fitted, case, corpus, tmp_path, request):
    texts, _ = corpus
    if case == "onnx":
        # The ONNX predictor writes nothing: it is a read-only view of an exported model
        # directory. Its round trip is: loading again gives the same answers, and those are
        # the answers of the PyTorch model it was exported from.
        path = request.getfixturevalue("onnx_dir")
        again = OnnxClassifier.load(path, num_threads=1)
        np.testing.assert_array_equal(again.predict_proba(texts), fitted.predict_proba(texts))
        np.testing.assert_allclose(load(path).predict_proba(texts), fitted.predict_proba(texts),
                                   atol=1e-5)
        return
    path = fitted.save(tmp_path / "m")
    again = load(path)
    assert type(again) is type(fitted) and again.classes_ == fitted.classes_
    if not case.startswith("ensemble-"):  # a loaded ensemble's members are its own copies
        assert again.get_params() == fitted.get_params()
    np.testing.assert_array_equal(again.predict_proba(texts), fitted.predict_proba(texts))
    allowed = SAFE_SUFFIXES | ({".skops"} if case.startswith("baseline-") else set())
    if case.startswith("ensemble-"):  # members are copied inside: the baseline's skops too
        allowed |= {".skops"}
    suffixes = {p.suffix for p in path.rglob("*") if p.is_file()}
    assert suffixes <= allowed


# Seeding is one code path for every arch, so GRU stands for the others in the quick loop.
@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow)
                                  if c in ARCHS and c != "gru" else c for c in CASES])
def test_same_seed_same_predictions(case, corpus, request):
    fitted, texts = fitted_case(case, request), corpus[0]
    if case == "onnx":  # nothing is trained here: the same seed gives the exported model back
        again = SentimentClassifier(**FAST).fit(*corpus)
        np.testing.assert_allclose(again.predict_proba(texts), fitted.predict_proba(texts),
                                   atol=1e-5)
        return
    again = fit(clone(fitted), case, request)
    np.testing.assert_allclose(again.predict_proba(texts), fitted.predict_proba(texts))


# ---- LanguageModel: the contract where a model predicts no labels ---------------------------
@pytest.fixture(scope="module")
def lm(corpus):
    model = LanguageModel(**LM_TINY)
    assert model.fit(corpus[0]) is model
    return model


def test_language_model_save_load_and_same_seed(lm, corpus, tmp_path):
    texts = corpus[0][:40]
    again = LanguageModel.load(lm.save(tmp_path / "lm"))
    assert again.get_params() == lm.get_params()
    assert again.perplexity(texts) == pytest.approx(lm.perplexity(texts), rel=1e-6)
    assert clone(lm).fit(corpus[0]).perplexity(texts) == pytest.approx(lm.perplexity(texts),
                                                                       rel=1e-6)


# ---- SentimentClassifier only -----------------------------------------------------------
@pytest.mark.slow
def test_chinese_auto_language_and_quality(zh_corpus):
    texts, labels = zh_corpus
    clf = SentimentClassifier(**FAST).fit(texts, labels)
    assert clf.language_ == "zh"
    held_texts, held_labels = make_corpus("zh", 80, seed=9)
    assert clf.evaluate(held_texts, held_labels).accuracy >= 0.95


@pytest.mark.slow
def test_three_classes_balanced_weights_and_explicit_valid():
    labels = ("negative", "neutral", "positive")
    texts, ys = make_corpus("en", 240, seed=4, labels=labels)
    dev = make_corpus("en", 60, seed=5, labels=labels)
    clf = SentimentClassifier(class_weights="balanced", **FAST).fit(texts, ys, valid=dev)
    assert clf.classes_ == list(labels)
    assert clf.report_.n == 60 and clf.report_.accuracy >= 0.8
    assert len(clf.history_) >= 1 and "val_macro_f1" in clf.history_[0]


@pytest.mark.slow
def test_long_texts_truncated_head_and_tail(corpus):
    texts, labels = corpus
    clf = SentimentClassifier(max_len=5, truncation="head+tail", **FAST).fit(texts, labels)
    assert all(len(s) <= 5 for s in clf._encode(["the " * 50 + "great"]))


@pytest.mark.slow
def test_time_budget_stops_training_early(corpus):
    params = dict(FAST, max_epochs=500, patience=0)
    clf = SentimentClassifier(max_minutes=0.02, **params).fit(*corpus)  # 1.2 s budget
    assert clf.train_summary_["epochs_run"] < 500
    assert clf.train_summary_["train_seconds"] < 30
    assert len(clf.predict(corpus[0][:3])) == 3
