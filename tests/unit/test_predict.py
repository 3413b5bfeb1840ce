"""logits → probabilities → labels."""

import numpy as np

from sentirnn.inference.postprocess import decode_labels, softmax, top_k_records
from sentirnn.inference.predict import restore_order


def test_softmax_rows_sum_to_one_and_survive_large_logits():
    p = softmax(np.array([[1000.0, 0.0, -1000.0], [0.1, 0.2, 0.3]]))
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert p[0, 0] == 1.0


def test_labels_and_top_k_order():
    p = np.array([[0.2, 0.5, 0.3]])
    assert decode_labels(p, ["a", "b", "c"]) == ["b"]
    assert [r["label"] for r in top_k_records(p, ["a", "b", "c"], 2)[0]] == ["b", "c"]
    assert len(top_k_records(p, ["a", "b", "c"], 10)[0]) == 3


def test_restore_order():
    out = restore_order([np.array([[2.0]]), np.array([[0.0], [1.0]])], [[2], [0, 1]], 3)
    assert out[:, 0].tolist() == [0.0, 1.0, 2.0]
