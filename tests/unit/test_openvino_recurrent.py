"""OpenVINO on the exported graph: the same probabilities as PyTorch and onnxruntime on padded
batches, for every recurrent cell, direction, depth and pooling the ONNX export covers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_onnx_recurrent import CASES, exported_case

from sentirnn.config import ModelConfig
from sentirnn.export.onnx import export_net, onnx_session, parity_batch
from sentirnn.export.openvino_predictor import compile_onnx, has_native_bf16
from sentirnn.inference.postprocess import softmax
from sentirnn.models import build_net

# fp32 OpenVINO and onnxruntime run the same graph with different kernels: ~1e-7 apart.
ATOL = 1e-5


def _logits(compiled, ids, lengths):
    return compiled.create_infer_request().infer({"ids": ids, "lengths": lengths})[0]


@pytest.mark.parametrize("cell,bidirectional,layers,pooling,reverse,separate", CASES)
def test_same_probabilities_as_torch_and_onnxruntime(tmp_path, cell, bidirectional, layers,
                                                     pooling, reverse, separate):
    net, path = exported_case(tmp_path, cell, bidirectional, layers, pooling, reverse,
                              separate)
    ids, lengths = parity_batch(50, 64)
    with torch.inference_mode():
        want = softmax(net(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy())
    ort = softmax(onnx_session(path).run(["logits"], {"ids": ids, "lengths": lengths})[0])
    compiled = compile_onnx(path.read_bytes())
    got = softmax(_logits(compiled, ids, lengths))
    np.testing.assert_allclose(got, want, atol=ATOL)
    np.testing.assert_allclose(got, ort, atol=ATOL)
    # OpenVINO's own recurrent kernels run on through the padding; the rewritten graph must
    # not: every text alone, unpadded, gets what it got inside the padded batch.
    for row, n in enumerate(lengths.tolist()):
        alone = softmax(_logits(compiled, ids[row:row + 1, :n], lengths[row:row + 1]))
        np.testing.assert_allclose(alone[0], got[row], atol=ATOL)


@pytest.mark.skipif(not has_native_bf16(), reason="bf16 needs AMX or AVX512-BF16")
def test_bf16_stays_close_to_fp32(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(cell="lstm", bidirectional=True, layers=1, embedding_dim=12,
                         hidden_size=10, pooling="maxmean", vocab_size=50, num_classes=2)
    net = build_net(config).eval()
    path = tmp_path / "m.onnx"
    export_net(net, path, opset=17)
    ids, lengths = parity_batch(50, 64)
    fp32 = softmax(_logits(compile_onnx(path.read_bytes()), ids, lengths))
    bf16 = softmax(_logits(compile_onnx(path.read_bytes(), "bf16"), ids, lengths))
    # bf16 keeps 8 bits of mantissa: probabilities move by about 1e-3, not more
    assert np.abs(bf16 - fp32).max() < 0.02
