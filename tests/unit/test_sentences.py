"""Sentence splitting, pooling of sentence probabilities, and truncation="sentences"."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from conftest import EN_FILL, EN_NEG, EN_POS, FAST, make_corpus, run_cli

from sentirnn import SentimentClassifier, load
from sentirnn.errors import ConfigError
from sentirnn.inference.postprocess import softmax
from sentirnn.inference.sentences import aggregate, pool, pooled_logits, split_many, split_sentences


# ---- splitting -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("I loved it. The acting, e.g. by Mr. Pitt, was great. It cost 3.5 million!",
     ["I loved it.", "The acting, e.g. by Mr. Pitt, was great.", "It cost 3.5 million!"]),
    ("J. R. R. Tolkien wrote it. See No. 5 for more. Dr. Who was on at 5 p.m. yesterday.",
     ["J. R. R. Tolkien wrote it.", "See No. 5 for more.",
      "Dr. Who was on at 5 p.m. yesterday."]),
    ("Cast, music, etc. were fine. We saw it in the U.S. It was long.",
     ["Cast, music, etc. were fine.", "We saw it in the U.S.", "It was long."]),
    ("I was... surprised by it. Then… The end came too soon.",
     ["I was... surprised by it.", "Then… The end came too soon."]),
    ('He said "this is awful." Then he left the room?! Me too.',
     ['He said "this is awful."', "Then he left the room?! Me too."]),
    ("Rating: 8/10<br /><br />Great film overall<br/>go see it now",
     ["Rating: 8/10 Great film overall", "go see it now"]),
    ("a review without any terminator at all", ["a review without any terminator at all"]),
    ("Visit www.example.com for the 2.0 cut.", ["Visit www.example.com for the 2.0 cut."]),
])
def test_english_sentences(text, expected):
    assert split_sentences(text, "en") == expected


@pytest.mark.parametrize("text, expected", [
    ("这家外卖很好吃！但是送餐太慢了。。下次不会再点了……",
     ["这家外卖很好吃！", "但是送餐太慢了。。", "下次不会再点了……"]),
    ("老板说：“对不起！”我们原谅了他。", ["老板说：“对不起！”", "我们原谅了他。"]),
    ("味道不错;送餐太慢?包装也很差!", ["味道不错;", "送餐太慢?", "包装也很差!"]),
    ("味道不错，3.5元很便宜", ["味道不错，3.5元很便宜"]),
    ("好！味道真的不错。", ["好！味道真的不错。"]),  # a 1-character fragment joins the next
    ("味道真的不错。好评！", ["味道真的不错。好评！"]),  # the last short one joins the previous
    ("第一句话很长<br />第二句话也长", ["第一句话很长", "第二句话也长"]),
])
def test_chinese_sentences(text, expected):
    assert split_sentences(text, "zh") == expected


def test_blank_texts_give_no_sentences_but_split_many_keeps_every_text():
    assert split_sentences("", "en") == [] and split_sentences(" <br /> ", "en") == []
    sentences, owner = split_many(["One two three. Four five six.", "", "好吃"], "en")
    assert sentences == ["One two three.", "Four five six.", "", "好吃"]
    assert owner.tolist() == [0, 0, 1, 2]


def test_min_length_and_language_are_checked():
    assert split_sentences("Wow. Great film.", "en", min_length=1) == ["Wow.", "Great film."]
    assert split_sentences("Wow. Great film.", "en") == ["Wow. Great film."]
    with pytest.raises(ConfigError, match="'language' parameter of split_sentences"):
        split_sentences("x", "fr")


# ---- pooling ---------------------------------------------------------------------------------
P = np.array([[0.9, 0.1], [0.3, 0.7]])


def test_aggregate_by_hand():
    np.testing.assert_allclose(aggregate(P, "mean"), [0.6, 0.4])
    # normalised geometric mean: sqrt(.9·.3) = .51962, sqrt(.1·.7) = .26458, sum .78419
    np.testing.assert_allclose(aggregate(P, "logit-mean"), [0.662614, 0.337386], atol=1e-6)
    np.testing.assert_allclose(aggregate(P, "max"), [0.9, 0.1])  # 0.9 beats 0.7
    # lengths 1 and 3: (0.9 + 3·0.3) / 4, (0.1 + 3·0.7) / 4
    np.testing.assert_allclose(aggregate(P, "length-weighted", [1, 3]), [0.45, 0.55])
    np.testing.assert_allclose(aggregate(P[:1], "logit-mean"), P[0])
    with pytest.raises(ValueError, match="one length per sentence"):
        aggregate(P, "length-weighted")
    with pytest.raises(ConfigError, match="'how' parameter of aggregate"):
        aggregate(P, "median")


@pytest.mark.parametrize("how", ["mean", "logit-mean", "max", "length-weighted"])
def test_pool_is_aggregate_per_document(how):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 3)).astype(np.float32)
    owner, lengths = np.array([0, 0, 0, 1, 2, 2, 2]), [3, 1, 4, 1, 5, 9, 2]
    probs = softmax(logits)
    want = [aggregate(probs[:3], how, lengths[:3]), aggregate(probs[3:4], how, lengths[3:4]),
            aggregate(probs[4:], how, lengths[4:])]
    np.testing.assert_allclose(pool(probs, owner, 3, how, lengths), want, rtol=1e-6)
    got = softmax(pooled_logits(logits, owner, 3, how, lengths))
    np.testing.assert_allclose(got, want, atol=1e-6)


# ---- the estimator ---------------------------------------------------------------------------
def long_documents(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Documents of 6–9 neutral sentences; ONE sentence (never among the first three) holds
    the polarity word that decides the label, so the first 10 tokens never show it."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = ("negative", "positive")[i % 2]
        sentences = [[rng.choice(EN_FILL) for _ in range(rng.randint(3, 6))]
                     for _ in range(rng.randint(6, 9))]
        target = sentences[rng.randint(3, len(sentences) - 1)]
        target.insert(rng.randint(0, len(target)),
                      rng.choice(EN_POS if label == "positive" else EN_NEG))
        texts.append(" ".join(" ".join(s).capitalize() + "." for s in sentences))
        labels.append(label)
    return texts, labels


# Every epoch runs (patience 0; the best is restored): with early stopping after 2 flat
# epochs, a run could stop at chance before the cue was learnt (seed 0 with batches of 27
# stopped after 3 epochs at 0.51; seeds 1-3 reached 1.0)
SENTENCE_PARAMS = {**FAST, "batch_size": 32, "max_len": 10, "truncation": "sentences",
                   "patience": 0}


@pytest.fixture(scope="module")
def documents():
    return long_documents(200, seed=0), long_documents(80, seed=1)


@pytest.fixture(scope="module")
def sentence_model(documents):
    return SentimentClassifier(**SENTENCE_PARAMS).fit(*documents[0])


def accuracy(clf, texts, labels) -> float:
    return float(np.mean(np.array(clf.predict(texts)) == np.array(labels)))


def test_sentences_learn_a_label_hidden_in_one_sentence(sentence_model, documents):
    """Floor recorded 2026-11-29 (2-core x86_64 container): 0.99–1.00 with seeds 0–3;
    head truncation 0.5. Validation per document matters: per sentence it stopped at 0.62."""
    (train_x, train_y), (test_x, test_y) = documents
    assert sentence_model.train_summary_["train_documents"] == 180  # 10 % held out
    assert sentence_model.train_summary_["train_texts"] > 6 * 180  # trained on sentences
    assert accuracy(sentence_model, test_x, test_y) >= 0.9
    head = SentimentClassifier(**{**SENTENCE_PARAMS, "truncation": "head"}).fit(train_x, train_y)
    assert accuracy(head, test_x, test_y) <= 0.75  # the cue is never in the first 10 tokens


def test_probabilities_are_pooled_sentence_probabilities(sentence_model, documents):
    texts, labels = documents[1][0][:12], documents[1][1][:12]
    proba = sentence_model.predict_proba(texts)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    for how in ("mean", "max", "length-weighted"):
        sentence_model.set_params(sentence_pooling=how)  # a prediction-time choice
        proba = sentence_model.predict_proba(texts)
        for text, row in zip(texts, proba):
            seqs = sentence_model._encode(split_sentences(text, "en"))
            want = aggregate(softmax(sentence_model._logits(seqs)), how, [len(s) for s in seqs])
            np.testing.assert_allclose(row, want, atol=1e-6)
    sentence_model.set_params(sentence_pooling="mean")
    report = sentence_model.evaluate(texts, labels)  # Predictor.evaluate, per document
    assert report.accuracy == pytest.approx(accuracy(sentence_model, texts, labels))


def test_save_load_round_trips_truncation_and_pooling(sentence_model, documents, tmp_path):
    texts = documents[1][0][:20]
    sentence_model.set_params(sentence_pooling="logit-mean")
    try:
        sentence_model.save(tmp_path / "m")
        want = sentence_model.predict_proba(texts)
    finally:
        sentence_model.set_params(sentence_pooling="mean")
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["params"]["truncation"] == "sentences"
    assert config["params"]["sentence_pooling"] == "logit-mean"
    back = load(tmp_path / "m")
    assert (back.truncation, back.sentence_pooling) == ("sentences", "logit-mean")
    np.testing.assert_array_equal(back.predict_proba(texts), want)


def test_onnx_pools_like_torch(sentence_model, documents, tmp_path):
    from sentirnn.export.onnx import OnnxClassifier, export_onnx

    texts = documents[1][0][:30] + ["", "Great.", "no terminator at all here"]
    sentence_model.save(tmp_path / "m")
    export_onnx(tmp_path / "m")
    want = sentence_model.predict_proba(texts)
    for threads in (1, 2):  # 2: the sentences' batches run side by side (Predictor._logits)
        onnx = OnnxClassifier.load(tmp_path / "m", num_threads=threads, batch_size=8)
        assert (onnx.truncation, onnx.sentence_pooling, onnx.language_) == ("sentences",
                                                                             "mean", "en")
        np.testing.assert_allclose(onnx.predict_proba(texts), want, atol=1e-4)


@pytest.mark.slow
def test_chinese_documents_and_calibration():
    texts, labels = make_corpus("zh", 120, seed=4)
    docs = [a + "。" + b + "！" for a, b in zip(texts, texts[2:] + texts[:2])]  # same labels
    clf = SentimentClassifier(**{**SENTENCE_PARAMS, "max_epochs": 2, "max_len": 40},
                              calibrate=True).fit(docs, labels)
    assert clf.language_ == "zh" and clf.train_summary_["train_texts"] > 108
    assert clf.temperature_ > 0  # fitted on document-level "logits"
    proba = clf.predict_proba(docs[:5])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)


def test_bad_pooling_and_multi_label_are_refused():
    from sentirnn.estimators.multilabel import MultiLabelClassifier

    texts, labels = make_corpus("en", 40)
    with pytest.raises(ConfigError, match="'sentence_pooling' parameter .* Got 'median'"):
        SentimentClassifier(truncation="sentences", sentence_pooling="median").fit(texts, labels)
    with pytest.raises(ConfigError, match="does not support truncation='sentences'"):
        MultiLabelClassifier(truncation="sentences").fit(texts, labels)


@pytest.mark.slow
def test_cli_train_with_sentence_truncation(tmp_path, capsys, monkeypatch):
    texts, labels = long_documents(60, seed=5)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "d.csv", index=False)
    code, _, err = run_cli(capsys, monkeypatch, "train", tmp_path / "d.csv", "--out",
                           tmp_path / "m", "--truncation", "sentences", "--sentence-pooling",
                           "max", "--epochs", "1", "--embedding-dim", "8", "--hidden-size", "8",
                           "--min-freq", "1", "--num-threads", "1", "--no-progress")
    assert code == 0, err
    params = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))["params"]
    assert (params["truncation"], params["sentence_pooling"]) == ("sentences", "max")


@pytest.mark.parametrize("truncation", ["head+tail", "sentences"])
def test_fine_tune_validates_like_fit(truncation):
    texts, labels = long_documents(60, seed=6)
    clf = SentimentClassifier(**{**SENTENCE_PARAMS, "max_epochs": 1, "truncation": truncation})
    clf.fit(texts, labels).fine_tune(texts, labels, epochs=1)
    assert clf.report_ is not None and clf.report_.n == 6  # per document, 10 % held out
    assert "val_macro_f1" in clf.history_[-1]
