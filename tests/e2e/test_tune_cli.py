"""`sentirnn tune` end to end (two tiny trials) and `sentirnn train --calibrate`."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from conftest import assert_one_line_error, make_corpus, run_cli

TINY = {"embedding_dim": 16, "batch_size": 16, "min_freq": 1, "max_epochs": 2,
        "num_threads": 1}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune_cli")
    texts, labels = make_corpus("en", 160, seed=21)
    pd.DataFrame({"review": texts, "stars": labels}).to_csv(root / "train.csv", index=False)
    texts, labels = make_corpus("en", 60, seed=22)
    pd.DataFrame({"review": texts, "stars": labels}).to_csv(root / "dev.csv", index=False)
    (root / "base.json").write_text(json.dumps(TINY), encoding="utf-8")
    (root / "space.json").write_text(json.dumps(
        {"arch": ["bilstm", "bigru"], "hidden_size": [8, 16],
         "lr": {"low": 0.005, "high": 0.02, "log": True}}), encoding="utf-8")
    return root


@pytest.mark.slow
def test_tune_two_trials_end_to_end(files, capsys, monkeypatch):
    out = files / "tuned"
    code, stdout, err = run_cli(
        capsys, monkeypatch, "tune", files / "train.csv", "--valid", files / "dev.csv",
        "--text-col", "review", "--label-col", "stars", "--trials", "2", "--timeout", "300",
        "--seed", "3", "--config", files / "base.json", "--search-space", files / "space.json",
        "--out", out)
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0].split()[:3] == ["trial", "state", "macro-F1"]
    assert sum(line.startswith("*") for line in lines) == 1
    assert lines[-1].startswith("best: validation macro-F1")
    record = json.loads((out / "tuning.json").read_text(encoding="utf-8"))
    assert len(record["trials"]) == 2 and set(record["best_params"]) >= {"arch", "lr"}
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["data"]["tuning"]["best_trial"] == record["best_trial"]
    assert config["params"]["seed"] == 3 and config["params"]["embedding_dim"] == 16
    code, stdout, err = run_cli(capsys, monkeypatch, "predict", out, "great tasty food")
    assert code == 0, err
    assert json.loads(stdout.splitlines()[0])["label"] == "positive"


def test_tune_without_optuna_is_one_line(files, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    code, _, err = run_cli(capsys, monkeypatch, "tune", files / "train.csv", "--trials", "1",
                           "--out", files / "never")
    assert_one_line_error(code, err, "pip install 'sentirnn[tune]'")


@pytest.mark.slow
def test_train_calibrate_writes_temperature_and_reliability(files, capsys, monkeypatch):
    out = files / "calibrated"
    code, _, err = run_cli(
        capsys, monkeypatch, "train", files / "train.csv", "--valid", files / "dev.csv",
        "--text-col", "review", "--label-col", "stars", "--config", files / "base.json",
        "--hidden-size", "8", "--calibrate", "--no-progress", "--out", out)
    assert code == 0, err
    assert "calibration: temperature" in err
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["calibration"]["temperature"] > 0 and config["params"]["calibrate"] is True
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert "ece_after" in metrics["calibration"]
    assert (out / "reliability.png").exists()
