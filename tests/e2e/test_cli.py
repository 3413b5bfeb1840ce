"""Every CLI command end to end on tiny files; errors are one line with exit code 1."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line_error, make_corpus, run_cli, run_main

FLOAT = r"-?\d+\.\d+(?:e-?\d+)?"
TINY = ["--embedding-dim", "16", "--hidden-size", "16", "--epochs", "4", "--batch-size", "16",
        "--lr", "0.01", "--min-freq", "1", "--num-threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    texts, labels = make_corpus("en", 200, seed=11)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(root / "train.csv.gz", index=False)
    texts, labels = make_corpus("en", 60, seed=12)
    pd.DataFrame({"id": range(60), "text": texts, "label": labels}).to_csv(
        root / "test.csv", index=False)
    return root


@pytest.fixture(scope="module")
def model(files):
    out = files / "model"
    code, _, err = run_main("train", files / "train.csv.gz", "--out", out, *TINY)
    assert code == 0, err
    assert "config:" in err and "rows kept" in err
    return out


def test_train_writes_a_model_directory(model):
    assert (model / "config.json").exists() and (model / "curves.png").exists()


def test_train_passes_every_classifier_flag_on(files, tmp_path, capsys, monkeypatch):
    """train names each flag it hands to the classifier: every option named like a
    SentimentClassifier parameter is among them, and nothing else is."""
    import typer.main

    from sentirnn.cli import train as train_cli
    from sentirnn.errors import ConfigError
    from sentirnn.estimators.classifier import SentimentClassifier

    seen = {}

    def stop(cls, config, flags, preset=None):
        seen.update(flags)
        raise ConfigError("stopped after the flags were gathered")

    monkeypatch.setattr(train_cli, "params_for", stop)
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv.gz",
                           "--out", tmp_path / "m", "--max-len", "7")
    assert code == 1 and "stopped after" in err
    options = {p.name for p in typer.main.get_command(train_cli.app).commands["train"].params}
    assert set(seen) == options & set(SentimentClassifier().get_params())
    assert seen["max_len"] == 7 and seen["arch"] is None


@pytest.mark.slow
def test_train_saves_l1_and_the_cleaning_switches(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m"
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv.gz", "--out", out,
                           *TINY, "--l1", "1e-4", "--strip-punct", "--strip-digits")
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["l1"] == 1e-4 and config["params"]["l1"] == 1e-4
    assert config["text"]["strip_punct"] is config["text"]["strip_digits"] is True
    header = (out / "curves.csv").read_text().splitlines()[0].split(",")
    assert "l1_penalty" in header


def test_evaluate_json_contract(model, files, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "evaluate", model, files / "test.csv", "--json")
    assert code == 0
    report = json.loads(out)
    assert {"accuracy", "macro_f1", "n", "per_class"} <= set(report)
    assert report["n"] == 60 and report["accuracy"] >= 0.9


def test_predict_texts_and_stdin(model, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "predict", model, "a great movie", "awful plot")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert abs(rows[0]["prob_negative"] + rows[0]["prob_positive"] - 1) < 1e-6
    code, out, _ = run_cli(capsys, monkeypatch, "predict", model, "--format", "csv",
                       stdin="good food\nterrible service\n")
    assert code == 0 and out.splitlines()[0].startswith("text,label,prob_negative")


def test_predict_file_keeps_columns_order_and_empty_rows(model, files, tmp_path, capsys,
                                                         monkeypatch):
    source = tmp_path / "in.jsonl"
    frame = pd.DataFrame({"id": [3, 1, 2], "text": ["great food", "", "bad awful"],
                          "extra": ["x", "y", "z"]})
    frame.to_json(source, orient="records", lines=True)
    code, _, err = run_cli(capsys, monkeypatch, "predict", model, "--input", source,
                       "--output", tmp_path / "out.csv", "--chunksize", "2")
    assert code == 0, err
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert out["id"].tolist() == [3, 1, 2] and out["extra"].tolist() == ["x", "y", "z"]
    assert out["label"].tolist() == ["positive", "", "negative"]
    assert out["reason"].tolist() == ["", "empty text", ""]


@pytest.mark.parametrize("args,message", [
    (["evaluate", "{tmp}/nope", "{files}/test.csv"], "is not a folder"),
    (["train", "{tmp}/missing.csv"], "no such file"),
    (["train", "{files}/test.csv", "--text-col", "body"], "body"),
    (["train", "{tmp}/one.csv"], "single class"),
    (["train", "{tmp}/empty.csv"], "no usable rows"),
    (["train", "{tmp}/binary.csv"], "not a text file"),
    (["train", "{files}/test.csv", "--arch", "bilstn"],
     "bigru, textcnn, clstm, rcnn, bow-nb, bow-lr, tfidf-nb, tfidf-lr, tfidf-svm; got 'bilstn'"),
    (["train", "{files}/test.csv", "--bigrams", "yes"],
     "--bigrams must be one of auto, on, off; got 'yes'"),
    (["train", "{tmp}/bad.csv", "--strict"], "row 2"),
    (["train", "{files}/test.csv", "--self-train", "{tmp}/empty.csv"], "no usable"),
    (["train", "{files}/test.csv", "--self-train", "{files}/test.csv"], "neither empty nor"),
    (["train", "{files}/test.csv", "--self-train", "{files}/test.csv", "--arch", "tfidf-lr"],
     "--self-train trains recurrent nets only"),
    (["train", "{files}/test.csv", "--self-train", "{files}/test.csv", "--multi-label"],
     "does not combine with a multi-label classifier"),
])
def test_errors_are_one_line_with_exit_code_1(files, tmp_path, capsys, monkeypatch, args,
                                              message):
    (tmp_path / "one.csv").write_text("text,label\na,pos\nb,pos\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "bad.csv").write_text("text,label\ngood,pos\n,neg\n")
    args = [a.format(tmp=tmp_path, files=files) for a in args]
    extra = TINY if args[0] == "train" else []
    code, _, err = run_cli(capsys, monkeypatch, *args, *extra)
    assert_one_line_error(code, err, message)


@pytest.mark.parametrize("args", [
    ["predict", "{tmp}/no-model", "good", "--threads", "0"],
    ["evaluate", "{tmp}/no-model", "{files}/test.csv", "--threads", "-1"],
    ["predict", "{tmp}/no-model", "good", "--backend", "onnx", "--threads", "0"],
    ["serve", "{tmp}/no-model", "--threads", "0"],
    ["serve", "{tmp}/no-model", "--num-threads", "0"],  # the old name is checked alike
])
def test_bad_threads_are_refused_before_loading(files, tmp_path, capsys, monkeypatch, args):
    args = [a.format(tmp=tmp_path, files=files) for a in args]
    code, _, err = run_cli(capsys, monkeypatch, *args)
    assert_one_line_error(code, err, "--threads must be at least 1")  # not "no-model"


def test_predict_and_evaluate_answer_alike_on_one_or_two_threads(model, files, capsys,
                                                                 monkeypatch):
    texts = make_corpus("en", 30, seed=13)[0]
    answers = {}
    for threads in ("1", "2"):
        code, out, err = run_cli(capsys, monkeypatch, "predict", model, *texts,
                                 "--threads", threads)
        assert code == 0, err
        code, report, err = run_cli(capsys, monkeypatch, "evaluate", model,
                                    files / "test.csv", "--json", "--threads", threads)
        assert code == 0, err
        assert len(out.splitlines()) == len(texts)
        answers[threads] = out + report
    # Labels and layout match exactly; probabilities to float32 rounding, because a request
    # split over another number of workers gives the matrix kernels other batch shapes.
    one, two = (re.sub(FLOAT, "#", answers[t]) for t in ("1", "2"))
    assert one == two
    np.testing.assert_allclose(*(np.array(re.findall(FLOAT, answers[t]), dtype=float)
                                 for t in ("1", "2")), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_train_bigram_flags_reach_the_saved_model(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "pairs"
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "test.csv", "--out", out,
                           "--bigrams", "on", "--embedding-dropout", "0.2", *TINY)
    assert code == 0, err
    model = json.loads((out / "config.json").read_text(encoding="utf-8"))["model"]
    assert model["bigram_rows"] > 1 and model["embedding_dropout"] == 0.2


@pytest.mark.slow
def test_train_with_two_rounds_of_self_training(files, tmp_path, capsys, monkeypatch):
    pool = tmp_path / "unlabelled.txt"
    pool.write_text("\n".join(make_corpus("en", 300, seed=13)[0]) + "\n", encoding="utf-8")
    out = tmp_path / "self"
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv.gz", "--out", out,
                           "--self-train", pool, "--pseudo-ratio", "1", "--self-train-rounds",
                           "2", *TINY)
    assert code == 0, err
    assert "pseudo-labelled 180 of" in err and "(round 2)" in err
    summary = json.loads((out / "config.json").read_text(encoding="utf-8"))["train_summary"]
    assert [r["round"] for r in summary["self_training"]["rounds"]] == [1, 2]
    assert summary["train_texts"] == 180 + 180


def test_help_has_examples(capsys, monkeypatch):
    for command in ("train", "evaluate", "predict", "demo"):
        code, out, _ = run_cli(capsys, monkeypatch, command, "--help")
        assert code == 0 and "Example" in out


def test_config_file_typo_names_the_nearest_key(files, tmp_path, capsys, monkeypatch):
    (tmp_path / "train.json").write_text('{"arhc": "gru"}')
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "test.csv", "--config",
                           tmp_path / "train.json", *TINY)
    assert_one_line_error(code, err, "did you mean 'arch'?")
