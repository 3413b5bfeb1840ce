"""Bad inputs end to end: each one is refused in one line, or read as the user meant.

One tiny model is trained once per module (in a real process, under umask 002, so its file
modes are those of a real run) and reused; the tests that must train again train for one
epoch on 60 rows. Ctrl-C is sent to a real process, everything else goes through the
console entry point in-process (``run_cli``), which is what turns errors into one line.
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from conftest import assert_one_line_error, make_corpus, run_cli, run_main

import sentirnn

TINY = ["--embedding-dim", "16", "--hidden-size", "16", "--min-freq", "1", "--no-progress",
        "--num-threads", "1"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
CLASSES = {"negative", "positive"}


def assert_error(code: int, err: str, *words: str) -> None:
    """One 'error:' line holding every word, exit code 1, no traceback."""
    for word in words:
        assert_one_line_error(code, err, word)


def write_corpus(path, n=120, seed=41):
    texts, labels = make_corpus("zh", n, seed=seed)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    write_corpus(root / "data.csv")
    write_corpus(root / "small.csv", n=60, seed=42)
    return root


@pytest.fixture(scope="module")
def trained(files):
    """(model directory, train's stderr) of one tiny `sentirnn train` run under umask 002."""
    out = files / "model"
    code, _, err = run_main("train", files / "data.csv", "--out", out, "--epochs", "2", *TINY,
                            umask=0o002)
    assert code == 0, err
    return out, err


@pytest.fixture(scope="module")
def model(trained):
    return trained[0]


def train(capsys, monkeypatch, data, out, *extra):
    """Train for one epoch in-process → (exit code, stdout, stderr)."""
    return run_cli(capsys, monkeypatch, "train", data, "--out", out, "--epochs", "1", *TINY,
                   *extra)


# ---- 1. --out protection ---------------------------------------------------------------------

def make_app_folder(path):
    (path / "src").mkdir(parents=True)
    (path / "config.json").write_text('{"name":"app"}', encoding="utf-8")
    (path / "src" / "app.py").write_text("print('app')\n", encoding="utf-8")
    return path


def test_out_refuses_a_foreign_folder_before_training(files, tmp_path, capsys, monkeypatch):
    app = make_app_folder(tmp_path / "app")
    code, _, err = train(capsys, monkeypatch, files / "small.csv", app)
    assert_error(code, err, str(app), "is not a sentirnn model directory", "--force")
    assert "rows kept" not in err  # refused before the data was even read
    assert sorted(p.name for p in app.rglob("*")) == ["app.py", "config.json", "src"]
    assert (app / "config.json").read_text(encoding="utf-8") == '{"name":"app"}'
    assert (app / "src" / "app.py").read_text(encoding="utf-8") == "print('app')\n"
    assert not (tmp_path / "runs").exists()


def test_out_force_writes_beside_the_folders_files(files, tmp_path, capsys, monkeypatch):
    app = make_app_folder(tmp_path / "app")
    # --force keeps the folder's files, so its own config.json is never overwritten
    code, _, err = train(capsys, monkeypatch, files / "small.csv", app, "--force")
    assert_error(code, err, str(app), "holds config.json", "would overwrite")
    assert (app / "config.json").read_text(encoding="utf-8") == '{"name":"app"}'
    (app / "config.json").rename(app / "app.json")
    code, _, err = train(capsys, monkeypatch, files / "small.csv", app, "--force")
    assert code == 0, err
    assert (app / "src" / "app.py").read_text(encoding="utf-8") == "print('app')\n"
    assert (app / "app.json").read_text(encoding="utf-8") == '{"name":"app"}'
    assert set(sentirnn.load(app).classes_) == CLASSES


def test_retraining_a_model_keeps_the_users_files(model, files, tmp_path, capsys, monkeypatch):
    out = shutil.copytree(model, tmp_path / "model")
    (out / "notes.txt").write_text("my notes", encoding="utf-8")
    before = sorted(p.name for p in out.iterdir())
    code, _, err = train(capsys, monkeypatch, files / "small.csv", out, "--hidden-size", "8")
    assert code == 0, err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "my notes"
    assert sorted(p.name for p in out.iterdir()) == before  # no leftover temporary files
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["model"]["hidden_size"] == 8  # the model files were replaced
    sentirnn.load(out)


@pytest.mark.slow
def test_out_dot_works_twice(files, tmp_path, capsys, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    for _ in range(2):
        code, _, err = train(capsys, monkeypatch, files / "small.csv", ".")
        assert code == 0, err
        assert set(sentirnn.load(".").classes_) == CLASSES


# ---- 2., 3., 8., 14. predict and evaluate ----------------------------------------------------

def test_predict_file_with_a_label_column_writes_pred_columns(model, tmp_path, capsys,
                                                              monkeypatch):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": ["好吃 很棒", "难吃 糟糕"], "label": ["wrong", "negative"]}).to_csv(
        source, index=False)
    code, _, err = run_cli(capsys, monkeypatch, "predict", model, "--input", source,
                           "--output", tmp_path / "out.jsonl")
    assert code == 0, err
    assert "pred_label" in err
    rows = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert list(rows.columns) == ["text", "label", "pred_label", "pred_reason",
                                  "pred_prob_negative", "pred_prob_positive"]
    assert rows["label"].tolist() == ["wrong", "negative"]  # the input's own labels, unchanged
    assert set(rows["pred_label"]) <= CLASSES
    assert (rows["pred_prob_negative"] + rows["pred_prob_positive"]).round(5).tolist() == [1, 1]


def test_predict_file_without_a_label_column_uses_plain_names(model, tmp_path, capsys,
                                                              monkeypatch):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": ["好吃", "难吃"]}).to_csv(source, index=False)
    code, _, err = run_cli(capsys, monkeypatch, "predict", model, "--input", source,
                           "--output", tmp_path / "out.jsonl")
    assert code == 0, err
    assert "pred_label" not in err
    rows = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert list(rows.columns) == ["text", "label", "reason", "prob_negative", "prob_positive"]
    assert set(rows["label"]) <= CLASSES


def test_predict_and_evaluate_take_threads_1_and_refuse_0(model, files, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "predict", model, "好吃", "--threads", "1")
    assert code == 0, err
    assert json.loads(out)["label"] in CLASSES
    code, out, err = run_cli(capsys, monkeypatch, "evaluate", model, files / "small.csv",
                             "--json", "--threads", "1")
    assert code == 0, err
    assert json.loads(out)["n"] == 60
    code, _, err = run_cli(capsys, monkeypatch, "predict", model, "好吃", "--threads", "0")
    assert_error(code, err, "--threads must be at least 1")
    code, _, err = run_cli(capsys, monkeypatch, "evaluate", model, files / "small.csv",
                           "--threads", "0")
    assert_error(code, err, "--threads must be at least 1")


def test_empty_texts_are_kept_unlabelled(model, tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "predict", model, "", "好吃", "   ")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in rows] == ["", "好吃", "   "]
    assert [r["label"] for r in (rows[0], rows[2])] == ["", ""]
    assert rows[0]["prob_positive"] is None and rows[1]["label"] in CLASSES
    source = tmp_path / "in.csv"
    source.write_text('text\n好吃\n""\n"   "\n', encoding="utf-8")
    code, out, err = run_cli(capsys, monkeypatch, "predict", model, "--input", source)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["reason"] for r in rows] == ["", "empty text", "empty text"]
    assert [r["label"] for r in rows[1:]] == ["", ""]
    assert "1 of 3 rows (2 without text)" in err


