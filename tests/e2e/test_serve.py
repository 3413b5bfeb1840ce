"""The HTTP app end to end with FastAPI's TestClient: every endpoint, limits, errors."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from conftest import make_corpus
from fastapi.testclient import TestClient

from sentirnn import __version__
from sentirnn.cli import app as cli
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.serve.app import ENV, app_from_env, create_app

LIMITS = dict(max_texts=8, max_chars=200, max_body_bytes=4000)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from sentirnn.estimators.classifier import SentimentClassifier

    clf = SentimentClassifier(embedding_dim=16, hidden_size=16, max_epochs=4, batch_size=16,
                              lr=1e-2, min_freq=1, progress=False, num_threads=1)
    clf.fit(*make_corpus("en", 200))
    return clf.save(tmp_path_factory.mktemp("serve") / "tiny")


@pytest.fixture(scope="module")
def client(model_dir):
    with TestClient(create_app(model_dir, **LIMITS)) as c:
        yield c


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_predict_shape_and_probabilities(client, model_dir):
    texts = ["great excellent food", "awful terrible service", "zzz unknown qqq"]
    answer = client.post("/v1/predict", json={"texts": texts})
    assert answer.status_code == 200
    body = answer.json()
    assert body["model"] == model_dir.name
    assert len(body["predictions"]) == len(texts)
    for p in body["predictions"]:
        assert set(p["probabilities"]) == {"negative", "positive"}
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)
    assert body["predictions"][0]["label"] == "positive"
    assert body["predictions"][1]["label"] == "negative"


def test_predict_matches_the_library(client, model_dir):
    from sentirnn.estimators.classifier import load

    texts = ["good plot", "boring movie and cold food"]
    expected = load(model_dir).predict_proba(texts)
    got = client.post("/v1/predict", json={"texts": texts}).json()["predictions"]
    got = np.array([[p["probabilities"][c] for c in ("negative", "positive")] for p in got])
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_predict_empty_list(client):
    assert client.post("/v1/predict", json={"texts": []}).json()["predictions"] == []


@pytest.mark.parametrize("payload", [{}, {"texts": "one string"}, {"texts": [1, 2]},
                                     {"texts": ["ok"], "extra": 1}, {"text": ["ok"]}])
def test_predict_validation(client, payload):
    answer = client.post("/v1/predict", json=payload)
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], list)


def test_too_many_texts(client):
    answer = client.post("/v1/predict", json={"texts": ["good"] * 9})
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    assert "9 texts" in detail and "limit is 8" in detail and "max_texts" in detail


def test_too_long_text(client):
    answer = client.post("/v1/predict", json={"texts": ["good", "a" * 201]})
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    assert "texts[1]" in detail and "201 characters" in detail and "limit is 200" in detail


def test_too_large_body_by_content_length(client):
    body = json.dumps({"texts": ["x" * 150] * 30}).encode()  # > 4000 bytes
    answer = client.post("/v1/predict", content=body,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert f"{len(body)} bytes" in answer.json()["detail"]
    assert "limit is 4000 bytes" in answer.json()["detail"]


def test_too_large_body_without_content_length(client):
    # A chunked body declares no length: the middleware must count what arrives.
    def chunks():
        yield b'{"texts": ['
        for _ in range(60):
            yield b'"' + b"y" * 100 + b'",'
        yield b'"z"]}'

    answer = client.post("/v1/predict", content=chunks(),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert "more than 4000 bytes" in answer.json()["detail"]


def test_body_under_the_limit_passes(client):
    answer = client.post("/v1/predict", json={"texts": ["good " * 30] * 8})  # ~1.3 kB
    assert answer.status_code == 200


def test_malformed_json(client):
    answer = client.post("/v1/predict", content=b'{"texts": ["good",',
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"


def test_model_info(client, model_dir):
    info = client.get("/v1/model").json()
    assert info["labels"] == ["negative", "positive"]
    assert info["architecture"]["cell"] == "lstm"
    assert info["architecture"]["hidden_size"] == 16
    assert info["params"]["embedding_dim"] == 16
    assert info["metrics"] is not None and "accuracy" in info["metrics"]
    assert info["sentirnn_version"] == __version__
    assert info["backend"] == "torch"
    assert info["model"] == model_dir.name
    assert info["limits"] == LIMITS
    assert info["threads"] >= 1


def test_explain(client):
    answer = client.post("/v1/explain", json={"text": "the food was great"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {"text", "tokens", "scores", "label", "probabilities", "attention",
            "method"} <= set(body)
    assert body["text"] == "the food was great"
    assert len(body["tokens"]) == len(body["scores"]) > 0
    assert body["label"] in ("negative", "positive")


def test_explain_limits_and_validation(client):
    assert client.post("/v1/explain", json={"text": "a" * 201}).status_code == 413
    assert "text has 201 characters" in client.post(
        "/v1/explain", json={"text": "a" * 201}).json()["detail"]
    assert client.post("/v1/explain", json={"texts": ["a"]}).status_code == 422


@pytest.mark.filterwarnings("ignore:Converting a tensor:Warning")  # torch.onnx tracing noise
def test_onnx_backend(model_dir, tmp_path):
    from sentirnn.estimators.classifier import load
    from sentirnn.export.onnx import export_onnx

    copy = shutil.copytree(model_dir, tmp_path / "tiny")
    export_onnx(copy)
    texts = ["great food", "awful cold service"]
    expected = load(copy).predict_proba(texts)
    with TestClient(create_app(copy, backend="onnx", num_threads=1)) as c:
        got = c.post("/v1/predict", json={"texts": texts}).json()["predictions"]
        assert c.get("/v1/model").json()["backend"] == "onnx"
        answer = c.post("/v1/explain", json={"text": "good"})  # ONNX predicts, cannot explain
        assert answer.status_code == 501 and "cannot explain" in answer.json()["detail"]
        assert c.post("/v1/predict", json={"texts": ["good"]}).status_code == 200
    got = np.array([[p["probabilities"][k] for k in ("negative", "positive")] for p in got])
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_index_page(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for element in ('id="text"', 'id="classify"', 'id="label"', 'id="bars"', 'id="tokens"',
                    'id="batch"', 'id="batch-run"', 'id="batch-results"'):
        assert element in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "/v1/predict" in script.text
    assert client.get("/static/app.css").status_code == 200


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/explain", "/v1/model", "/healthz"} <= set(paths)


@pytest.mark.parametrize("make_bad", ["missing", "empty", "not_a_model"])
def test_bad_model_dir_fails_at_create_app(tmp_path, make_bad):
    path = tmp_path / "model"
    if make_bad != "missing":
        path.mkdir()
    if make_bad == "not_a_model":
        (path / "config.json").write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ArtifactError):
        create_app(path)


def test_damaged_weights_fail_at_create_app(model_dir, tmp_path):
    copy = shutil.copytree(model_dir, tmp_path / "tiny")
    (copy / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ArtifactError, match="checksum"):
        create_app(copy)


def test_bad_options(model_dir):
    with pytest.raises(ConfigError, match="backend"):
        create_app(model_dir, backend="tensorflow")
    with pytest.raises(ConfigError, match="max_texts"):
        create_app(model_dir, max_texts=0)


def test_app_from_env(model_dir, monkeypatch):
    monkeypatch.delenv(ENV["model_dir"], raising=False)
    with pytest.raises(ConfigError, match=ENV["model_dir"]):
        app_from_env()
    monkeypatch.setenv(ENV["model_dir"], str(model_dir))
    monkeypatch.setenv(ENV["max_texts"], "2")
    with TestClient(app_from_env()) as c:
        assert c.get("/v1/model").json()["limits"]["max_texts"] == 2
        assert c.post("/v1/predict", json={"texts": ["a", "b", "c"]}).status_code == 413
    monkeypatch.setenv(ENV["max_chars"], "many")
    with pytest.raises(ConfigError, match=ENV["max_chars"]):
        app_from_env()


def test_cli_serve_bad_model_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sentirnn", "serve", str(tmp_path / "nope")])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "nope" in err


def test_the_app_scores_with_the_threads_it_is_given(model_dir):
    from sentirnn.estimators.classifier import load

    texts = make_corpus("en", 40, seed=9)[0]
    want = load(model_dir).set_threads(1).predict_proba(texts)
    for threads in (1, 3):
        with TestClient(create_app(model_dir, num_threads=threads)) as c:
            assert c.get("/v1/model").json()["threads"] == threads
            got = c.post("/v1/predict", json={"texts": texts}).json()["predictions"]
        got = np.array([[p["probabilities"][k] for k in ("negative", "positive")] for p in got])
        # to float32 rounding: 3 workers split the request into other batch shapes
        np.testing.assert_allclose(got, want.astype(float), rtol=0, atol=1e-6)
        assert (got.argmax(1) == want.argmax(1)).all()
    with pytest.raises(ConfigError, match="num_threads"):
        create_app(model_dir, num_threads=0)


@pytest.mark.parametrize("flag", ["--threads", "--num-threads"])
def test_cli_serve_threads_reach_the_app(model_dir, monkeypatch, capsys, flag):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.setdefault("app", app))
    monkeypatch.setattr(sys, "argv", ["sentirnn", "serve", str(model_dir), flag, "2"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    with TestClient(served["app"]) as c:
        assert c.get("/v1/model").json()["threads"] == 2
    assert "× 2 thread(s)" in capsys.readouterr().err


def test_cli_serve_refuses_both_thread_flags(model_dir, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sentirnn", "serve", str(model_dir), "--threads", "1",
                                      "--num-threads", "1"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1 and "\n" not in err and "old name of --threads" in err


def test_app_from_env_reads_the_threads(model_dir, monkeypatch):
    monkeypatch.setenv(ENV["model_dir"], str(model_dir))
    monkeypatch.setenv(ENV["num_threads"], "1")
    with TestClient(app_from_env()) as c:
        assert c.get("/v1/model").json()["threads"] == 1


def test_serving_threads_share_the_cores(monkeypatch):
    from sentirnn.serve.app import serving_threads

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert serving_threads(1, "onnx-int8") == 8 and serving_threads(1, "torch") == 8
    assert serving_threads(4, "torch") == 2 and serving_threads(4, "onnx") == 2
    assert serving_threads(16, "torch") == 1 and serving_threads(16, "onnx") == 1
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert serving_threads(1, "torch") == 2
