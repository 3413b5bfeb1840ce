"""train / finetune --resume end to end: a run killed with SIGKILL after its first epoch
checkpoint and resumed writes the model an uninterrupted run writes, and leaves no
checkpoint behind; resuming with other data, or with nothing to resume, is a one-line error."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line_error, make_corpus, run_cli

from sentirnn import load

NET = ["--embedding-dim", "16", "--hidden-size", "16", "--min-freq", "1", "--batch-size", "16",
       "--epochs", "12", "--patience", "0", "--precision", "32", "--num-threads", "1",
       "--no-progress"]
TUNE = ["--batch-size", "16", "--epochs", "6", "--precision", "32", "--num-threads", "1",
        "--no-progress"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    for name, seed in (("train", 31), ("other", 32)):
        texts, labels = make_corpus("en", 800, seed=seed)
        pd.DataFrame({"text": texts, "label": labels}).to_csv(root / f"{name}.csv", index=False)
    return root


@pytest.fixture(scope="module")
def lm_dir(files):
    from sentirnn.estimators.language_model import LanguageModel

    texts = make_corpus("en", 600, seed=33)[0]
    LanguageModel(embedding_dim=16, hidden_size=16, layers=2, batch_size=8, bptt=16, min_freq=1,
                  max_epochs=1, num_threads=1, progress=False).fit(texts).save(files / "lm")
    return files / "lm"


def kill_after_first_checkpoint(args, checkpoint):
    """Start ``sentirnn *args``, SIGKILL it as soon as ``checkpoint`` exists (epoch 1 done)."""
    proc = subprocess.Popen([sys.executable, "-m", "sentirnn", *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err  # killed, not finished or failed


def resume(args):
    proc = subprocess.run([sys.executable, "-m", "sentirnn", *map(str, args), "--resume"],
                          env=ENV, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def assert_same_model(resumed, reference, texts):
    np.testing.assert_allclose(load(resumed).predict_proba(texts),
                               load(reference).predict_proba(texts), rtol=0, atol=1e-5)


@pytest.mark.slow  # kills a `sentirnn` subprocess mid-training, resumes it
def test_train_killed_and_resumed_equals_an_uninterrupted_run(files, capsys, monkeypatch):
    out, runs = files / "killed", files / "runs"
    args = ["train", files / "train.csv", "--out", out, *NET]
    kill_after_first_checkpoint(args, runs / "killed" / "last.pt")
    assert not out.exists() and (runs / "killed" / "run.json").exists()
    # other data or settings are refused by name, and the checkpoint stays for a real resume
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "other.csv", "--out", out, *NET,
                           "--resume")
    assert_one_line_error(code, err, "was started with other training data;")
    code, _, err = run_cli(capsys, monkeypatch, *args, "--lr", "0.01", "--resume")
    assert_one_line_error(code, err, "other settings (lr 0.002, now 0.01)")
    err = resume(args)
    assert "resuming after epoch" in err and "model written to" in err
    assert not (runs / "killed").exists()  # the checkpoint is removed once the model is written
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv", "--out",
                           files / "whole", *NET)
    assert code == 0, err
    assert not runs.exists()
    assert_same_model(out, files / "whole", pd.read_csv(files / "other.csv").text.tolist())


@pytest.mark.slow  # kills a `sentirnn` subprocess mid-training, resumes it
def test_finetune_killed_and_resumed_reuses_the_fine_tuned_lm(files, lm_dir, capsys,
                                                             monkeypatch):
    out, work = files / "tuned", files / "runs" / "tuned"
    args = ["finetune", lm_dir, files / "train.csv", "--out", out, "--lm-epochs", "1", *TUNE]
    kill_after_first_checkpoint(args, work / "classifier" / "last.pt")
    code, _, err = run_cli(capsys, monkeypatch, "finetune", lm_dir, files / "other.csv",
                           *args[3:], "--resume")
    assert_one_line_error(code, err, "was made from other texts or settings")
    err = resume(args)
    assert f"reusing the fine-tuned language model in {work / 'lm'}" in err
    assert "fine-tuning the language model" not in err and "resuming after epoch" in err
    assert not (work / "classifier").exists() and (work / "lm" / "config.json").exists()
    code, _, err = run_cli(capsys, monkeypatch, "finetune", lm_dir, files / "train.csv",
                           "--out", files / "tuned-whole", *args[5:])
    assert code == 0, err
    assert_same_model(out, files / "tuned-whole",
                      pd.read_csv(files / "other.csv").text.tolist())


@pytest.mark.parametrize("args,message", [
    (["train", "{files}/train.csv", "--out", "{tmp}/a", "--resume"],
     "nothing to resume in {tmp}/runs/a (no run.json); start without --resume"),
    (["finetune", "{files}/lm", "{files}/train.csv", "--out", "{tmp}/b", "--resume"],
     "nothing to resume in {tmp}/runs/b/classifier"),
    (["train", "{files}/train.csv", "--out", "{tmp}/c", "--resume", "--self-train",
      "{files}/other.csv"], "--resume and --checkpoint-dir do not apply to --self-train"),
    (["train", "{files}/train.csv", "--out", "{tmp}/d", "--arch", "tfidf-lr", "--resume"],
     "--arch tfidf-lr trains in one step, so run the command without --resume"),
])
def test_resume_errors_are_one_line(files, lm_dir, tmp_path, capsys, monkeypatch, args,
                                    message):
    args = [a.format(files=files, tmp=tmp_path) for a in args]
    code, _, err = run_cli(capsys, monkeypatch, *args)
    assert_one_line_error(code, err, message.format(tmp=tmp_path))
