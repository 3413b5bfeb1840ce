"""``--preset tutorial``: the source tutorial's Keras model, resolved, overridable, recorded."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, make_corpus, run_cli

from sentirnn import SentimentClassifier, load
from sentirnn.errors import ConfigError
from sentirnn.estimators.presets import PRESETS

THREE = ("negative", "neutral", "positive")
# The tutorial: Embedding(50) → SimpleRNN(50) → Dense softmax; 100 tokens, RMSprop, 10 × 32.
TUTORIAL = dict(arch="rnn", layers=1, embedding_dim=50, hidden_size=50, pooling="last",
                max_len=100, truncation="head", optimizer="rmsprop", lr=1e-3, max_epochs=10,
                batch_size=32, min_steps=0, patience=0, restore_best=False,
                average_epochs="off", dropout=0.0, embedding_dropout=0.0, bigrams="off",
                grad_clip=0.0, weight_decay=0.0, l1=0.0, min_freq=1)


def test_tutorial_preset_resolves_to_the_tutorial_model():
    params = SentimentClassifier.preset("tutorial").get_params()
    assert {k: params[k] for k in TUTORIAL} == TUTORIAL
    # everything else is the default
    defaults = SentimentClassifier().get_params()
    assert {k for k in params if params[k] != defaults[k]} <= set(PRESETS["tutorial"])


def test_explicit_params_override_the_preset():
    clf = SentimentClassifier.preset("tutorial", max_epochs=2, hidden_size=8)
    assert (clf.max_epochs, clf.hidden_size, clf.arch) == (2, 8, "rnn")


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown preset 'keras'; valid presets: 'tutorial'"):
        SentimentClassifier.preset("keras")


@pytest.mark.slow
def test_tutorial_preset_trains_on_three_classes_and_is_recorded(tmp_path):
    texts, labels = make_corpus("en", 240, seed=4, labels=THREE)
    clf = SentimentClassifier.preset("tutorial", max_epochs=3, progress=False, num_threads=1)
    clf.fit(texts, labels)
    assert clf.classes_ == list(THREE)
    assert clf.train_summary_["epochs_run"] == 3  # patience=0: no early stop
    p = clf.predict_proba(["a great movie", "an awful movie", "the plot"])
    assert p.shape == (3, 3)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert set(clf.predict(texts[:30])) <= set(THREE)
    clf.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["preset"] == "tutorial"
    assert config["model"]["cell"] == "rnn" and config["model"]["pooling"] == "last"
    assert config["params"]["max_epochs"] == 3 and config["params"]["hidden_size"] == 50
    again = load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(texts[:10]), clf.predict_proba(texts[:10]),
                               rtol=1e-5, atol=1e-6)
    assert again._preset == "tutorial"


def test_cli_preset_with_an_overriding_flag(tmp_path, capsys, monkeypatch):
    texts, labels = make_corpus("en", 120, seed=5, labels=THREE)
    data = tmp_path / "three.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)),
                    encoding="utf-8")
    code, out, err = run_cli(capsys, monkeypatch, "train", data, "--preset", "tutorial",
                             "--max-epochs", "2", "--valid-fraction", "0", "--num-threads",
                             "1", "--no-progress", "--out", tmp_path / "m")
    assert code == 0, err
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["preset"] == "tutorial"
    assert config["params"]["max_epochs"] == 2 and config["params"]["optimizer"] == "rmsprop"
    assert config["train_summary"]["epochs_run"] == 2
    assert config["params"]["valid_fraction"] == 0  # --valid-fraction 0: all 120 train
    assert config["train_summary"]["train_texts"] == 120
    # no validation data: the log says so instead of an empty "best epoch 0 …; validation:"
    assert "no validation data: the last epoch's weights are kept" in err
    assert "validation:" not in err and "best epoch 0" not in err
    assert config["labels"] == list(THREE)


def test_cli_unknown_preset_is_one_line(tmp_path, capsys, monkeypatch):
    data = tmp_path / "d.csv"
    data.write_text("text,label\ngood,positive\nbad,negative\n", encoding="utf-8")
    code, _, err = run_cli(capsys, monkeypatch, "train", data, "--preset", "keras",
                           "--out", tmp_path / "m")
    assert_one_line_error(code, err, "unknown preset 'keras'; valid presets: 'tutorial'")
    assert not (tmp_path / "m").exists()


def test_padding_to_100_tokens_changes_nothing():
    """The preset pads per batch where Keras pads every text to 100: the same logits."""
    import torch

    from sentirnn.models import build_net
    from sentirnn.preprocess.batching import collate

    torch.manual_seed(0)
    net = build_net(SentimentClassifier.preset("tutorial")._model_config(40, 3)).eval()
    ids, lengths = collate([[5, 6, 7], [8, 9, 10, 11, 12], [2]])  # (3, 5)
    to_100 = torch.cat([ids, torch.zeros(3, 95, dtype=ids.dtype)], 1)  # (3, 100)
    with torch.no_grad():
        torch.testing.assert_close(net(to_100, lengths), net(ids, lengths))
