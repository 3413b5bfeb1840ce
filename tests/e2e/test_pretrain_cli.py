"""pretrain / finetune / generate end to end: resume after SIGKILL, transfer, clear errors."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import assert_one_line_error, make_corpus, run_cli

LM = ["--embedding-dim", "24", "--hidden-size", "24", "--layers", "2", "--batch-size", "8",
      "--bptt", "16", "--min-freq", "1", "--num-threads", "1", "--no-progress"]
CLF = ["--epochs", "3", "--batch-size", "16", "--num-threads", "1", "--no-progress"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def sentirnn(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "sentirnn", *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    texts, _ = make_corpus("en", 1500, seed=21)
    (root / "unlabelled.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    texts, labels = make_corpus("en", 200, seed=22)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(root / "train.csv", index=False)
    texts, labels = make_corpus("en", 120, seed=23, labels=("bad", "meh", "good"))
    pd.DataFrame({"text": texts, "label": labels}).to_csv(root / "three.csv", index=False)
    zh, _ = make_corpus("zh", 300, seed=24)
    (root / "zh.txt").write_text("\n".join(zh) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def lm_dir(files):
    out = files / "lm"
    proc = sentirnn("pretrain", files / "unlabelled.txt", "--out", out, "--epochs", "2", *LM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "held-out perplexity" in err
    return out


@pytest.mark.slow
def test_pretrain_writes_a_language_model_directory(lm_dir, files):
    config = json.loads((lm_dir / "config.json").read_text())
    assert config["format"] == "sentirnn.language_model"
    assert {"model.safetensors", "tokenizer.json"} <= set(config["checksums"])
    history = pd.read_csv(lm_dir / "curves.csv")
    assert history["val_perplexity"].iloc[-1] < history["val_perplexity"].iloc[0]
    assert (files / "runs" / "lm" / "last.pt").exists()  # checkpoints live apart


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(lm_dir, files):
    """Killed mid-epoch 1 and resumed, the run ends exactly where an unbroken one does."""
    run_dir = files / "runs" / "killed"
    args = ["pretrain", files / "unlabelled.txt", "--epochs", "2", "--checkpoint-every", "10",
            "--checkpoint-dir", run_dir, *LM]
    proc = sentirnn(*args, "--out", files / "killed")
    deadline = time.monotonic() + 60
    while not (run_dir / "last.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL and not (files / "killed").exists()
    resumed = sentirnn(*args, "--out", files / "killed", "--resume")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "resuming at epoch 1" in err
    full = pd.read_csv(lm_dir / "curves.csv")["val_perplexity"].iloc[-1]
    again = pd.read_csv(files / "killed" / "curves.csv")["val_perplexity"].iloc[-1]
    assert again == pytest.approx(full, rel=1e-6)  # bit-identical here (one thread)


@pytest.mark.slow
def test_generate_is_seeded(lm_dir, capsys, monkeypatch):
    code, first, _ = run_cli(capsys, monkeypatch, "generate", lm_dir, "the food", "--seed", "3")
    assert code == 0 and first.startswith("the food")
    assert run_cli(capsys, monkeypatch, "generate", lm_dir, "the food", "--seed", "3")[1] == first


@pytest.mark.slow
def test_backward_lm_generates_the_text_before_the_prompt_and_transfers(lm_dir, files, capsys,
                                                                        monkeypatch):
    out = files / "backward-lm"
    code, _, err = run_cli(capsys, monkeypatch, "pretrain", files / "unlabelled.txt", "--out", out,
                           "--epochs", "1", "--direction", "backward", *LM)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["params"]["direction"] == "backward"
    code, text, _ = run_cli(capsys, monkeypatch, "generate", out, "the food", "--seed", "3")
    assert code == 0 and text.strip().endswith("the food") and text.strip() != "the food"
    clf = files / "backward-clf"
    code, _, err = run_cli(capsys, monkeypatch, "finetune", out, files / "train.csv", "--out",
                           clf, *CLF)
    assert code == 0, err
    assert json.loads((clf / "config.json").read_text())["model"]["reverse"] is True
    # beside the forward LM of the same text: one classifier with both encoders
    both = files / "both-clf"
    code, _, err = run_cli(capsys, monkeypatch, "finetune", lm_dir, files / "train.csv", "--out",
                           both, "--backward-lm", out, "--schedule", "standard", *CLF,
                           "--epochs", "6")
    assert code == 0, err
    config = json.loads((both / "config.json").read_text())
    assert config["model"]["separate_directions"] and config["model"]["embedding_dim"] == 48
    assert config["init_from"]["backward"]["path"] == str(out)
    code, out_json, _ = run_cli(capsys, monkeypatch, "evaluate", both, files / "train.csv",
                                "--json")
    assert code == 0 and json.loads(out_json)["accuracy"] >= 0.9
    # --lm-epochs fine-tunes both LMs first; the backward one is written beside the forward one
    tuned = files / "both-tuned"
    code, _, err = run_cli(capsys, monkeypatch, "finetune", lm_dir, files / "train.csv", "--out",
                           tuned, "--backward-lm", out, "--lm-epochs", "1", *CLF, "--epochs", "1")
    assert code == 0, err
    runs = files / "runs" / "both-tuned"
    init = json.loads((tuned / "config.json").read_text())["init_from"]
    assert init["path"] == str(runs / "lm")
    assert init["backward"]["path"] == str(runs / "lm-backward")
    for name, direction, source in (("lm", "forward", lm_dir), ("lm-backward", "backward", out)):
        written = json.loads((runs / name / "config.json").read_text())
        assert written["params"]["direction"] == direction
        recorded = init if name == "lm" else init["backward"]
        assert recorded["sha256"] == written["checksums"]["model.safetensors"]
        assert (written["checksums"]["model.safetensors"]
                != json.loads((source / "config.json").read_text())["checksums"]
                ["model.safetensors"])  # fine-tuned, not a copy
    code, _, err = run_cli(capsys, monkeypatch, "finetune", out, files / "train.csv", "--out",
                           files / "swapped", "--backward-lm", lm_dir, *CLF)
    assert_one_line_error(code, err, "must be a forward language model")


@pytest.mark.slow
def test_finetune_lm_into_a_classifier_that_evaluate_and_predict_accept(lm_dir, files, capsys,
                                                                          monkeypatch):
    out = files / "clf"
    code, _, err = run_cli(capsys, monkeypatch, "finetune", lm_dir, files / "train.csv", "--out",
                       out, "--lm-epochs", "1", "--schedule", "standard", *CLF, "--epochs", "6")
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    lm_out = files / "runs" / "clf" / "lm"
    assert config["init_from"]["path"] == str(lm_out)
    lm_config = json.loads((lm_out / "config.json").read_text())
    assert config["init_from"]["sha256"] == lm_config["checksums"]["model.safetensors"]
    assert config["model"]["pooling"] == "concat" and not config["model"]["bidirectional"]
    code, out_json, _ = run_cli(capsys, monkeypatch, "evaluate", out, files / "train.csv", "--json")
    assert code == 0 and json.loads(out_json)["accuracy"] >= 0.9
    code, lines, _ = run_cli(capsys, monkeypatch, "predict", out, "great tasty food")
    assert code == 0 and json.loads(lines.splitlines()[0])["label"] == "positive"


@pytest.mark.slow
def test_finetune_lm_with_self_training(lm_dir, files, capsys, monkeypatch):
    out = files / "self-trained"
    code, _, err = run_cli(capsys, monkeypatch, "finetune", lm_dir, files / "train.csv", "--out",
                           out, "--self-train", files / "unlabelled.txt", "--pseudo-ratio",
                           "0.5", "--schedule", "standard", *CLF, "--epochs", "6")
    assert code == 0, err
    texts = set((files / "unlabelled.txt").read_text().splitlines())
    pool = len(texts - set(pd.read_csv(files / "train.csv").text))
    # 0.5 × 180 real training labels (20 held out for validation), shared by class
    assert (f"pseudo-labelled 90 of {pool} unlabelled texts (negative 45, positive 45)"
            in err)
    summary = json.loads((out / "config.json").read_text())["train_summary"]
    assert summary["train_texts"] == 180 + 90
    assert summary["self_training"]["per_class"]["positive"]["taken"] == 45
    # a student on the standard schedule keeps its best epoch (one from an LM: its last)
    assert summary["kept_epoch"] == summary["best_epoch"]
    assert (f"fine-tuned {summary['epochs_run']} epochs in" in err
            and f"(best epoch {summary['best_epoch']}); validation:" in err)
    code, out_json, _ = run_cli(capsys, monkeypatch, "evaluate", out, files / "train.csv", "--json")
    assert code == 0 and json.loads(out_json)["accuracy"] >= 0.9


@pytest.mark.slow
def test_finetune_a_chinese_lm_adds_token_pairs_unless_bigrams_off(files, tmp_path, capsys,
                                                                   monkeypatch):
    from sentirnn.estimators.language_model import LanguageModel

    texts = (files / "zh.txt").read_text(encoding="utf-8").splitlines()
    LanguageModel(embedding_dim=8, hidden_size=8, layers=1, batch_size=4, bptt=8, min_freq=1,
                  progress=False, num_threads=1).fit(texts).save(tmp_path / "zh-lm")
    texts, labels = make_corpus("zh", 120, seed=25)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "zh.csv", index=False)
    rows = {}
    for flag in ([], ["--bigrams", "off"]):
        out = tmp_path / f"clf{len(flag)}"
        code, _, err = run_cli(capsys, monkeypatch, "finetune", tmp_path / "zh-lm",
                               tmp_path / "zh.csv", "--out", out, *flag, *CLF)
        assert code == 0, err
        rows[len(flag)] = json.loads((out / "config.json").read_text())["model"]["bigram_rows"]
    assert rows[0] > 50 and rows[2] == 0


@pytest.mark.slow
def test_finetune_a_classifier_on_new_labels(files, capsys, monkeypatch):
    base = files / "base"
    code, _, err = run_cli(capsys, monkeypatch, "train", files / "train.csv", "--out", base,
                       "--embedding-dim", "16", "--hidden-size", "16", "--min-freq", "1", *CLF)
    assert code == 0, err
    out = files / "three"
    code, _, err = run_cli(capsys, monkeypatch, "finetune", base, files / "three.csv", "--out", out,
                       "--freeze", "embeddings", *CLF)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["labels"] == ["bad", "good", "meh"]
    assert config["init_from"]["path"] == str(base) and config["init_from"]["freeze"] == \
        "embeddings"


@pytest.mark.parametrize("args,message", [
    (["pretrain", "{tmp}/empty.txt", "--out", "{tmp}/x"], "no usable"),
    (["pretrain", "{tmp}/binary.txt", "--out", "{tmp}/x"], "not a text file"),
    (["generate", "{tmp}/nomodel", "hi"], "no config.json"),
    (["generate", "{tmp}/classifier", "hi"], "is a sentirnn.classifier directory"),
    (["finetune", "{tmp}/nomodel", "{files}/train.csv", "--out", "{tmp}/y"], "no config.json"),
    pytest.param(["finetune", "{tmp}/zh-lm", "{files}/train.csv", "--out", "{tmp}/y"],
                 "vocabulary", marks=pytest.mark.slow),  # pretrains a Chinese LM first
    (["finetune", "{tmp}/classifier", "{files}/train.csv", "--self-train",
      "{files}/unlabelled.txt"], "apply to a language model only"),
    (["finetune", "{tmp}/classifier", "{files}/train.csv", "--bigrams", "off"],
     "apply to a language model only"),
    (["pretrain", "{files}/unlabelled.txt", "--out", "{tmp}/z", "--direction", "sideways"],
     "--direction must be one of forward, backward; got 'sideways'"),
    (["pretrain", "{files}/unlabelled.txt", "--out", "{tmp}/z", "--precision", "fp16"],
     "--precision must be one of auto, 32, bf16; got 'fp16'"),
    (["pretrain", "{files}/unlabelled.txt", "--out", "{tmp}/z", "--resume",
      "--checkpoint-dir", "{tmp}/none"], "nothing to resume"),
])
def test_errors_are_one_line_with_exit_code_1(files, tmp_path, capsys, monkeypatch, args,
                                              message):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "nomodel").mkdir()
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "config.json").write_text('{"format": "sentirnn.classifier", '
                                            '"format_version": 1}')
    if "{tmp}/zh-lm" in args:
        from sentirnn.estimators.language_model import LanguageModel

        texts = (files / "zh.txt").read_text(encoding="utf-8").splitlines()
        LanguageModel(embedding_dim=8, hidden_size=8, layers=1, batch_size=4, bptt=8,
                      progress=False, num_threads=1).fit(texts).save(tmp_path / "zh-lm")
    args = [a.format(tmp=tmp_path, files=files) for a in args]
    extra = LM if args[0] == "pretrain" else CLF if args[0] == "finetune" else []
    code, _, err = run_cli(capsys, monkeypatch, *args, *extra)
    assert_one_line_error(code, err, message)


def test_help_has_examples(capsys, monkeypatch):
    for command in ("pretrain", "finetune", "generate"):
        code, out, _ = run_cli(capsys, monkeypatch, command, "--help")
        assert code == 0 and "Example" in out
