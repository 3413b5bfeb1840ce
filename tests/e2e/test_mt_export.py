"""`sentirnn export` on a translator, then `sentirnn mt translate/evaluate --backend onnx`."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import assert_one_line_error, run_cli, run_main

pytest.importorskip("onnxruntime")

NUMBERS = {"one": "一", "two": "二", "three": "三", "four": "四", "five": "五"}
THINGS = {"cats": "猫", "dogs": "狗", "books": "书", "birds": "鸟"}
TINY = ["--embedding-dim", "16", "--encoder-hidden", "16", "--decoder-hidden", "32",
        "--epochs", "3", "--batch-size", "8", "--threads", "1", "--no-progress", "--beam", "2"]
SENTENCES = ["i see two cats .", "i see five zebras .", "i see one bird ."]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt-export")
    rows = [{"en": f"i see {a} {b} .", "zh": f"我看见{n}只{t}。"}
            for a, n in NUMBERS.items() for b, t in THINGS.items()]
    pd.DataFrame(rows).to_csv(root / "train.tsv", sep="\t", index=False)
    out = root / "model"
    code, _, err = run_main("mt", "train", root / "train.tsv", "--valid", root / "train.tsv",
                            "--out", out, "--arch", "luong", "--cell", "lstm", *TINY)
    assert code == 0, err
    code, stdout, err = run_main("export", out)
    assert code == 0, err
    assert "greedy translations agree 100%" in stdout
    return out, root / "train.tsv"


def test_export_writes_both_graphs_and_the_record(exported):
    model, _ = exported
    record = json.loads((model / "export.json").read_text(encoding="utf-8"))
    assert set(record["files"]) == {"encoder.onnx", "decoder_step.onnx"}
    for name in record["files"]:
        assert (model / name).exists()


@pytest.mark.parametrize("beam", ["1", "3"])
def test_translate_with_the_onnx_backend_matches_torch(exported, capsys, monkeypatch, beam):
    model, _ = exported
    outputs = {}
    for backend in ("torch", "onnx"):
        code, out, err = run_cli(capsys, monkeypatch, "mt", "translate", model, *SENTENCES,
                                 "--beam", beam, "--backend", backend)
        assert code == 0, err
        outputs[backend] = out.splitlines()
    assert len(outputs["onnx"]) == len(SENTENCES)
    assert outputs["onnx"] == outputs["torch"]


def test_evaluate_with_the_onnx_backend_matches_torch(exported, capsys, monkeypatch):
    model, data = exported
    scores = {}
    for backend in ("torch", "onnx"):
        code, out, err = run_cli(capsys, monkeypatch, "mt", "evaluate", model, data, "--json",
                                 "--backend", backend)
        assert code == 0, err
        scores[backend] = {k: v for k, v in json.loads(out).items() if k != "seconds"}
    assert scores["onnx"] == scores["torch"]


def test_unknown_backend_and_int8_translator_are_one_line_errors(exported, capsys,
                                                                  monkeypatch):
    model, _ = exported
    code, _, err = run_cli(capsys, monkeypatch, "mt", "translate", model, "hi",
                           "--backend", "tflite")
    assert_one_line_error(code, err, "--backend must be torch or onnx")
    code, _, err = run_cli(capsys, monkeypatch, "export", model, "--int8")
    assert_one_line_error(code, err, "--int8 is for classifiers")


def test_onnx_backend_command_never_imports_torch(exported):
    """The whole command in a fresh interpreter: -X importtime lists every module imported."""
    model, _ = exported
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "sentirnn", "mt",
                             "translate", str(model), SENTENCES[0], "--backend", "onnx"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported
