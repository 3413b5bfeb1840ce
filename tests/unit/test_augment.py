"""EDA augmentation: labels kept, rate respected, seeded, any token kind, training data only."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier
from sentirnn.errors import ConfigError
from sentirnn.preprocess.augment import (
    Neighbours,
    augment_tokens,
    eda,
    random_deletion,
    random_insertion,
    random_swap,
    synonym_replacement,
)

WORDS = [f"w{i}" for i in range(40)]
SYN = {w: [w + "_syn"] for w in WORDS}


def neighbours(word):
    return SYN.get(word, [])


def test_each_operation_changes_about_rate_times_length():
    rate, n = 0.2, round(0.2 * len(WORDS))  # 8 of 40 tokens
    rng = random.Random(0)
    replaced = synonym_replacement(WORDS, rate, rng, neighbours)
    assert sum(a != b for a, b in zip(WORDS, replaced)) == n
    assert len(random_insertion(WORDS, rate, rng, neighbours)) == len(WORDS) + n
    swapped = random_swap(WORDS, rate, rng)
    assert sorted(swapped) == sorted(WORDS) and 0 < sum(a != b for a, b in
                                                        zip(WORDS, swapped)) <= 2 * n
    deleted = [len(WORDS) - len(random_deletion(WORDS, rate, random.Random(s)))
               for s in range(50)]
    assert 6 <= np.mean(deleted) <= 10  # each token dropped with p = 0.2 → 8 on average


def test_edge_cases_keep_a_token_and_protect_stop_words():
    rng = random.Random(0)
    assert random_deletion(["only"], 0.9, rng) == ["only"]
    assert len(random_deletion(["a", "b"], 0.99, rng)) >= 1
    assert random_swap(["x"], 0.5, rng) == ["x"]
    assert random_insertion([], 0.5, rng) == []
    out = synonym_replacement(["w1", "the", ","], 0.9, rng, neighbours, protected={"w1"})
    assert out == ["w1", "the", ","]  # protected words and punctuation are never replaced


def test_insertion_without_vectors_uses_words_of_the_same_text():
    out = random_insertion(["好", "吃", "的"], 0.5, random.Random(1))
    assert len(out) == 5 and set(out) <= {"好", "吃", "的"}


def test_labels_kept_and_originals_first():
    tokens = [["很", "好吃"], ["太", "难吃", "了"], ["good", "food"]]
    labels = ["pos", "neg", "pos"]
    out, ys = augment_tokens(tokens, labels, 0.3, copies=3, seed=0, neighbours=neighbours)
    assert len(out) == 4 * len(tokens) and ys == labels * 4
    assert out[:3] == tokens


def test_seeded_reproducible_and_seed_dependent():
    texts, labels = make_corpus("zh", 40, seed=0)
    chars = [list(t) for t in texts]  # Chinese characters
    a = augment_tokens(chars, labels, 0.2, copies=2, seed=7)
    b = augment_tokens(chars, labels, 0.2, copies=2, seed=7)
    c = augment_tokens(chars, labels, 0.2, copies=2, seed=8)
    assert a == b and a[0] != c[0]


def test_jieba_words_and_english_words():
    import jieba

    words = jieba.lcut("这家外卖味道很好吃送餐也快")
    out = eda(words, 0.3, random.Random(0), operation="delete")
    assert 1 <= len(out) <= len(words)
    assert eda("the food was really good".split(), 0.3, random.Random(0),
               operation="swap") != "the food was really good".split()
    with pytest.raises(ConfigError, match="EDA operation"):
        eda(words, 0.3, random.Random(0), operation="shuffle")


def test_without_vectors_synonyms_are_skipped_and_said(caplog):
    caplog.set_level(logging.INFO, logger="sentirnn")
    rng = random.Random(0)
    ops = {eda(WORDS, 0.2, rng) != WORDS for _ in range(20)}
    assert ops == {True}
    augment_tokens([WORDS], ["x"], 0.2)
    assert "synonym replacement is skipped" in caplog.text


def test_bad_settings():
    with pytest.raises(ConfigError, match="rate"):
        augment_tokens([["a"]], ["x"], 1.5)
    with pytest.raises(ConfigError, match="copies"):
        augment_tokens([["a"]], ["x"], 0.1, copies=0)
    with pytest.raises(ConfigError, match="augment"):
        SentimentClassifier(augment=-0.1).fit(["a b", "c d"], ["x", "y"])


def test_neighbours_from_vectors_stay_in_allowed_words():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(2)
    kv.add_vectors(["good", "great", "fine", "outside"],
                   np.array([[1, 0], [0.9, 0.1], [0.8, 0.3], [0.95, 0.05]], np.float32))
    found = Neighbours(kv, allowed=["good", "great", "fine"])("good")
    assert found[0] == "great" and "outside" not in found
    assert Neighbours(kv)("good")[0] == "outside" and Neighbours(kv)("nope") == []


@pytest.mark.slow
def test_fit_augments_training_texts_only():
    texts, labels = make_corpus("en", 80, seed=6)
    valid = make_corpus("en", 30, seed=7)
    clf = SentimentClassifier(augment=0.2, augment_copies=2, **dict(FAST, max_epochs=1))
    clf.fit(texts, labels, valid=valid)
    assert clf.train_summary_["train_texts"] == 3 * len(texts)
    assert clf.train_summary_["augment"] == {"rate": 0.2, "copies": 2}
    assert clf.report_.n == len(valid[0])  # validation texts are never augmented
    plain = SentimentClassifier(**dict(FAST, max_epochs=1)).fit(texts, labels, valid=valid)
    assert plain.vocab_ == clf.vocab_  # the vocabulary comes from the original texts
