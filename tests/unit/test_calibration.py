"""Temperature scaling: T is recovered, ECE drops, labels never change, T survives save/load
and every backend applies it."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
from conftest import FAST, make_corpus

from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.estimators.classifier import SentimentClassifier
from sentirnn.inference.calibration import (
    expected_calibration_error,
    fit_temperature,
    nll,
    plot_reliability,
    temperature_from_config,
)
from sentirnn.inference.postprocess import softmax
from sentirnn.metrics import evaluate_labels


def synthetic(n=3000, classes=3, seed=0):
    """Logits whose softmax is exactly the label distribution (a calibrated model)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, classes)) * 2  # (n, C)
    p = softmax(z)
    y = np.array([rng.choice(classes, p=row) for row in p])
    return z, y


@pytest.mark.parametrize("true_t", [0.5, 3.0])
def test_fit_temperature_recovers_a_known_temperature(true_t):
    z, y = synthetic()
    # z is calibrated, so z / true_t needs T = 1 / true_t to become calibrated again
    assert fit_temperature(z / true_t, y) == pytest.approx(1 / true_t, rel=0.1)


def test_fit_temperature_leaves_a_calibrated_model_nearly_alone():
    z, y = synthetic(seed=1)
    assert fit_temperature(z, y) == pytest.approx(1.0, abs=0.1)


def test_scaling_lowers_ece_and_nll_of_overconfident_logits_without_changing_labels():
    z, y = synthetic(seed=2)
    t = fit_temperature(z * 5, y)
    before, after = softmax(z * 5), softmax(z * 5 / t)
    assert expected_calibration_error(after, y) < 0.5 * expected_calibration_error(before, y)
    assert nll(z * 5, y, t) < nll(z * 5, y)
    assert (before.argmax(1) == after.argmax(1)).all()


def test_expected_calibration_error_by_hand():
    y = np.array([0, 1, 0, 1])
    assert expected_calibration_error(np.eye(2)[y], y) == pytest.approx(0.0)
    always_sure = np.array([[1.0, 0.0]] * 4)  # confidence 1, right half of the time
    assert expected_calibration_error(always_sure, y) == pytest.approx(0.5)
    honest = np.array([[0.5, 0.5]] * 4)
    assert expected_calibration_error(honest, y) == pytest.approx(0.0)


