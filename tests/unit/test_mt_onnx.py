"""Translator → ONNX: the two graphs and OnnxTranslator agree with PyTorch, without torch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import assert_runs_without_torch
from test_translator import corpus, small

from sentirnn.errors import ArtifactError
from sentirnn.export.mt_onnx import export_translator
from sentirnn.export.onnx_translator import OnnxTranslator

pytest.importorskip("onnxruntime")

# every cell and attention kind, input feeding on and off, stacked layers, tied embeddings
ARCHS = {
    "gru-bahdanau": {},
    "lstm-general-2layers": {"cell": "lstm", "attention": "general", "encoder_layers": 2,
                             "decoder_layers": 2},
    "gru-none": {"attention": "none"},
    "lstm-dot-nofeed-tied": {"cell": "lstm", "attention": "dot", "input_feeding": False,
                             "tie_embeddings": True, "embedding_dim": 64},
}
# seen sentences, an empty one, unknown words, a repeated word, a longer sentence
TEXTS = corpus(30)[0][:8] + ["", "i see zebras .", "qqq xyz", "two two two cats cats",
                             "i see one cat and i see two birds and three dogs ."]


@pytest.fixture(scope="module", params=list(ARCHS))
def exported(request, tmp_path_factory):
    src, tgt = corpus(30)
    model = small(max_epochs=25, monitor="loss", **ARCHS[request.param])
    model.fit(src, tgt, valid=(src, tgt))
    path = tmp_path_factory.mktemp("mt-onnx") / request.param
    model.save(path)
    export_translator(path)
    return path, model, OnnxTranslator.load(path, num_threads=1)


@pytest.mark.parametrize("beam", [1, 4])
def test_translations_match_pytorch(exported, beam):
    _, model, onnx = exported
    assert onnx.translate(TEXTS, beam=beam) == model.translate(TEXTS, beam=beam)


@pytest.mark.parametrize("beam", [1, 3])
def test_attention_and_tokens_match_pytorch(exported, beam):
    _, model, onnx = exported
    texts = [t for t in TEXTS if t]  # an empty source has no attention to compare
    for ours, theirs in zip(onnx.translate_with_attention(texts, beam=beam),
                            model.translate_with_attention(texts, beam=beam)):
        assert ours["output_tokens"] == theirs["output_tokens"]
        assert ours["source_tokens"] == theirs["source_tokens"]
        assert np.allclose(ours["attention"], theirs["attention"], atol=1e-3)


def test_score_matches_pytorch(exported):
    _, model, onnx = exported
    src, tgt = corpus(30)
    assert onnx.score(src, tgt, beam=2) == model.score(src, tgt, beam=2)


def test_export_json_records_graphs_checksums_and_parity(exported):
    path, model, _ = exported
    record = json.loads((path / "export.json").read_text(encoding="utf-8"))
    assert record["model_format"] == "sentirnn.translator"
    assert set(record["files"]) == {"encoder.onnx", "decoder_step.onnx"}
    assert record["greedy_agreement"] == 1.0
    for entry in record["files"].values():
        assert entry["max_abs_diff"] <= record["parity_atol"]
    state = ["h", "c"] if model.cell == "lstm" else ["h"]
    assert list(record["graphs"]["encoder.onnx"]["outputs"]) == ["memory", "keys", "mask",
                                                                 *state, "feed"]
    assert "next_h" in record["graphs"]["decoder_step.onnx"]["outputs"]


def test_dynamic_batch_one_sentence_alone_equals_in_batch(exported):
    _, _, onnx = exported
    together = onnx.translate(TEXTS, beam=3, batch_size=64)
    assert together == [onnx.translate([t], beam=3)[0] for t in TEXTS]


def test_tampered_graph_is_refused_and_missing_export_says_what_to_run(exported, tmp_path):
    path, _, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    data = bytearray((copy / "decoder_step.onnx").read_bytes())
    data[-10] ^= 0xFF
    (copy / "decoder_step.onnx").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        OnnxTranslator.load(copy)
    for name in ("encoder.onnx", "decoder_step.onnx", "export.json"):
        (copy / name).unlink()
    with pytest.raises(ArtifactError, match=r"run 'sentirnn export .*' first"):
        OnnxTranslator.load(copy)


def test_translating_through_onnx_never_imports_torch(exported):
    path, _, _ = exported
    code = ("from sentirnn.export.onnx_translator import OnnxTranslator\n"
            f"mt = OnnxTranslator.load({str(path)!r}, num_threads=1)\n"
            "print(mt.translate(['i see two cats .', ''], beam=3))\n"
            "mt.translate_with_attention(['i see two cats .'], beam=1)\n"
            "print(mt.score(['i see two cats .'], ['我看见二只猫。'], beam=2)['bleu'])\n")
    assert_runs_without_torch(code)
