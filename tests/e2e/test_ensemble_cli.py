"""`sentirnn ensemble` end to end: build, evaluate --json, predict; one-line errors."""

import json

import pandas as pd
import pytest
import torch
from conftest import FAST, assert_one_line_error, make_corpus, run_cli

from sentirnn import SentimentClassifier

torch.set_num_threads(1)
# Every test needs the two member models its module fixture trains.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two tiny models (BiLSTM, TextCNN) and held-out / test CSV files."""
    root = tmp_path_factory.mktemp("ens_cli")
    texts, labels = make_corpus("en", 200, seed=11)
    models = [SentimentClassifier(arch=arch, **FAST).fit(texts, labels).save(root / arch)
              for arch in ("bilstm", "textcnn")]
    for name, seed in (("valid", 12), ("test", 13)):
        texts, labels = make_corpus("en", 60, seed=seed)
        pd.DataFrame({"text": texts, "label": labels}).to_csv(root / f"{name}.csv", index=False)
    return root, models


@pytest.mark.parametrize("combiner", ["mean", "stack"])
def test_ensemble_then_evaluate_json_and_predict(setup, combiner, capsys, monkeypatch):
    root, models = setup
    out = root / f"ens-{combiner}"
    code, _, err = run_cli(capsys, monkeypatch, "ensemble", *models, "--out", out,
                           "--combiner", combiner, "--valid", root / "valid.csv")
    assert code == 0, err
    assert f"{combiner} ensemble of 2 models" in err and "ensemble written to" in err
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "sentirnn.ensemble" and config["combiner"] == combiner
    code, stdout, err = run_cli(capsys, monkeypatch, "evaluate", out, root / "test.csv", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["n"] == 60 and report["accuracy"] >= 0.9
    code, stdout, err = run_cli(capsys, monkeypatch, "predict", out, "a great movie", "awful")
    assert code == 0, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]


def test_weighted_mean_without_valid(setup, capsys, monkeypatch):
    root, models = setup
    code, _, err = run_cli(capsys, monkeypatch, "ensemble", *models, "--out", root / "w",
                           "--weights", "3,1")
    assert code == 0, err
    assert "with weights 0.75, 0.25" in err
    assert json.loads((root / "w" / "config.json").read_text())["weights"] == [0.75, 0.25]


def test_bad_input_is_one_line_error(setup, tmp_path, capsys, monkeypatch):
    root, models = setup
    out = tmp_path / "e"
    cases = [
        (["--combiner", "stack"], "add --valid FILE"),
        (["--weights", "2,x"], "--weights must be comma-separated numbers"),
        (["--weights", "1,2,3"], "3 weights given for 2 models"),
        (["--combiner", "vote"], "'combiner' parameter"),
    ]
    for extra, message in cases:
        code, _, err = run_cli(capsys, monkeypatch, "ensemble", *models, "--out", out, *extra)
        assert_one_line_error(code, err, message)
    code, _, err = run_cli(capsys, monkeypatch, "ensemble", models[0], tmp_path / "nope",
                           "--out", out)
    assert_one_line_error(code, err, "nope")
    texts, labels = make_corpus("en", 100, seed=2, labels=("bad", "good"))
    other = SentimentClassifier(arch="textcnn", **FAST).fit(texts, labels).save(tmp_path / "o")
    code, _, err = run_cli(capsys, monkeypatch, "ensemble", models[0], other, "--out", out)
    assert_one_line_error(code, err, "predict different labels")
    assert not out.exists()
    code, _, err = run_cli(capsys, monkeypatch, "ensemble", *models, "--out", root / "m")
    assert code == 0, err
    code, _, err = run_cli(capsys, monkeypatch, "explain", root / "m", "great")
    assert_one_line_error(code, err, "explain one of its members")
