"""Self-training: pseudo labels carry what the teacher knows to words only the pool has."""

import random

import numpy as np
import pytest
import torch
from conftest import FAST

from sentirnn import SentimentClassifier
from sentirnn.errors import ConfigError, DataError
from sentirnn.estimators.multilabel import MultiLabelClassifier
from sentirnn.estimators.self_training import pseudo_label, self_train

torch.set_num_threads(1)
KNOWN = {"positive": ["great", "love"], "negative": ["awful", "hate"]}
NEW = {"positive": ["superb", "splendid"], "negative": ["dreadful", "dismal"]}
FILL = ["the", "movie", "plot", "was", "really", "this", "and", "a", "film", "story"]


def texts_with(cue_sets, n: int, seed: int) -> tuple[list[str], list[str]]:
    """n texts, half of each label, holding one cue word of its label from each set."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = ("negative", "positive")[i % 2]
        words = [rng.choice(FILL) for _ in range(rng.randint(2, 6))]
        for cues in cue_sets:
            words.insert(rng.randint(0, len(words)), rng.choice(cues[label]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def make():
    return SentimentClassifier(**{**FAST, "max_epochs": 8, "seed": 0})


@pytest.fixture(scope="module")
def labelled():
    return texts_with([KNOWN], 120, seed=1)


@pytest.fixture(scope="module")
def pool():
    """Unlabelled texts with a known and a new cue word each (labels thrown away)."""
    return texts_with([KNOWN, NEW], 400, seed=2)[0]


def accuracy(clf, data) -> float:
    return float(np.mean(np.array(clf.predict(data[0])) == np.array(data[1])))


@pytest.mark.slow
def test_the_student_learns_words_only_the_unlabelled_texts_have(labelled, pool):
    new_only = texts_with([NEW], 100, seed=3)
    teacher = make().fit(*labelled)
    assert accuracy(teacher, new_only) <= 0.65  # the new words are <unk> to the teacher
    student = self_train(make, *labelled, pool, ratio=2.0)
    assert accuracy(student, new_only) >= 0.9
    assert accuracy(student, texts_with([KNOWN], 100, seed=4)) >= 0.9
    s = student.train_summary_["self_training"]
    assert s["real_labels"] == 108 and s["pseudo_labels"] == 216  # 10% held out; 2 × 108
    assert {c: v["taken"] for c, v in s["per_class"].items()} == {"negative": 108,
                                                                   "positive": 108}
    assert student.train_summary_["train_texts"] == 108 + 216
    # validation is the real labels' held-out 10%, not pseudo-labelled texts
    assert student.report_.n == 12 and s["pool"] == len(set(pool))
    assert student.restore_best  # from scratch: the best epoch, as early stopping left it


@pytest.mark.slow
def test_pseudo_labels_are_the_surest_texts_of_each_predicted_class(labelled, pool):
    clf = make().fit(*labelled)
    texts, labels, report = pseudo_label(clf, pool, {"negative": 30, "positive": 50})
    assert labels.count("negative") == 30 and labels.count("positive") == 50
    assert len(set(texts)) == len(texts)
    proba = clf.predict_proba(pool)
    index = {t: i for i, t in enumerate(pool)}
    for c, name in enumerate(clf.classes_):
        chosen = {index[t] for t, y in zip(texts, labels) if y == name}
        assert all(proba[i].argmax() == c for i in chosen)
        rest = [i for i in range(len(pool)) if proba[i].argmax() == c and i not in chosen]
        assert min(proba[i, c] for i in chosen) >= max(proba[i, c] for i in rest)
        assert report[name]["min_probability"] == pytest.approx(
            min(proba[i, c] for i in chosen))


@pytest.mark.slow
def test_a_class_takes_no_more_than_the_texts_predicted_as_it(labelled, pool):
    clf = make().fit(*labelled)
    texts, labels, report = pseudo_label(clf, pool[:20], {"negative": 1000, "positive": 0})
    predicted_negative = int(np.sum(np.array(clf.predict(pool[:20])) == "negative"))
    assert report["negative"]["taken"] == predicted_negative == len(texts)
    assert report["positive"] == {"taken": 0, "wanted": 0,
                                  "predicted": 20 - predicted_negative,
                                  "min_probability": None}


def test_labelled_and_empty_texts_are_not_pseudo_labelled(labelled):
    texts, labels = labelled
    with pytest.raises(DataError, match="neither empty nor also labelled"):
        self_train(make, texts, labels, [*texts[:30], "", "   "])
    with pytest.raises(ConfigError, match="ratio > 0 and rounds ≥ 1"):
        self_train(make, texts, labels, ["a great film"], ratio=0)
    with pytest.raises(ConfigError, match="does not combine with a multi-label"):
        self_train(lambda: MultiLabelClassifier(**FAST), texts, labels, ["a great film"])
    with pytest.raises(DataError, match="120 texts but 3 labels"):
        self_train(make, texts, labels[:3], ["a great film"])


@pytest.mark.slow
def test_a_pool_of_one_class_is_reported_as_unbalanced(labelled, caplog):
    texts, labels = texts_with([KNOWN, NEW], 200, seed=7)
    positive_only = [t for t, y in zip(texts, labels) if y == "positive"]
    with caplog.at_level("WARNING", logger="sentirnn.estimators.self_training"):
        student = self_train(make, *labelled, positive_only, ratio=1.0)
    per_class = student.train_summary_["self_training"]["per_class"]
    assert per_class["negative"]["taken"] <= 5 and per_class["positive"]["taken"] == 54
    assert "too few unlabelled texts as 'negative'" in caplog.text


@pytest.mark.slow
def test_each_round_the_student_becomes_the_teacher(labelled, pool):
    seen = []
    student = self_train(make, *labelled, pool, ratio=1.0, rounds=2,
                         on_round=lambda r, m: seen.append((r, m)))
    assert [r for r, _ in seen] == [1, 2] and seen[-1][1] is student
    rounds = student.train_summary_["self_training"]["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    # round 2's teacher is round 1's student: its validation F1 is that student's
    assert rounds[1]["teacher_valid_macro_f1"] == seen[0][1].report_.macro_f1
