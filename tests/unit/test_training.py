"""The fit loop's small-data rule: enough optimizer steps an epoch, whatever batch_size says."""

import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier
from sentirnn.errors import ConfigError
from sentirnn.training import small_data_batch


def test_small_sets_get_smaller_batches():
    assert small_data_batch(22_500, 64, 50) == 64  # plenty of steps: the batch stays
    assert small_data_batch(450, 64, 50) == 9  # 8 steps an epoch would be too few: 50
    assert small_data_batch(90, 64, 50) == 8  # never below 8 ...
    assert small_data_batch(90, 4, 50) == 4  # ... unless asked for
    assert small_data_batch(450, 64, 0) == 64  # 0 turns the rule off


def test_fit_trains_a_small_set_with_smaller_batches_and_the_same_lr(monkeypatch):
    steps = []  # the lr of every optimizer step
    adam_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        steps.append(self.param_groups[0]["lr"])
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    texts, labels = make_corpus("en", 200, seed=7)
    params = dict(FAST, batch_size=64, max_epochs=1, valid_fraction=0.0, scheduler="none")
    clf = SentimentClassifier(**params).fit(texts, labels)
    # 200 texts: 25 batches of 8 instead of 4 of 64; Adam's lr unchanged
    assert clf.train_summary_["batch_size"] == 8 and clf.batch_size == 64
    assert len(steps) == 25 and set(steps) == {FAST["lr"]}
    steps.clear()
    clf = SentimentClassifier(**params, min_steps=0).fit(texts, labels)
    assert clf.train_summary_["batch_size"] == 64 and len(steps) == 4


def test_min_steps_must_be_a_count():
    texts, labels = make_corpus("en", 40, seed=8)
    with pytest.raises(ConfigError, match="min_steps"):
        SentimentClassifier(**FAST, min_steps=-1).fit(texts, labels)
