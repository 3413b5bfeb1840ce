"""Explanations: the one decisive word gets the top score; IG completeness; attention; JSON."""

from __future__ import annotations

import json
import random

import pytest
import torch

from sentirnn.errors import DataError
from sentirnn.estimators.classifier import SentimentClassifier
from sentirnn.inference.explain import Explanation

FILL = ["the", "a", "park", "saw", "we", "today", "near", "river", "big", "small", "walked",
        "and", "with", "old", "green"]
DISTRACTORS = ["giraffe", "lion", "elephant"]  # in both classes, so they decide nothing
TINY = dict(embedding_dim=16, hidden_size=16, max_epochs=6, batch_size=16, lr=1e-2,
            min_freq=1, progress=False, num_threads=1)


def zebra_corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Label 'positive' iff the text holds the word "zebra"."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        words = [rng.choice(FILL) for _ in range(rng.randint(3, 9))]
        for word in rng.sample(DISTRACTORS, rng.randint(0, 2)):
            words.insert(rng.randint(0, len(words)), word)
        positive = i % 2 == 0
        if positive:
            words.insert(rng.randint(0, len(words)), "zebra")
        texts.append(" ".join(words))
        labels.append("positive" if positive else "negative")
    return texts, labels


@pytest.fixture(scope="module")
def zebra_model():
    return SentimentClassifier(**TINY).fit(*zebra_corpus(300, seed=0))


@pytest.fixture(scope="module")
def attention_model():
    return SentimentClassifier(pooling="attention", **TINY).fit(*zebra_corpus(300, seed=1))


def test_the_decisive_word_gets_the_largest_positive_score(zebra_model):
    texts = ["zebra the park", "we saw a zebra near the river today",
             "the lion and the giraffe walked with a zebra",
             "elephant big small zebra green old and the park"]
    for text in texts:
        e = zebra_model.explain(text)
        assert e.label == "positive", text
        top = max(range(len(e.tokens)), key=lambda i: abs(e.scores[i]))
        assert e.tokens[top] == "zebra", (text, e.top())
        assert e.scores[top] > 0


def baseline_probability(clf, n_tokens: int, target: int) -> float:
    net = clf.net_.eval()
    zeros = torch.zeros(1, n_tokens, net.embedding.table.embedding_dim)
    with torch.no_grad():
        logits = net.forward_embedded(zeros, torch.tensor([n_tokens]))
    return float(torch.softmax(logits, 1)[0, target])


def test_scores_add_up_to_the_probability_change(zebra_model):
    for text in ["we saw a zebra near the river", "the lion walked in the park"]:
        e = zebra_model.explain(text, steps=64)
        target = zebra_model.classes_.index(e.label)
        change = e.probabilities[e.label] - baseline_probability(zebra_model, len(e.tokens),
                                                                 target)
        assert sum(e.scores) == pytest.approx(change, abs=0.02)
        assert abs(e.delta) < 0.02


def test_attention_weights_are_reported_and_sum_to_one(attention_model, zebra_model):
    e = attention_model.explain("we saw a zebra near the river")
    assert e.attention is not None and len(e.attention) == len(e.tokens)
    assert sum(e.attention) == pytest.approx(1.0, abs=1e-5)
    assert zebra_model.explain("we saw a zebra").attention is None  # maxmean pooling


def test_json_shape_and_rendering(zebra_model):
    e = zebra_model.explain("we saw a zebra and an okapi")
    data = json.loads(json.dumps(e.to_dict()))
    assert set(data) == {"text", "tokens", "scores", "label", "probabilities", "attention",
                         "method", "delta"}
    assert len(data["tokens"]) == len(data["scores"])
    assert "okapi" in data["tokens"]  # unknown to the vocabulary, still shown as written
    assert set(data["probabilities"]) == set(zebra_model.classes_)
    assert sum(data["probabilities"].values()) == pytest.approx(1.0)
    assert isinstance(Explanation(**data), Explanation)
    plain = e.render(color=False)
    assert "zebra(+" in plain and "\x1b[" not in plain
    assert "\x1b[" in e.render(color=True)


def test_empty_text_and_bad_input(zebra_model):
    with pytest.raises(DataError, match="the text is empty"):  # no words: nothing decided
        zebra_model.explain("  ")
    with pytest.raises(DataError, match="one text"):
        zebra_model.explain(["a list"])
