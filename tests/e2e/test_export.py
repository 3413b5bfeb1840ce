"""Export: ONNX fp32 and int8 agree with PyTorch; the ONNX predictor never imports torch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import assert_runs_without_torch, make_corpus
from typer.testing import CliRunner

from sentirnn.cli.app import app
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.estimators.classifier import SentimentClassifier
from sentirnn.export.onnx import OnnxClassifier, export_onnx

TINY = dict(embedding_dim=16, hidden_size=16, max_epochs=4, batch_size=16, lr=1e-2,
            min_freq=1, progress=False, num_threads=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny trained model directory, exported to fp32 and int8 once for the module."""
    texts, labels = make_corpus("en", 200)
    clf = SentimentClassifier(**TINY).fit(texts, labels)
    path = tmp_path_factory.mktemp("export") / "model"
    clf.save(path)
    written = export_onnx(path, int8=True)
    return path, clf, written


def varied_texts() -> list[str]:
    """One padded batch of very different lengths: empty, one word, short, long, truncated."""
    texts, _ = make_corpus("en", 150, seed=7)
    long = " ".join(texts[:60])  # a few hundred tokens
    return texts + ["", "great", "bad", "the", "!!!", long, long + " " + long + " " + long,
                    "zzz unknownword qqq"]


def test_export_writes_files_with_checksums(exported):
    path, _, written = exported
    assert [p.name for p in written] == ["model.onnx", "model.int8.onnx", "export.json"]
    record = json.loads((path / "export.json").read_text(encoding="utf-8"))
    assert set(record["files"]) == {"model.onnx", "model.int8.onnx"}
    assert record["files"]["model.onnx"]["max_abs_diff"] <= 1e-4
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert "model.onnx" not in config["checksums"]  # config.json is never rewritten
    assert record["weights_sha256"] == config["checksums"]["model.safetensors"]


def test_fp32_matches_torch_on_a_padded_batch(exported):
    path, clf, _ = exported
    texts = varied_texts()
    onnx = OnnxClassifier.load(path)
    assert onnx.classes_ == clf.classes_
    want, got = clf.predict_proba(texts), onnx.predict_proba(texts)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-4
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.995
    assert onnx.predict(texts[:3]) == clf.predict(texts[:3])
    assert onnx.classify("great", top_k=2)[0]["label"] == clf.classify("great", top_k=2)[0]["label"]


@pytest.mark.parametrize("int8", [False, True])
def test_calls_side_by_side_answer_exactly_like_one_at_a_time(exported, int8):
    path, _, _ = exported
    texts = varied_texts() * 3  # several chunks and batches of the pipeline
    one = OnnxClassifier.load(path, int8=int8, num_threads=1, batch_size=8)
    three = OnnxClassifier.load(path, int8=int8, num_threads=3, batch_size=8)
    assert one.workers_ == 1 and three.workers_ == 3
    assert len({id(s) for s in three.sessions_}) == 3  # a session of its own per worker
    got, want = three.predict_proba(texts), one.predict_proba(texts)
    if not int8:
        np.testing.assert_allclose(got, want, atol=1e-6)
        assert three.predict(texts) == one.predict(texts)
    else:  # dynamic int8 scales each batch's inputs by that batch's range: close, not equal
        assert np.abs(got - want).max() < 0.02
        assert (got.argmax(1) == want.argmax(1)).mean() >= 0.98


def test_more_calling_threads_than_sessions_wait_for_a_free_one(exported, monkeypatch):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from sentirnn.export import onnx_predictor
    from sentirnn.export.onnx import parity_batch

    path, _, _ = exported
    lock, active, peak, used = threading.Lock(), {}, {}, set()

    class Counting:  # a session that records how many calls it serves at once
        def __init__(self, session):
            self.session = session

        def run(self, *args):
            with lock:
                active[id(self)] = active.get(id(self), 0) + 1
                peak[id(self)] = max(peak.get(id(self), 0), active[id(self)])
                used.add(id(self))
            time.sleep(0.01)  # long enough for the other threads to pile up
            try:
                return self.session.run(*args)
            finally:
                with lock:
                    active[id(self)] -= 1

    real = onnx_predictor.onnx_session
    monkeypatch.setattr(onnx_predictor, "onnx_session", lambda model: Counting(real(model)))
    clf = OnnxClassifier.load(path, num_threads=2, batch_size=4)
    ids, lengths = parity_batch(len(clf.vocab_), clf.max_len)
    want = clf._batch_logits(ids, lengths)
    with ThreadPoolExecutor(6) as pool:  # a server's request threads, say
        results = list(pool.map(lambda _: clf._batch_logits(ids, lengths), range(24)))
    for got in results:
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert max(peak.values()) == 1  # no session ever ran two calls at once
    assert len(used) == 2  # and both sessions did work
    # every session went back to the pool
    assert sorted(id(clf.idle_sessions_.get()) for _ in clf.sessions_) == \
        sorted(id(s) for s in clf.sessions_)


