"""Serving a translator with FastAPI's TestClient: /v1/translate, limits, errors, the page,
and each model kind refusing the other kind's endpoints."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import make_corpus
from fastapi.testclient import TestClient

from sentirnn import __version__
from sentirnn.cli import app as cli
from sentirnn.errors import ConfigError
from sentirnn.serve.app import ENV, app_from_env, create_app
from sentirnn.serve.translate import MAX_BEAM

LIMITS = dict(max_texts=4, max_chars=60, max_body_bytes=2000)
NUMBERS = {"one": "一", "two": "二", "three": "三", "four": "四", "five": "五", "six": "六"}
THINGS = {"cats": "猫", "dogs": "狗", "books": "书", "apples": "苹果", "birds": "鸟"}


def tiny_translator(path):
    """A translator that learns "i see two cats ." → "我看见二只猫。" in a few seconds."""
    from sentirnn.estimators.translator import Translator

    pairs = [(a, b) for a in NUMBERS for b in THINGS]
    src = [f"i see {a} {b} ." for a, b in pairs]
    tgt = [f"我看见{NUMBERS[a]}只{THINGS[b]}。" for a, b in pairs]
    model = Translator(embedding_dim=32, encoder_hidden=32, decoder_hidden=64, dropout=0.0,
                       label_smoothing=0.0, lr=1e-2, lr_decay=1.0, patience=0, max_epochs=60,
                       batch_size=16, monitor="loss", progress=False, num_threads=1)
    return model.fit(src, tgt, valid=(src, tgt)).save(path)


@pytest.fixture(scope="module")
def mt_dir(tmp_path_factory):
    return tiny_translator(tmp_path_factory.mktemp("serve-mt") / "en-zh")


@pytest.fixture(scope="module")
def client(mt_dir):
    with TestClient(create_app(mt_dir, num_threads=2, **LIMITS)) as c:
        yield c


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    from sentirnn.estimators.classifier import SentimentClassifier

    clf = SentimentClassifier(embedding_dim=8, hidden_size=8, max_epochs=1, batch_size=16,
                              progress=False, num_threads=1)
    return clf.fit(*make_corpus("en", 60)).save(tmp_path_factory.mktemp("serve-clf") / "clf")


def test_translate_matches_the_library(client, mt_dir):
    import sentirnn

    texts = ["i see two cats .", "i see five birds .", "i see one dog ."]
    answer = client.post("/v1/translate", json={"texts": texts})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    translator = sentirnn.load(mt_dir)
    assert body["translations"] == translator.translate(texts)
    assert body["translations"][0] == "我看见二只猫。"
    assert body["alignments"] is None
    assert body["beam"] == translator.beam and body["model"] == mt_dir.name
    greedy = client.post("/v1/translate", json={"texts": texts, "beam": 1}).json()
    assert greedy["beam"] == 1 and greedy["translations"] == translator.translate(texts, beam=1)


def test_attention_is_what_the_library_returns(client, mt_dir):
    import sentirnn

    texts = ["i see two cats .", "i see three books ."]
    body = client.post("/v1/translate", json={"texts": texts, "beam": 2,
                                              "attention": True}).json()
    expected = sentirnn.load(mt_dir).translate_with_attention(texts, beam=2)
    assert body["translations"] == [r["translation"] for r in expected]
    assert body["alignments"][0]["source_tokens"] == ["i", "see", "two", "cats", "."]
    for got, want in zip(body["alignments"], expected):
        assert got["source_tokens"] == want["source_tokens"]
        assert got["output_tokens"] == want["output_tokens"]
        assert got["output_tokens"][-1] == "</s>"
        weights = np.asarray(got["attention"])
        assert weights.shape == (len(got["output_tokens"]), len(got["source_tokens"]))
        np.testing.assert_allclose(weights, want["attention"], atol=1e-4)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=2e-3)


@pytest.mark.parametrize("attention", [False, True])
def test_an_empty_text_gets_an_empty_translation(client, attention):
    texts = ["", "i see two cats .", "   "]
    body = client.post("/v1/translate", json={"texts": texts, "attention": attention}).json()
    assert body["translations"][0] == body["translations"][2] == ""
    assert body["translations"][1] == "我看见二只猫。"
    if attention:
        assert body["alignments"][0] == {"source_tokens": [], "output_tokens": [],
                                         "attention": []}
    assert client.post("/v1/translate", json={"texts": []}).json()["translations"] == []


def test_limits_are_the_prediction_limits(client):
    answer = client.post("/v1/translate", json={"texts": ["i see two cats ."] * 5})
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    assert "5 texts" in detail and "limit is 4" in detail and "max_texts" in detail
    answer = client.post("/v1/translate", json={"texts": ["ok", "a" * 61]})
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    assert "texts[1]" in detail and "61 characters" in detail and "limit is 60" in detail
    body = json.dumps({"texts": ["x" * 50] * 50}).encode()
    answer = client.post("/v1/translate", content=body,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "limit is 2000 bytes" in answer.json()["detail"]


@pytest.mark.parametrize("payload", [{}, {"texts": "one string"}, {"texts": [1]},
                                     {"texts": ["ok"], "extra": 1}, {"texts": ["ok"], "beam": 0},
                                     {"texts": ["ok"], "beam": MAX_BEAM + 1},
                                     {"texts": ["ok"], "attention": "maybe"}])
def test_translate_validation(client, payload):
    answer = client.post("/v1/translate", json=payload)
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], list)


@pytest.mark.parametrize("path,payload", [("/v1/predict", {"texts": ["good"]}),
                                          ("/v1/explain", {"text": "good"})])
def test_a_translator_does_not_classify(client, path, payload):
    answer = client.post(path, json=payload)
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "translates" in detail and "/v1/translate" in detail


def test_a_classifier_does_not_translate(classifier_dir):
    with TestClient(create_app(classifier_dir)) as c:
        answer = c.post("/v1/translate", json={"texts": ["i see two cats ."]})
        assert answer.status_code == 404
        detail = answer.json()["detail"]
        assert "does not translate" in detail and "/v1/predict" in detail
        info = c.get("/v1/model").json()
        assert info["kind"] == "classifier"
        assert "/v1/translate" not in c.get("/openapi.json").json()["paths"]
        assert 'id="classify"' in c.get("/").text


def test_model_info_says_it_translates(client, mt_dir):
    info = client.get("/v1/model").json()
    assert info["kind"] == "translator"
    assert (info["source_language"], info["target_language"]) == ("en", "zh")
    assert info["beam"] == 5 and info["backend"] == "torch" and info["threads"] == 2
    assert info["architecture"]["attention"] == "bahdanau"
    assert info["params"]["embedding_dim"] == 32
    assert info["metrics"] is not None and "history" in info["metrics"]
    assert info["limits"] == {**LIMITS, "max_beam": MAX_BEAM}
    assert info["sentirnn_version"] == __version__ and info["model"] == mt_dir.name
    assert client.get("/healthz").json() == {"status": "ok"}


def test_page_and_docs(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element in ('id="source"', 'id="translate"', 'id="beam"', 'id="translation"',
                    'id="heatmap"', "/static/translate.js"):
        assert element in page.text
    assert 'id="classify"' not in page.text
    script = client.get("/static/translate.js")
    assert script.status_code == 200 and "/v1/translate" in script.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from another host
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/translate", "/v1/model", "/healthz"} <= set(paths)
    assert "/v1/predict" not in paths and "/v1/explain" not in paths
    assert client.get("/docs").status_code == 200


def test_onnx_backend_is_refused_for_a_translator(mt_dir):
    with pytest.raises(ConfigError, match="translation model.*torch"):
        create_app(mt_dir, backend="onnx")


def test_app_from_env_serves_a_translator(mt_dir, monkeypatch):
    monkeypatch.setenv(ENV["model_dir"], str(mt_dir))
    monkeypatch.setenv(ENV["max_texts"], "1")
    monkeypatch.setenv(ENV["num_threads"], "1")
    with TestClient(app_from_env()) as c:
        assert c.get("/v1/model").json()["limits"]["max_texts"] == 1
        assert c.post("/v1/translate", json={"texts": ["a", "b"]}).status_code == 413
        assert c.post("/v1/translate", json={"texts": ["i see two cats ."]}).json()[
            "translations"] == ["我看见二只猫。"]


def test_cli_serve_takes_a_translator(mt_dir, monkeypatch, capsys):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.setdefault("app", app))
    monkeypatch.setattr(sys, "argv", ["sentirnn", "serve", str(mt_dir), "--threads", "1"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    with TestClient(served["app"]) as c:
        assert c.get("/v1/model").json()["kind"] == "translator"
