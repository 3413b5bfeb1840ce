"""Each recurrent layer exports as one ONNX op reading ``lengths``: parity on padded batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentirnn.config import ModelConfig
from sentirnn.export.onnx import export_net, onnx_session, parity_batch
from sentirnn.inference.postprocess import softmax
from sentirnn.models import build_net

CASES = [("lstm", True, 1, "maxmean", False, False), ("lstm", True, 2, "last", False, False),
         ("lstm", False, 1, "last", False, False), ("gru", True, 1, "attention", False, False),
         ("gru", False, 2, "mean", False, False), ("rnn", True, 1, "concat", False, False),
         ("rnn", False, 1, "max", False, False),
         ("lstm", False, 2, "concat", True, False),  # a classifier made from a backward LM
         ("lstm", True, 2, "concat", False, True)]  # a forward and a backward LM side by side


def exported_case(tmp_path, cell, bidirectional, layers, pooling, reverse, separate):
    """(net, model.onnx path) of one CASES row: a small seeded net, exported."""
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, bidirectional=bidirectional, layers=layers,
                         embedding_dim=12, hidden_size=10, pooling=pooling, vocab_size=50,
                         num_classes=3, reverse=reverse, separate_directions=separate)
    net = build_net(config).eval()
    path = tmp_path / "m.onnx"
    export_net(net, path, opset=17)
    return net, path


@pytest.mark.parametrize("cell,bidirectional,layers,pooling,reverse,separate", CASES)
def test_one_op_per_layer_and_same_probabilities(tmp_path, cell, bidirectional, layers, pooling,
                                                 reverse, separate):
    import onnx

    net, path = exported_case(tmp_path, cell, bidirectional, layers, pooling, reverse,
                              separate)

    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    # one op per layer; separate stacks: one per layer of each direction's stack
    assert ops.count(cell.upper()) == layers * (2 if separate else 1)
    assert "ReverseSequence" not in ops

    ids, lengths = parity_batch(50, 64)
    with torch.inference_mode():
        want = softmax(net(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy())
    session = onnx_session(path, num_threads=1)
    got = softmax(session.run(["logits"], {"ids": ids, "lengths": lengths})[0])
    np.testing.assert_allclose(got, want, atol=1e-5)
    # The backward direction starts at each text's own end: a text alone, unpadded,
    # gets what it got inside the padded batch.
    n = int(lengths[-1])
    alone = softmax(session.run(["logits"], {"ids": ids[-1:, :n], "lengths": lengths[-1:]})[0])
    np.testing.assert_allclose(alone[0], got[-1], atol=1e-5)
