"""The OpenVINO backend: the exported model.onnx through OpenVINO agrees with PyTorch and
onnxruntime, needs no torch, and is reachable from predict, evaluate, serve and 'auto'."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from conftest import assert_runs_without_torch, make_corpus
from fastapi.testclient import TestClient
from test_export import TINY, varied_texts
from typer.testing import CliRunner

from sentirnn.cli.app import app
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.estimators.classifier import SentimentClassifier
from sentirnn.export import backends
from sentirnn.export.onnx import OnnxClassifier, export_onnx
from sentirnn.export.openvino_predictor import OpenVinoClassifier, has_native_bf16
from sentirnn.serve.app import create_app

# fp32 OpenVINO against eager PyTorch: the same graph, other kernels (~1e-6 in practice)
ATOL = 1e-4
NATIVE_BF16 = has_native_bf16()


@pytest.fixture(scope="module", params=["bilstm", "bigru-attention"])
def exported(request, tmp_path_factory):
    """A tiny trained model directory per recurrent cell, exported (fp32 and int8) once."""
    arch, _, pooling = request.param.partition("-")
    clf = SentimentClassifier(arch=arch, pooling=pooling or "maxmean", **TINY)
    clf.fit(*make_corpus("en", 200))
    path = tmp_path_factory.mktemp("openvino") / request.param
    clf.save(path)
    export_onnx(path, int8=True)
    return path, clf


def test_fp32_matches_torch_and_onnxruntime(exported):
    path, clf = exported
    texts = varied_texts()  # empty, unknown words, one word, long, truncated
    vino = OpenVinoClassifier.load(path, num_threads=2, batch_size=8)
    assert vino.classes_ == clf.classes_ and vino.precision_ == "fp32"
    want, got = clf.predict_proba(texts), vino.predict_proba(texts)
    ort = OnnxClassifier.load(path, num_threads=1).predict_proba(texts)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < ATOL
    assert np.abs(got - ort).max() < ATOL
    assert vino.predict(texts) == clf.predict(texts)
    assert vino.classify("great", top_k=2) == [
        {"label": r["label"], "score": pytest.approx(r["score"], abs=ATOL)}
        for r in clf.classify("great", top_k=2)]


def test_a_text_alone_scores_as_in_a_padded_batch(exported):
    path, _ = exported
    texts = varied_texts()
    vino = OpenVinoClassifier.load(path, num_threads=1, batch_size=64)
    batch = vino.predict_proba(texts)
    alone = np.concatenate([vino.predict_proba([text]) for text in texts])
    np.testing.assert_allclose(alone, batch, atol=1e-6)


def test_evaluate_and_threads(exported):
    path, clf = exported
    texts, labels = make_corpus("en", 120, seed=11)
    vino = OpenVinoClassifier.load(path, num_threads=2, batch_size=8)
    assert vino.evaluate(texts, labels).accuracy == clf.evaluate(texts, labels).accuracy
    want = vino.predict_proba(texts)
    assert vino.set_threads(1).workers_ == 1
    np.testing.assert_allclose(vino.predict_proba(texts), want, atol=1e-6)
    with pytest.raises(ConfigError, match=r"OpenVinoClassifier.load\(\.\.\., num_threads=3\)"):
        vino.set_threads(3)


@pytest.mark.skipif(not NATIVE_BF16, reason="bf16 needs AMX or AVX512-BF16")
def test_bf16_labels_agree_with_torch(exported):
    path, clf = exported
    texts, _ = make_corpus("en", 200, seed=11)
    bf16 = OpenVinoClassifier.load(path, precision="bf16", num_threads=1)
    got, want = bf16.predict_proba(texts), clf.predict_proba(texts)
    assert np.abs(got - want).max() < 0.02
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.99


def test_bad_precision_and_missing_export(exported, tmp_path):
    path, _ = exported
    with pytest.raises(ConfigError, match="'precision' parameter of OpenVinoClassifier.load"):
        OpenVinoClassifier.load(path, precision="int4")
    copy = shutil.copytree(path, tmp_path / "copy")
    for name in ("model.onnx", "model.int8.onnx", "export.json"):
        (copy / name).unlink()
    with pytest.raises(ArtifactError, match=r"run 'sentirnn export .*' first"):
        OpenVinoClassifier.load(copy)


def test_missing_openvino_says_what_to_install(exported, monkeypatch):
    path, _ = exported
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino → ImportError
    with pytest.raises(ImportError, match="pip install openvino"):
        OpenVinoClassifier.load(path)


@pytest.mark.slow
def test_openvino_classifier_does_not_import_torch(exported):
    path, _ = exported
    code = ("from sentirnn.export.backends import load_classifier\n"
            f"clf = load_classifier({str(path)!r}, 'openvino')\n"
            "print(clf.predict(['great movie', '']))\n"
            "clf.evaluate(['great movie'], [clf.classes_[0]])\n")
    assert_runs_without_torch(code)


def test_cli_predict_and_evaluate_with_openvino(exported, tmp_path):
    path, clf = exported
    runner = CliRunner()
    result = runner.invoke(app, ["predict", str(path), "--backend", "openvino", "--threads", "2",
                                 "great food", "awful service"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["label"] for r in rows] == clf.predict(["great food", "awful service"])
    texts, labels = make_corpus("en", 60, seed=3)
    data = tmp_path / "test.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)),
                    encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(path), str(data), "--backend", "openvino",
                                 "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["accuracy"] == clf.evaluate(texts, labels).accuracy


def test_auto_takes_the_fastest_backend_this_directory_allows(exported, tmp_path, monkeypatch):
    path, _ = exported
    fastest = "openvino-bf16" if NATIVE_BF16 else "onnx-int8"
    assert backends.resolve(path, "auto") == fastest
    assert backends.resolve(tmp_path, "auto") == "torch"  # nothing exported (nothing at all)
    real = backends.importlib.util.find_spec
    monkeypatch.setattr(backends.importlib.util, "find_spec",
                        lambda name: None if name == "openvino" else real(name))
    assert backends.resolve(path, "auto") == "onnx-int8"  # OpenVINO not installed
    with pytest.raises(ConfigError, match="--backend must be one of"):
        backends.resolve(path, "tensorflow")


def test_serve_with_openvino_and_auto(exported):
    path, clf = exported
    texts = ["great food", "awful cold service"]
    want = clf.predict_proba(texts)
    for backend in ("openvino", "auto"):
        with TestClient(create_app(path, backend=backend, num_threads=1)) as c:
            info = c.get("/v1/model").json()
            assert info["backend"] == (backends.resolve(path, "auto") if backend == "auto"
                                       else backend)
            got = c.post("/v1/predict", json={"texts": texts}).json()["predictions"]
            answer = c.post("/v1/explain", json={"text": "good"})
            assert answer.status_code == 501 and "cannot explain" in answer.json()["detail"]
        got = np.array([[p["probabilities"][k] for k in clf.classes_] for p in got])
        np.testing.assert_allclose(got, want, atol=ATOL if backend == "openvino" else 0.02)


@pytest.mark.parametrize("arch", ["textcnn", "clstm", "rcnn", "rnn"])
def test_other_architectures_match_torch(arch, tmp_path):
    """Convolutions before or around the recurrent layer (or none) read the zeros the
    rewritten recurrent ops leave on padding, as PyTorch's do."""
    texts, labels = make_corpus("en", 120, seed=4)
    clf = SentimentClassifier(arch=arch, **{**TINY, "max_epochs": 1}).fit(texts, labels)
    clf.save(tmp_path / "m")
    export_onnx(tmp_path / "m")
    probe = ["great", "", texts[0], " ".join(texts[:30])] + texts[:20]
    got = OpenVinoClassifier.load(tmp_path / "m", num_threads=1).predict_proba(probe)
    np.testing.assert_allclose(got, clf.predict_proba(probe), atol=ATOL)