def test_predict_dash_reads_standard_input(model, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "predict", model, "-", stdin="好吃\n难吃\n")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in rows] == ["好吃", "难吃"]
    assert {r["label"] for r in rows} <= CLASSES


def test_predict_a_huge_single_line(model, tmp_path, capsys, monkeypatch):
    huge = "好吃" * 350_000  # 2.1 MB of UTF-8 on one line
    source = tmp_path / "huge.csv"
    source.write_text(f"text\n{huge}\n难吃\n", encoding="utf-8")
    code, _, err = run_cli(capsys, monkeypatch, "predict", model, "--input", source,
                           "--output", tmp_path / "out.jsonl")
    assert code == 0, err
    rows = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert rows["text"].str.len().tolist() == [len(huge), 2]
    assert set(rows["label"]) <= CLASSES


# ---- 4., 16. files that are hard to read -----------------------------------------------------

def test_a_stray_nul_byte_is_not_fatal(model, files, tmp_path, capsys, monkeypatch):
    lines = (files / "data.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = '"a\x00b 好吃",positive'
    source = tmp_path / "nul.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert source.read_bytes().count(b"\x00") == 1
    dataset = sentirnn.read_dataset(source)
    assert len(dataset.texts) == len(lines) - 1
    assert dataset.texts[0].startswith("a") and "好吃" in dataset.texts[0]
    assert dataset.labels[0] == "positive"
    code, out, err = run_cli(capsys, monkeypatch, "evaluate", model, source, "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == len(lines) - 1


@pytest.mark.parametrize("encoding", ["utf-16", "gbk"])
def test_utf16_with_bom_and_gbk_are_read(files, tmp_path, encoding):
    text = (files / "small.csv").read_text(encoding="utf-8")
    source = tmp_path / "data.csv"
    source.write_bytes(text.encode(encoding))
    dataset = sentirnn.read_dataset(source)
    assert dataset.texts == pd.read_csv(files / "small.csv")["text"].tolist()


def bad_files(root):
    texts, labels = make_corpus("en", 40, seed=43)
    english = pd.DataFrame({"text": texts, "label": labels}).to_csv(index=False)
    for order in ("le", "be"):  # no byte-order mark
        (root / f"utf16{order}.csv").write_bytes(english.encode(f"utf-16-{order}"))
    (root / "binary.csv").write_bytes(bytes(range(256)) * 20)
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("text,label\n")
    (root / "one.csv").write_text("text,label\n好吃,positive\n很棒,positive\n")
    (root / "data.xyz").write_text(english)


@pytest.mark.parametrize("name,words", [
    ("utf16le.csv", ["looks like UTF-16 text without a byte-order mark",
                     "--encoding utf-16-le"]),
    ("utf16be.csv", ["looks like UTF-16 text without a byte-order mark",
                     "--encoding utf-16-be"]),
    ("binary.csv", ["binary.csv is not a text file"]),
    ("empty.csv", ["empty.csv has no usable rows (the file is empty)"]),
    ("header.csv", ["header.csv has no usable rows (only a header"]),
    ("one.csv", ["single class ('positive' only)", "at least two labels"]),
    ("missing.csv", ["no such file or folder", "missing.csv"]),
    ("data.xyz", ["unknown file type '.xyz'"]),
])
def test_unreadable_training_data_is_one_line(tmp_path, capsys, monkeypatch, name, words):
    bad_files(tmp_path)
    code, _, err = train(capsys, monkeypatch, tmp_path / name, tmp_path / "out")
    assert_error(code, err, *words)
    assert not (tmp_path / "out").exists()


# ---- 7. settings are checked before the data is read, and named as the user wrote them --------

@pytest.mark.parametrize("data", ["missing.csv", "binary.csv"])
@pytest.mark.parametrize("flags,message", [
    (["--epochs", "0"], "--max-epochs must be an integer ≥ 1; got 0"),
    (["--lr", "-1"], "--lr must be a number > 0; got -1"),
    (["--optimizer", "foo"], "--optimizer must be one of adam, adamw, rmsprop, sgd; got 'foo'"),
    (["--pooling", "x"], "--pooling must be one of last, mean, max"),
    (["--l1", "-0.5"], "--l1 must be a number ≥ 0; got -0.5"),
])
def test_bad_settings_are_named_by_flag_before_the_data_is_read(tmp_path, capsys, monkeypatch,
                                                                data, flags, message):
    bad_files(tmp_path)
    code, _, err = run_cli(capsys, monkeypatch, "train", tmp_path / data, "--out",
                           tmp_path / "out", *TINY, *flags)
    assert_error(code, err, message)


def test_bad_setting_in_a_config_file_names_the_key_and_file(tmp_path, capsys, monkeypatch):
    config = tmp_path / "train.json"
    config.write_text('{"max_epochs": 0}', encoding="utf-8")
    code, _, err = run_cli(capsys, monkeypatch, "train", tmp_path / "missing.csv", "--out",
                           tmp_path / "out", "--config", config, *TINY)
    assert_error(code, err, f"max_epochs in {config} must be an integer ≥ 1; got 0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_device_cuda_without_a_gpu_is_one_line(files, tmp_path, capsys, monkeypatch):
    code, _, err = train(capsys, monkeypatch, files / "small.csv", tmp_path / "out",
                         "--device", "cuda")
    assert_error(code, err, "--device", "no CUDA GPU", "got 'cuda'")
    assert "rows kept" not in err
    assert "Lightning" not in err and "Misconfiguration" not in err
    assert not (tmp_path / "out").exists()


# ---- 6. Ctrl-C -------------------------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_exits_130_and_writes_nothing(files, tmp_path):
    out = tmp_path / "interrupted"
    checkpoint = tmp_path / "runs" / "interrupted" / "last.pt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentirnn", "train", files / "data.csv", "--out", out,
         "--epochs", "300", "--patience", "0", *TINY],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a child inherits an ignored SIGINT (pytest started in the background by a
        # non-interactive shell has one), and would then never see Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()[1]  # still training: the signal lands there
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and f"nothing was written to {out}" in err
    assert "Traceback" not in err
    assert not out.exists()


# ---- 10., 11., 12., 16. the written model ----------------------------------------------------

def test_weights_have_the_same_file_mode_as_the_config(model):
    modes = {name: stat.S_IMODE((model / name).stat().st_mode)
             for name in ("config.json", "model.safetensors", "tokenizer.json")}
    assert modes == {name: 0o664 for name in modes}  # 0o666 under the run's umask 002


def test_rows_kept_is_printed_once(trained):
    _, err = trained
    assert len(re.findall(r"rows kept", err)) == 1, err


def test_renamed_label_in_config_is_refused(model, tmp_path, capsys, monkeypatch):
    copy = shutil.copytree(model, tmp_path / "model")
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    config["labels"] = ["negative", "good"]
    (copy / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    code, _, err = run_cli(capsys, monkeypatch, "predict", copy, "好吃")
    assert_error(code, err, "config.json was changed after sentirnn wrote it")


@pytest.mark.parametrize("damage", ["truncate", "flip a byte"])
def test_damaged_weights_are_one_line(model, tmp_path, capsys, monkeypatch, damage):
    copy = shutil.copytree(model, tmp_path / "model")
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    if damage == "truncate":
        data = data[:1000]
    else:
        data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    code, _, err = run_cli(capsys, monkeypatch, "predict", copy, "好吃")
    assert_error(code, err, "model.safetensors does not match the checksum")


# ---- 5., 13., 15. the package and its help ---------------------------------------------------

def test_version(capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "--version")
    assert code == 0 and out == f"sentirnn {sentirnn.__version__}\n"


def test_public_names_are_listed():
    import pydoc

    assert {"SentimentClassifier", "LanguageModel", "load", "read_dataset"} <= set(dir(sentirnn))
    assert "SentimentClassifier" in pydoc.render_doc(sentirnn)


def test_train_help_shows_every_arch_at_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(capsys, monkeypatch, "train", "--help")
    assert code == 0
    assert max(map(len, out.splitlines())) <= 80
    joined = re.sub(r"\s+", "", out)  # the help may wrap a choice list, not cut it
    assert "rnn|birnn|lstm|bilstm|gru|bigru|textcnn" in joined
    assert "bow-nb|bow-lr|tfidf-nb|tfidf-lr|tfidf-svm" in joined


# ---- 8., 9. the HTTP API -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(model):
    from fastapi.testclient import TestClient

    from sentirnn.serve.app import create_app

    with TestClient(create_app(model, num_threads=1)) as c:
        yield c


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_api_refuses_an_empty_text(client, text):
    answer = client.post("/v1/predict", json={"texts": ["好吃", text]})
    assert answer.status_code == 422
    assert "texts[1] is empty" in answer.json()["detail"]


def test_api_explain_refuses_an_empty_text(client):
    answer = client.post("/v1/explain", json={"text": ""})
    assert answer.status_code == 422
    assert "empty" in answer.json()["detail"]


def test_docs_work_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert not re.search(r"https?://", page.text)
    assert assets and all(a.startswith("/static-offline-docs/") for a in assets)
    script = next(a for a in assets if a.endswith(".js"))
    answer = client.get(script)
    assert answer.status_code == 200 and "SwaggerUIBundle" in answer.text