def test_plot_reliability_writes_a_png(tmp_path):
    z, y = synthetic(n=300)
    plot_reliability(softmax(z * 4), softmax(z), y, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_temperature_from_config():
    assert temperature_from_config({}, "m") == 1.0
    assert temperature_from_config({"calibration": {"temperature": 2.5}}, "m") == 2.5
    for bad in (0, -1.0, float("nan"), "2", None):
        with pytest.raises(ArtifactError, match="calibration temperature"):
            temperature_from_config({"calibration": {"temperature": bad}}, "m")


def test_report_has_calibration_only_when_given():
    report = evaluate_labels(["a", "b"], ["a", "a"], ["a", "b"])
    assert "calibration" not in report.to_dict()  # old metrics.json shape
    report.calibration = {"temperature": 2.0, "ece_before": 0.2, "ece_after": 0.05, "bins": 15}
    assert report.to_dict()["calibration"]["ece_after"] == 0.05
    assert "temperature 2.000" in str(report)


def test_calibrate_needs_validation_data():
    texts, labels = make_corpus("en", 40)
    with pytest.raises(ConfigError, match="valid_fraction"):
        SentimentClassifier(**FAST, calibrate=True, valid_fraction=0.0).fit(texts, labels)


# ---- a deliberately over-confident model: trained without dropout on 20% flipped labels --
def flip(labels, rate, seed):
    rng = random.Random(seed)
    other = {"negative": "positive", "positive": "negative"}
    return [other[y] if rng.random() < rate else y for y in labels]


@pytest.fixture(scope="module")
def noisy():
    texts, labels = make_corpus("en", 240, seed=1)
    valid_texts, valid_labels = make_corpus("en", 200, seed=5)
    # the recipe was set with 14 batches of 16 an epoch: min_steps=0 keeps them; a mean of
    # epochs is less over-confident than any one of them, so averaging is off
    params = dict(FAST, max_epochs=8, patience=0, dropout=0.0, embedding_dropout=0.0,
                  min_steps=0, average_epochs="off")
    valid = (valid_texts, flip(valid_labels, 0.2, 1))
    clf = SentimentClassifier(**params, calibrate=True).fit(texts, flip(labels, 0.2, 0),
                                                            valid=valid)
    return clf, valid


@pytest.fixture(scope="module")
def saved(noisy, tmp_path_factory):
    path = tmp_path_factory.mktemp("calibrated") / "model"
    noisy[0].save(path)
    return path


def test_calibration_lowers_ece_on_an_overconfident_model(noisy):
    clf, (texts, labels) = noisy
    c = clf.calibration_
    assert clf.temperature_ > 1.0  # over-confident: probabilities must be softened
    assert c["temperature"] == clf.temperature_ and c["n"] == len(texts)
    assert c["ece_after"] < c["ece_before"] and c["nll_after"] < c["nll_before"]
    assert clf.report_.calibration["ece_after"] == pytest.approx(c["ece_after"])


def test_calibration_never_changes_labels(noisy):
    clf, (texts, _) = noisy
    probe = texts + make_corpus("en", 100, seed=9)[0] + ["", "great", "awful"]
    logits = clf._logits(clf._encode(probe))  # (n, C)
    probs = clf.predict_proba(probe)
    np.testing.assert_allclose(probs, softmax(logits / clf.temperature_), atol=1e-6)
    assert (probs.argmax(1) == logits.argmax(1)).all()
    assert clf.predict(probe) == [clf.classes_[i] for i in logits.argmax(1)]


def test_save_load_keeps_temperature_and_probabilities(noisy, saved):
    clf, (texts, labels) = noisy
    config = json.loads((saved / "config.json").read_text(encoding="utf-8"))
    assert config["calibration"]["temperature"] == pytest.approx(clf.temperature_)
    assert config["params"]["calibrate"] is True
    metrics = json.loads((saved / "metrics.json").read_text(encoding="utf-8"))
    assert {"ece_before", "ece_after", "temperature"} <= set(metrics["calibration"])
    assert (saved / "reliability.png").exists()
    loaded = SentimentClassifier.load(saved)
    assert loaded.temperature_ == pytest.approx(clf.temperature_)
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert loaded.evaluate(texts, labels).calibration["temperature"] == loaded.temperature_


def test_a_directory_without_calibration_loads_with_temperature_one(saved, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(saved, old)
    config = json.loads((old / "config.json").read_text(encoding="utf-8"))
    del config["calibration"]
    del config["config_sha256"], config["files"]  # as directories of that time were written
    (old / "config.json").write_text(json.dumps(config), encoding="utf-8")
    clf = SentimentClassifier.load(old)
    assert clf.temperature_ == 1.0 and clf.calibration_ is None
    texts = make_corpus("en", 20, seed=3)[0]
    np.testing.assert_allclose(clf.predict_proba(texts),
                               softmax(clf._logits(clf._encode(texts))), atol=1e-6)
    assert clf.evaluate(texts, clf.predict(texts)).calibration is None


def test_refit_without_calibrate_resets_the_temperature(noisy):
    clf, _ = noisy
    texts, labels = make_corpus("en", 60, seed=4)
    fresh = SentimentClassifier(**dict(FAST, max_epochs=1))
    fresh.temperature_, fresh.calibration_ = 3.0, {"temperature": 3.0}  # as if calibrated
    fresh.fit(texts, labels)
    assert fresh.temperature_ == 1.0 and fresh.calibration_ is None


def test_onnx_backend_applies_the_same_temperature(noisy, saved, tmp_path):
    from sentirnn.export.onnx import OnnxClassifier, export_onnx

    clf, (texts, labels) = noisy
    path = tmp_path / "model"
    shutil.copytree(saved, path)
    export_onnx(path)
    onnx = OnnxClassifier.load(path, num_threads=1)
    assert onnx.temperature_ == pytest.approx(clf.temperature_)
    np.testing.assert_allclose(onnx.predict_proba(texts), clf.predict_proba(texts), atol=1e-4)
    assert onnx.predict(texts) == clf.predict(texts)
    report = onnx.evaluate(texts, labels)
    assert report.calibration["ece_after"] == pytest.approx(
        clf.evaluate(texts, labels).calibration["ece_after"], abs=1e-3)
