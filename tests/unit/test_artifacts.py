"""Model directories: round trip, refusals with clear messages, atomic writes."""

import json

import numpy as np
import pytest
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier, load
from sentirnn.errors import ArtifactError


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    texts, labels = make_corpus("zh", 120, seed=6)
    path = tmp_path_factory.mktemp("m") / "model"
    SentimentClassifier(**FAST).fit(texts, labels).save(path)
    return path


def copy(model_dir, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(model_dir, target)
    return target


def test_layout_and_config(model_dir):
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "metrics.json",
            "confusion.png", "curves.png", "curves.csv"} <= names
    config = json.loads((model_dir / "config.json").read_text())
    assert config["format"] == "sentirnn.classifier" and config["format_version"] == 1
    assert config["labels"] == ["negative", "positive"]
    assert set(config["checksums"]) == {"model.safetensors", "tokenizer.json"}


def test_missing_dir_and_not_a_model(tmp_path):
    with pytest.raises(ArtifactError, match="is not a folder"):
        load(tmp_path / "nope")
    with pytest.raises(ArtifactError, match="no config.json"):
        load(tmp_path)


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_truncated_or_tampered_files_are_refused(model_dir, tmp_path, name):
    target = copy(model_dir, tmp_path)
    data = (target / name).read_bytes()
    (target / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=f"{name} does not match the checksum"):
        load(target)
    (target / name).unlink()
    with pytest.raises(ArtifactError, match=f"{name} is missing"):
        load(target)


def test_newer_format_and_wrong_kind_refused(model_dir, tmp_path):
    target = copy(model_dir, tmp_path)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps(dict(config, format_version=99)))
    with pytest.raises(ArtifactError, match="newer than this sentirnn"):
        load(target)
    (target / "config.json").write_text(json.dumps(dict(config, format="sentirnn.language_model")))
    with pytest.raises(ArtifactError, match="language_model directory"):
        load(target)
    (target / "config.json").write_text("{truncated")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load(target)


def test_overwrite_is_atomic_and_refuses_foreign_folders(model_dir, tmp_path):
    clf = load(model_dir)
    target = copy(model_dir, tmp_path)
    clf.save(target)  # replacing an existing model directory is fine
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="not a sentirnn model directory"):
        clf.save(foreign)
    assert (foreign / "cat.jpg").exists()


def test_round_trip_probabilities(model_dir):
    texts, _ = make_corpus("zh", 30, seed=8)
    a, b = load(model_dir), load(model_dir)
    np.testing.assert_array_equal(a.predict_proba(texts), b.predict_proba(texts))


@pytest.mark.slow
def test_cleaning_switches_travel_with_the_model(tmp_path):
    from sentirnn.preprocess.text import clean

    texts, labels = make_corpus("zh", 120, seed=9)
    texts = [f"{t}！！{i % 7}。" for i, t in enumerate(texts)]
    clf = SentimentClassifier(**dict(FAST, max_epochs=2), strip_punct=True, strip_digits=True)
    clf.fit(texts, labels).save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["text"]["strip_punct"] is config["text"]["strip_digits"] is True
    loaded = load(tmp_path / "m")
    assert clean("好!!!吃", loaded.text_config_) == "好吃"
    assert clean("１２３好吃，。！", loaded.text_config_) == "好吃"
    np.testing.assert_array_equal(loaded.predict_proba(["好!!!吃", "好吃，。！１２３"]),
                                  loaded.predict_proba(["好吃", "好吃"]))
    assert "！" not in loaded.vocab_.itos and "7" not in loaded.vocab_.itos


def test_directories_from_before_the_cleaning_switches_and_l1_still_load(model_dir, tmp_path):
    from sentirnn.artifacts import config_digest

    target = copy(model_dir, tmp_path)
    config = json.loads((target / "config.json").read_text())
    for section, keys in (("text", ("strip_digits", "strip_punct")), ("train", ("l1",)),
                          ("params", ("strip_digits", "strip_punct", "l1"))):
        for key in keys:
            del config[section][key]
    config["config_sha256"] = config_digest(config)  # as the older sentirnn wrote it
    (target / "config.json").write_text(json.dumps(config))
    old = load(target)
    assert not old.text_config_.strip_digits and not old.text_config_.strip_punct
    assert (old.strip_punct, old.l1) == (False, 0.0)
    texts, _ = make_corpus("zh", 30, seed=8)
    np.testing.assert_array_equal(old.predict_proba(texts), load(model_dir).predict_proba(texts))
