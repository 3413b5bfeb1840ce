"""Baselines through the CLI: train → evaluate --json → predict, and one-line refusals."""

import json

import pandas as pd
import pytest
from conftest import assert_one_line_error, make_corpus, run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline_cli")
    texts, labels = make_corpus("en", 160, seed=21)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(root / "train.csv", index=False)
    texts, labels = make_corpus("en", 40, seed=22)
    pd.DataFrame({"id": range(40), "text": texts, "label": labels}).to_csv(
        root / "test.csv", index=False)
    return root


@pytest.fixture(scope="module")
def model(files):
    """A baseline directory written by the API (the CLI's train is tested below)."""
    from sentirnn.classic.baselines import BaselineClassifier

    data = pd.read_csv(files / "train.csv")
    clf = BaselineClassifier("tfidf-lr").fit(list(data["text"]), list(data["label"]))
    return clf.save(files / "api-model")


@pytest.mark.slow
def test_train_evaluate_predict_end_to_end(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "model"
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv", "--arch",
                           "tfidf-svm", "--valid", files / "test.csv", "--seed", "1", "--out", out)
    assert code == 0, err
    assert '"arch": "tfidf-svm"' in err and "validation:" in err
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "sentirnn.baseline" and config["params"]["seed"] == 1
    assert (out / "model.skops").exists() and (out / "metrics.json").exists()

    code, stdout, err = run_cli(capsys, monkeypatch, "evaluate", out, files / "test.csv",
                                "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["n"] == 40 and report["accuracy"] >= 0.9

    code, stdout, err = run_cli(capsys, monkeypatch, "predict", out, "a great movie",
                                "awful plot")
    assert code == 0, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert abs(rows[0]["prob_negative"] + rows[0]["prob_positive"] - 1) < 1e-9

    code, _, err = run_cli(capsys, monkeypatch, "predict", out, "--input", files / "test.csv",
                           "--output", tmp_path / "scored.csv")
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert list(scored["id"]) == list(range(40))
    assert (scored["label"] == pd.read_csv(files / "test.csv")["label"]).mean() >= 0.9


def test_explain_and_export_refuse_in_one_line(model, capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "explain", model, "good food")
    assert_one_line_error(code, err, "explain needs a recurrent model")
    code, _, err = run_cli(capsys, monkeypatch, "export", model)
    assert code == 1 and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


def test_rnn_only_flags_are_refused(files, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv", "--arch",
                           "tfidf-lr", "--hidden-size", "8", "--out", tmp_path / "m")
    assert_one_line_error(code, err, "--hidden-size applies to recurrent archs")


def test_config_file_selects_a_baseline(files, tmp_path, capsys, monkeypatch):
    config = tmp_path / "baseline.json"
    config.write_text(json.dumps({"arch": "bow-nb", "alpha": 0.5, "char_ngrams": 0}))
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv", "--config", config,
                           "--out", tmp_path / "m")
    assert code == 0, err
    params = json.loads((tmp_path / "m" / "config.json").read_text())["params"]
    assert params["arch"] == "bow-nb" and params["alpha"] == 0.5