def test_int8_accuracy_close_to_torch(exported):
    path, clf, _ = exported
    # 400 texts: one flipped label is 0.25 points, so the 0.5-point limit allows at most
    # two net flips; on this task the int8 model has so far agreed with torch on every text.
    texts, labels = make_corpus("en", 400, seed=11)
    torch_acc = clf.evaluate(texts, labels).accuracy
    int8_acc = OnnxClassifier.load(path, int8=True).evaluate(texts, labels).accuracy
    assert abs(int8_acc - torch_acc) <= 0.005


@pytest.mark.slow
def test_onnx_classifier_does_not_import_torch(exported):
    path, _, _ = exported
    code = ("from sentirnn.export.onnx import OnnxClassifier\n"
            f"clf = OnnxClassifier.load({str(path)!r}, int8=True)\n"
            "print(clf.predict(['great movie', '']))\n"
            "clf.evaluate(['great movie'], [clf.classes_[0]])\n")
    assert_runs_without_torch(code, timeout=60)


def test_tampered_onnx_file_is_refused(exported, tmp_path):
    path, _, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        OnnxClassifier.load(copy)
    OnnxClassifier.load(copy, int8=True)  # the untouched int8 file still loads


def test_missing_export_says_what_to_run(exported, tmp_path):
    path, _, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    for name in ("model.onnx", "model.int8.onnx", "export.json"):
        (copy / name).unlink()
    with pytest.raises(ArtifactError, match=r"run 'sentirnn export .*' first"):
        OnnxClassifier.load(copy)


def test_reexport_without_int8_removes_the_stale_int8_file(exported, tmp_path):
    path, _, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    export_onnx(copy)
    assert not (copy / "model.int8.onnx").exists()
    with pytest.raises(ArtifactError, match="--int8"):
        OnnxClassifier.load(copy, int8=True)


def test_cli_export_then_predict_with_onnx(exported, tmp_path):
    path, clf, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(copy), "--int8"])
    assert result.exit_code == 0, result.output
    assert "model.int8.onnx" in result.output and "parity" in result.output
    for backend in ("onnx", "onnx-int8"):
        result = runner.invoke(app, ["predict", str(copy), "--backend", backend, "--threads",
                                     "2", "great food", "awful service"])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert [r["label"] for r in rows] == clf.predict(["great food", "awful service"])


@pytest.mark.slow
def test_character_model_with_bigrams_exports_with_parity(tmp_path):
    """The pair lookup (hash, slot table, second gather) is part of the ONNX graph."""
    texts, labels = make_corpus("zh", 200, seed=5)
    clf = SentimentClassifier(**TINY).fit(texts, labels)
    assert clf.model_config_.bigram_rows > 1
    clf.save(tmp_path / "zh")
    export_onnx(tmp_path / "zh", int8=True)
    probe = texts[:40] + ["", "好", "".join(texts[:30])]
    want = clf.predict_proba(probe)
    got = OnnxClassifier.load(tmp_path / "zh").predict_proba(probe)
    assert np.abs(got - want).max() < 1e-4
    int8 = OnnxClassifier.load(tmp_path / "zh", int8=True).predict_proba(probe)
    assert (int8.argmax(1) == want.argmax(1)).mean() >= 0.95


def test_set_threads_uses_the_sessions_loaded(exported):
    path, _, _ = exported
    texts = varied_texts()
    onnx = OnnxClassifier.load(path, num_threads=3, batch_size=8)
    want = onnx.predict_proba(texts)
    assert onnx.set_threads(1).workers_ == 1 and onnx.executor_ is None
    np.testing.assert_allclose(onnx.predict_proba(texts), want, atol=1e-6)
    assert onnx.set_threads(None).workers_ == 3
    with pytest.raises(ConfigError, match=r"num_threads=4"):
        onnx.set_threads(4)
    with pytest.raises(ConfigError, match=r"'num_threads' parameter of OnnxClassifier.load"):
        OnnxClassifier.load(path, num_threads=0)
