"""The text path as one object: TextPipeline is fitted once, saved as JSON, read back the
same, and fit, prediction, ONNX and the language model all encode through it."""

import json
from collections import Counter

import numpy as np
import pytest
from conftest import FAST, make_corpus

import sentirnn.preprocess.encode
import sentirnn.preprocess.pipeline
from sentirnn import LanguageModel, SentimentClassifier, load
from sentirnn.config import TextConfig
from sentirnn.errors import NotFittedError
from sentirnn.estimators.base import check_fitted
from sentirnn.preprocess.pipeline import TextPipeline
from sentirnn.preprocess.tokenize import Tokenizer

ONE_EPOCH = {**FAST, "max_epochs": 1}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    texts, labels = make_corpus("en", 120, seed=7)
    valid = make_corpus("en", 40, seed=8)
    clf = SentimentClassifier(**ONE_EPOCH, max_len=6).fit(texts, labels, valid=valid)
    path = tmp_path_factory.mktemp("model") / "m"
    clf.save(path)
    return clf, path


@pytest.mark.parametrize("kind, language", [("char", "zh"), ("en-word", "en"), ("subword", "en")])
def test_a_saved_pipeline_reads_back_to_the_same_ids(kind, language, tmp_path):
    texts = (make_corpus(language, 60, seed=3)[0] if kind != "subword"
             else make_corpus("en", 60, seed=3)[0])
    tokenizer = Tokenizer(kind, language, **({"vocab_size": 60} if kind == "subword" else {}))
    pipe, tokens = TextPipeline.fit(texts, TextConfig(strip_punct=True), tokenizer, min_freq=1)
    assert tokens == pipe.tokenize(texts)  # fit hands back what it tokenized
    probe = [*texts[:5], "", "unseen words 未见过"]
    expected = pipe.encode(probe, max_len=8, truncation="head+tail")
    assert all(1 <= len(ids) <= 8 for ids in expected)

    again = TextPipeline.from_dict(json.loads(json.dumps(pipe.to_dict())))
    assert again == pipe and again.encode(probe, 8, "head+tail") == expected
    for name, data in pipe.files().items():  # the model directory's layout: JSON, no pickle
        (tmp_path / name).write_bytes(data)
    read = TextPipeline.read(tmp_path, json.loads(json.dumps(pipe.config())))
    assert read == pipe and read.encode(probe, 8, "head+tail") == expected


def test_fit_passes_each_training_text_down_the_pipeline_once(monkeypatch):
    cleaned = Counter()

    def counting(module):
        real = module.clean_many

        def clean_many(texts, config=None):
            texts = list(texts)
            cleaned.update(texts)
            return real(texts, config)

        monkeypatch.setattr(module, "clean_many", clean_many)

    counting(sentirnn.preprocess.pipeline)  # fit and tokenize
    counting(sentirnn.preprocess.encode)  # encode: validation, prediction, ONNX
    texts, labels = make_corpus("en", 80, seed=11)
    texts = [f"{t} row{i}" for i, t in enumerate(texts)]  # each training text unique
    valid = make_corpus("en", 20, seed=12)
    clf = SentimentClassifier(**ONE_EPOCH).fit(texts, labels, valid=valid)
    assert all(cleaned[t] == 1 for t in texts)
    assert isinstance(clf.pipeline_, TextPipeline)
    assert clf.tokenizer_ is clf.pipeline_.tokenizer and clf.vocab_ is clf.pipeline_.vocab


def test_prediction_encodes_through_the_fitted_pipeline(fitted):
    clf, _ = fitted
    seen = []
    real = clf.pipeline_.encode

    def encode(texts, max_len, truncation):
        seen.append((list(texts), max_len, truncation))
        return real(texts, max_len, truncation)

    clf.pipeline_.encode = encode
    try:
        clf.predict_proba(["a great film", "bad"])
    finally:
        del clf.pipeline_.encode
    # with several workers the texts may be encoded in length-ordered chunks
    assert sorted(t for texts, _, _ in seen for t in texts) == ["a great film", "bad"]
    assert {(max_len, how) for _, max_len, how in seen} == {(6, "head+tail")}


def test_a_loaded_model_and_its_onnx_export_encode_as_the_fitted_pipeline(fitted):
    pytest.importorskip("onnxruntime")
    from sentirnn.export.onnx import OnnxClassifier, export_onnx

    clf, path = fitted
    loaded = load(path)
    assert loaded.pipeline_ == clf.pipeline_
    probe = make_corpus("en", 30, seed=9)[0] + ["", "word " * 40]
    expected = clf.pipeline_.encode(probe, clf.max_len, clf.truncation)
    assert loaded._encode(probe) == expected
    np.testing.assert_array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))
    export_onnx(path)
    onnx = OnnxClassifier.load(path, num_threads=1)
    assert isinstance(onnx.pipeline_, TextPipeline) and onnx.pipeline_ == clf.pipeline_
    assert onnx._encode(probe) == expected


def test_the_model_directory_keeps_its_layout(fitted):
    """config.json "text" + tokenizer.json {"tokenizer", "vocab"}: what older sentirnn read."""
    clf, path = fitted
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    tok = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    assert set(tok) == {"tokenizer", "vocab"}
    assert config["text"] == clf.text_config_.to_dict()
    assert config["tokenizer"]["kind"] == tok["tokenizer"]["kind"] == clf.tokenizer_.kind


def test_a_classifier_from_a_language_model_shares_its_pipeline(tmp_path):
    texts = make_corpus("en", 200, seed=21)[0]
    lm = LanguageModel(embedding_dim=8, hidden_size=8, layers=1, batch_size=4, bptt=8,
                       min_freq=1, max_epochs=1, num_threads=1, progress=False).fit(texts)
    lm.save(tmp_path / "lm")
    assert LanguageModel.load(tmp_path / "lm").pipeline_ == lm.pipeline_
    assert lm._ids(["the movie"]) == [lm.pipeline_.ids(lm.pipeline_.tokenize(["the movie"]))[0]]
    clf = SentimentClassifier.from_language_model(lm, max_epochs=1, batch_size=16, num_threads=1,
                                                  progress=False, valid_fraction=0.0)
    clf.fit(*make_corpus("en", 60, seed=22))
    assert clf.pipeline_ is lm.pipeline_
    clf.save(tmp_path / "clf")
    assert load(tmp_path / "clf").pipeline_ == lm.pipeline_


def test_check_fitted_names_the_class_in_use():
    class MultiLabelThing:
        pass

    with pytest.raises(NotFittedError, match="This MultiLabelThing instance is not fitted yet. "
                                             "Call 'fit' \\(or sentirnn.load\\) before 'predict'"):
        check_fitted(MultiLabelThing(), "net_", "predict")
    with pytest.raises(NotFittedError, match="This SentimentClassifier instance .* 'embed'"):
        SentimentClassifier().embed(["text"])
    with pytest.raises(NotFittedError, match=r"\(or LanguageModel.load\) before 'perplexity'"):
        LanguageModel().perplexity(["text"])
