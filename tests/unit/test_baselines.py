"""Baselines: the same interface as the RNN classifier, quality floors, safe skops files."""

import json
import shutil

import numpy as np
import pytest
from conftest import make_corpus

from sentirnn import artifacts
from sentirnn.classic.baselines import ARCHS, MODEL_FILE, BaselineClassifier
from sentirnn.errors import ArtifactError, ConfigError, DataError, NotFittedError
from sentirnn.metrics import EvaluationReport

SEEDS = {"en": 1, "zh": 2}


@pytest.fixture(scope="module")
def fitted():
    """One fitted model per (language, arch), built on first use and shared by the tests."""
    cache = {}

    def get(language, arch):
        if (language, arch) not in cache:
            train = make_corpus(language, 240, seed=SEEDS[language])
            cache[language, arch] = BaselineClassifier(arch).fit(*train)
        return cache[language, arch]

    return get


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_each_arch_learns_the_tiny_task(fitted, language, arch):
    """Floor: unseen texts of the tiny task (240 training texts); all archs scored 1.0 on
    2 shared CPU cores, 2025, so 0.9 fails only for a real regression."""
    clf = fitted(language, arch)
    texts, labels = make_corpus(language, 200, seed=SEEDS[language] + 10)
    report = clf.evaluate(texts, labels)
    assert isinstance(report, EvaluationReport)
    assert report.n == 200 and report.labels == ["negative", "positive"]
    assert report.accuracy >= 0.9 and report.macro_f1 >= 0.9
    assert clf.language_ == language
    assert clf.tokenizer_.kind == ("jieba-word" if language == "zh" else "en-word")


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_proba_contract(fitted, arch):
    clf = fitted("en", arch)
    texts = ["great food", "awful service", "", "zzz qqq", "the"]
    p = clf.predict_proba(texts)
    assert p.shape == (5, 2)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-9)
    assert [clf.classes_[i] for i in p.argmax(1)] == clf.predict(texts)
    assert clf.predict(["great food", "awful service"]) == ["positive", "negative"]
    assert clf.predict_proba([]).shape == (0, 2)
    records = clf.classify("great food", top_k=2)
    assert [r["label"] for r in records] == ["positive", "negative"]


@pytest.mark.parametrize("language,arch", [("en", a) for a in sorted(ARCHS)]
                         + [("zh", "tfidf-svm")])
def test_save_load_identical_probabilities(fitted, tmp_path, language, arch):
    clf = fitted(language, arch)
    texts, _ = make_corpus(language, 40, seed=99)
    path = clf.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    assert config["format"] == "sentirnn.baseline" and config["format_version"] == 1
    assert config["labels"] == ["negative", "positive"] and config["language"] == language
    assert config["params"]["arch"] == arch and set(config["checksums"]) == {MODEL_FILE}
    assert {p.suffix for p in path.iterdir()} <= {".json", ".skops", ".png"}
    back = BaselineClassifier.load(path)
    assert back.get_params() == clf.get_params() and back.classes_ == clf.classes_
    np.testing.assert_array_equal(back.predict_proba(texts), clf.predict_proba(texts))


def test_params_protocol_and_not_fitted():
    from sklearn.base import clone

    clf = BaselineClassifier("tfidf-svm", C=0.5)
    assert clf.get_params()["arch"] == "tfidf-svm" and clf.get_params()["C"] == 0.5
    assert not [k for k in vars(clf) if k.endswith("_")]
    assert clone(clf).get_params() == clf.get_params()
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        BaselineClassifier().predict(["x"])


def test_bad_inputs_are_refused(fitted):
    with pytest.raises(DataError, match=r"wrap it: predict\(\['good'\]\)"):
        fitted("en", "tfidf-lr").predict("good")
    with pytest.raises(ConfigError, match=r"'arch' parameter of BaselineClassifier must be one "
                                          r"of .*Got 'tfidf-rf' instead"):
        BaselineClassifier("tfidf-rf").fit(["a", "b"], ["x", "y"])
    with pytest.raises(DataError, match="single class"):
        BaselineClassifier().fit(["a b", "c d"], ["pos", "pos"])
    with pytest.raises(DataError, match="at least 2 training texts of every label"):
        BaselineClassifier("tfidf-svm").fit(["a b", "c d", "e"], ["pos", "pos", "neg"])
    with pytest.raises(DataError, match="not known to this model"):
        fitted("en", "tfidf-lr").evaluate(["good"], ["neutral"])


def test_valid_gives_a_report_and_same_seed_same_model():
    train, dev = make_corpus("en", 120, seed=5), make_corpus("en", 40, seed=6)
    a = BaselineClassifier("tfidf-svm", seed=3).fit(*train, valid=dev)
    b = BaselineClassifier("tfidf-svm", seed=3).fit(*train)
    assert a.report_.n == 40 and a.report_.accuracy >= 0.9 and b.report_ is None
    np.testing.assert_array_equal(a.predict_proba(dev[0]), b.predict_proba(dev[0]))


def test_generic_load_dispatches_on_format(fitted, tmp_path):
    from sentirnn import load  # imports torch: done once, here

    clf = fitted("en", "bow-nb")
    back = load(clf.save(tmp_path / "model"))
    assert isinstance(back, BaselineClassifier) and back.predict(["great"]) == ["positive"]


def test_explain_is_a_clear_error(fitted):
    with pytest.raises(ConfigError, match="explain needs a recurrent model"):
        fitted("en", "bow-nb").explain("good")


# ---- refusing files that were not written by sentirnn --------------------------------------
@pytest.fixture
def saved(fitted, tmp_path):
    return fitted("en", "tfidf-lr").save(tmp_path / "model")


def _replace_model_file(path, data: bytes) -> None:
    """Swap model.skops and fix the checksum too, as someone crafting a file would."""
    (path / MODEL_FILE).write_bytes(data)
    config = json.loads((path / "config.json").read_text())
    config["checksums"][MODEL_FILE] = artifacts.sha256(path / MODEL_FILE)
    config["config_sha256"] = artifacts.config_digest(config)
    (path / "config.json").write_text(json.dumps(config))


def _one_line_error(path, match: str) -> None:
    with pytest.raises(ArtifactError, match=match) as info:
        BaselineClassifier.load(path)
    assert "\n" not in str(info.value)


def test_tampered_file_fails_its_checksum(saved):
    data = bytearray((saved / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (saved / MODEL_FILE).write_bytes(bytes(data))
    _one_line_error(saved, "does not match the checksum")


def test_untrusted_types_are_refused(saved):
    import os

    import skops.io
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    evil = Pipeline([("f", FunctionTransformer(func=os.system))])
    _replace_model_file(saved, skops.io.dumps(evil))
    _one_line_error(saved, r"holds types sentirnn does not trust \(.*system")


def test_damaged_skops_and_mismatched_labels_are_refused(saved, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(saved, other)
    _replace_model_file(other, b"PK\x03\x04 not really a zip")
    _one_line_error(other, "cannot be read as a skops file")

    config = json.loads((saved / "config.json").read_text())
    config["labels"] = ["bad", "good"]
    (saved / "config.json").write_text(json.dumps(config))
    _one_line_error(saved, "config.json was changed after sentirnn wrote it")
    config["config_sha256"] = artifacts.config_digest(config)  # a crafted digest too
    (saved / "config.json").write_text(json.dumps(config))
    _one_line_error(saved, r"predicts labels \['negative', 'positive'\], but config.json lists")


def test_directory_without_model_file_is_refused(saved):
    (saved / MODEL_FILE).unlink()
    _one_line_error(saved, "model.skops is missing")
