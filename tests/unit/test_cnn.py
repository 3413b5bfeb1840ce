"""TextCNN (Kim 2014): shapes, exact padding invariance, short texts, fit/save/load, ONNX."""

import numpy as np
import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier
from sentirnn.config import ModelConfig
from sentirnn.models import TextCNNNet, build_net
from sentirnn.preprocess.batching import collate

torch.set_num_threads(1)


def make_net(kernel_sizes=None):
    torch.manual_seed(0)
    config = ModelConfig(cell="cnn", embedding_dim=8, hidden_size=6, vocab_size=30,
                         num_classes=3, kernel_sizes=kernel_sizes)
    return build_net(config).eval()


@pytest.mark.parametrize("kernel_sizes", [None, [2], [1, 7]])
def test_shapes_and_padding_invariance(kernel_sizes):
    net = make_net(kernel_sizes)
    assert isinstance(net, TextCNNNet)
    seqs = [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [2], [3, 4]]
    ids, lengths = collate(seqs)
    with torch.no_grad():
        batched = net(ids, lengths)
        assert batched.shape == (4, 3)
        for i, seq in enumerate(seqs):
            alone = net(*collate([seq]))
            torch.testing.assert_close(batched[i], alone[0], atol=1e-6, rtol=1e-5)
        # Extra padding columns (any content in them) must not change anything.
        wider = torch.cat([ids, torch.randint(0, 30, (4, 4))], 1)
        torch.testing.assert_close(net(wider, lengths), batched, atol=1e-6, rtol=1e-5)
    assert torch.isfinite(batched).all()


def test_every_word_of_a_short_text_counts():
    net = make_net()
    with torch.no_grad():
        a, b = net(*collate([[5, 6]])), net(*collate([[5, 9]]))
    assert not torch.allclose(a, b)


def test_bad_kernel_sizes_are_refused():
    with pytest.raises(ValueError, match="kernel_sizes"):
        make_net([0, 3])


def test_old_model_config_still_loads():
    old = {k: v for k, v in ModelConfig().to_dict().items() if k != "kernel_sizes"}
    assert ModelConfig.from_dict(old).kernel_sizes is None


@pytest.fixture(scope="module")
def fitted():
    texts, labels = make_corpus("en", 240, seed=1)
    clf = SentimentClassifier(arch="textcnn", **FAST).fit(texts, labels)
    return clf, texts, labels


def test_textcnn_learns_the_tiny_task(fitted):
    clf, _, _ = fitted
    test_x, test_y = make_corpus("en", 120, seed=7)
    assert isinstance(clf.net_, TextCNNNet)
    assert clf.evaluate(test_x, test_y).accuracy >= 0.9


def test_save_load_same_probabilities_and_short_texts(fitted, tmp_path):
    from sentirnn.estimators.classifier import load

    clf, texts, _ = fitted
    clf.save(tmp_path / "m")
    back = load(tmp_path / "m")
    assert back.model_config_.cell == "cnn" and back.model_config_.kernel_sizes == [3, 4, 5]
    probe = ["great", "bad", "", "zzz", texts[0], " ".join(texts[:20])]
    np.testing.assert_allclose(back.predict_proba(probe), clf.predict_proba(probe), atol=1e-6)
    assert len(back.predict(["great"])) == 1  # one token: shorter than every kernel


def test_textcnn_explains(fitted):
    clf, _, _ = fitted
    result = clf.explain("the food was great")
    assert len(result.tokens) == len(result.scores) == 4


def test_textcnn_exports_to_onnx_with_parity(fitted, tmp_path):
    from sentirnn.export.onnx import OnnxClassifier, export_onnx, read_export

    clf, texts, _ = fitted
    clf.save(tmp_path / "m")
    export_onnx(tmp_path / "m")
    assert read_export(tmp_path / "m")["files"]["model.onnx"]["max_abs_diff"] <= 1e-4
    probe = ["great", "", texts[0], " ".join(texts[:30])]
    got = OnnxClassifier.load(tmp_path / "m", num_threads=1).predict_proba(probe)
    np.testing.assert_allclose(got, clf.predict_proba(probe), atol=1e-5)


@pytest.mark.slow
def test_cli_train_arch_textcnn(tmp_path, capsys, monkeypatch):
    import pandas as pd
    from conftest import run_cli

    texts, labels = make_corpus("en", 120, seed=4)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run_cli(capsys, monkeypatch, "train", tmp_path / "t.csv", "--arch", "textcnn",
                           "--out", tmp_path / "m", "--embedding-dim", "16", "--hidden-size",
                           "16", "--epochs", "2", "--min-freq", "1", "--num-threads", "1",
                           "--no-progress")
    assert code == 0, err
    assert '"cell": "cnn"' in (tmp_path / "m" / "config.json").read_text()
