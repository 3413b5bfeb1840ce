"""Hyper-parameter tuning: two tiny Optuna trials, pruning through the fit loop, the space."""

from __future__ import annotations

import json
import sys

import optuna
import pytest
from conftest import FAST, make_corpus

from sentirnn.errors import ConfigError
from sentirnn.estimators.classifier import SentimentClassifier
from sentirnn.estimators.tune import (
    ReportToTrial,
    _require_optuna,
    _train_with,
    check_space,
    format_trials,
    tune,
    write_tuning,
)

SPACE = {"arch": ["bilstm", "bigru"], "hidden_size": [8, 16],
         "lr": {"low": 5e-3, "high": 2e-2, "log": True}}


@pytest.fixture(scope="module")
def result():
    texts, labels = make_corpus("en", 160, seed=1)
    valid = make_corpus("en", 60, seed=2)
    return tune(texts, labels, valid, n_trials=2, timeout=None, seed=0,
                base_params=dict(FAST, max_epochs=2), search_space=SPACE)


@pytest.mark.slow
def test_two_trials_give_a_fitted_best_model(result):
    assert [t["state"] for t in result.trials] == ["COMPLETE", "COMPLETE"]
    assert result.best_score == max(t["value"] for t in result.trials)
    assert set(SPACE) <= set(result.best_params)
    assert result.best_params["max_epochs"] == 2 and result.best_params["seed"] == 0
    clf = result.best_classifier
    assert type(clf) is SentimentClassifier and "_train" not in vars(clf)
    assert clf.get_params() == result.best_params
    assert clf.predict(["great tasty food", "awful boring movie"]) == ["positive", "negative"]
    assert all(len(t["epoch_scores"]) == t["epochs"] for t in result.trials)


@pytest.mark.slow
def test_best_model_saves_and_loads_with_tuning_json(result, tmp_path):
    clf = result.best_classifier
    clf.save(tmp_path / "best")
    write_tuning(result, tmp_path / "best")
    loaded = SentimentClassifier.load(tmp_path / "best")
    texts = make_corpus("en", 30, seed=3)[0]
    assert loaded.predict(texts) == clf.predict(texts)
    record = json.loads((tmp_path / "best" / "tuning.json").read_text(encoding="utf-8"))
    assert len(record["trials"]) == 2 and record["best_value"] == result.best_score
    assert record["search_space"] == SPACE
    table = format_trials(result)
    assert table.splitlines()[0].split()[:5] == ["trial", "state", "macro-F1", "epochs",
                                                  "seconds"]
    assert sum(line.startswith("*") for line in table.splitlines()) == 1


class PruneAfterFirstEpoch:
    """A stand-in for an Optuna trial whose pruner gives up after one epoch."""

    def __init__(self):
        self.reported = []

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return True


def test_pruning_callback_stops_the_fit_loop():
    texts, labels = make_corpus("en", 80, seed=4)
    trial = PruneAfterFirstEpoch()
    clf = SentimentClassifier(**dict(FAST, max_epochs=5))
    _train_with(clf, [ReportToTrial(trial)])
    with pytest.raises(optuna.TrialPruned, match="after epoch 1"):
        clf.fit(texts, labels)
    assert [step for step, _ in trial.reported] == [0]
    assert 0.0 <= trial.reported[0][1] <= 1.0


def test_search_space_is_checked():
    assert check_space({"dropout": {"low": 0.1, "high": 0.5}}) == {
        "dropout": {"low": 0.1, "high": 0.5}}
    with pytest.raises(ConfigError, match="'hiden_size' is not a SentimentClassifier"):
        check_space({"hiden_size": [8]})
    with pytest.raises(ConfigError, match="dropout must be"):
        check_space({"dropout": {"low": 0.5, "high": 0.1}})
    with pytest.raises(ConfigError, match="n_trials or timeout"):
        tune(["a"], ["b"], n_trials=None, timeout=None)


def test_missing_optuna_is_one_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install 'sentirnn\[tune\]'"):
        _require_optuna()
