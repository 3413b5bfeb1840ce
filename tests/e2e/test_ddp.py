"""Two CPU processes under torchrun (gloo): pretraining and fine-tuning run unchanged.

Only rank 0 writes the output directories; the results load and predict in this process.
"""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import make_corpus

from sentirnn import load
from sentirnn.estimators.language_model import LanguageModel

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
COMMON = ["--num-threads", "1", "--no-progress", "--batch-size", "8"]
# Two torchrun processes pretrain and fine-tune (~10 s).
pytestmark = pytest.mark.slow


def torchrun(*args):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "sentirnn", *map(str, args)]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_pretrain_and_finetune_on_two_processes(tmp_path):
    texts, _ = make_corpus("en", 800, seed=51)
    (tmp_path / "unlabelled.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    texts, labels = make_corpus("en", 240, seed=52)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "train.csv", index=False)

    err = torchrun("pretrain", tmp_path / "unlabelled.txt", "--out", tmp_path / "lm",
                   "--embedding-dim", "16", "--hidden-size", "16", "--bptt", "16",
                   "--min-freq", "1", "--epochs", "2", *COMMON)
    assert err.count("language model written to") == 1  # rank 0 only
    lm = LanguageModel.load(tmp_path / "lm")
    assert lm.train_summary_["val_perplexity"] < len(lm.vocab_)

    err = torchrun("finetune", tmp_path / "lm", tmp_path / "train.csv", "--out",
                   tmp_path / "clf", "--schedule", "standard", "--epochs", "6", "--lr", "0.01",
                   *COMMON)
    assert err.count("model written to") == 1
    clf = load(tmp_path / "clf")
    assert clf.predict(["great tasty food", "awful boring plot"]) == ["positive", "negative"]
    config = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert config["init_from"]["path"] == str(tmp_path / "lm")
