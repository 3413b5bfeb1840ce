"""C-LSTM and RCNN (convolution and recurrence in one net): shapes, exact padding invariance,
contexts that exclude the word, fine-tuning groups, fit/save/load, explain, ONNX (fp32, int8)."""

import numpy as np
import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier
from sentirnn.config import ModelConfig
from sentirnn.errors import ConfigError
from sentirnn.estimators.finetune import layer_groups
from sentirnn.models import CLSTMNet, RCNNNet, build_net
from sentirnn.preprocess.batching import collate

torch.set_num_threads(1)

ARCHS = ["clstm", "rcnn"]
NET = {"clstm": CLSTMNet, "rcnn": RCNNNet}
# hybrid, cell, layers, pooling, kernel sizes (clstm only)
NETS = [("clstm", "lstm", 1, "maxmean", None), ("clstm", "gru", 2, "attention", [2, 5]),
        ("clstm", "lstm", 1, "last", [1, 7]), ("rcnn", "lstm", 1, "max", None),
        ("rcnn", "gru", 2, "max", None), ("rcnn", "rnn", 1, "max", None)]
NET_IDS = [f"{h}-{c}-{n}-{p}" for h, c, n, p, _ in NETS]


def make_net(hybrid, cell="lstm", layers=1, pooling="maxmean", kernel_sizes=None,
             bigram_rows=0):
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, hybrid=hybrid, layers=layers, embedding_dim=8,
                         hidden_size=6, pooling=pooling, vocab_size=30, num_classes=3,
                         kernel_sizes=kernel_sizes, bigram_rows=bigram_rows, bigram_slots=64)
    return build_net(config).eval()


@pytest.mark.parametrize("hybrid,cell,layers,pooling,kernel_sizes", NETS, ids=NET_IDS)
def test_shapes_and_a_text_alone_equals_it_in_a_padded_batch(hybrid, cell, layers, pooling,
                                                              kernel_sizes):
    net = make_net(hybrid, cell, layers, pooling, kernel_sizes)
    assert isinstance(net, NET[hybrid])
    seqs = [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [2], [3, 4]]  # 1 and 2: shorter than kernels
    ids, lengths = collate(seqs)
    with torch.no_grad():
        batched = net(ids, lengths)
        assert batched.shape == (4, 3) and torch.isfinite(batched).all()
        assert net.features(ids, lengths).shape == (4, net.feature_size)
        for i, seq in enumerate(seqs):
            alone = net(*collate([seq]))
            torch.testing.assert_close(batched[i], alone[0], atol=1e-6, rtol=1e-5)
        # Extra padding columns (any content in them) must not change anything.
        wider = torch.cat([ids, torch.randint(0, 30, (4, 4))], 1)
        torch.testing.assert_close(net(wider, lengths), batched, atol=1e-6, rtol=1e-5)


def test_clstm_keeps_lengths_and_zeroes_window_features_at_padding():
    net = make_net("clstm", kernel_sizes=[5])
    ids, lengths = collate([[5, 6, 7, 8, 9, 10], [2]])  # the second: shorter than the kernel
    with torch.no_grad():
        windows = net.windows(net.embedding(ids), lengths)  # (B, T, F)
    assert windows.shape == (2, 6, 6)
    assert (windows[1, 1:] == 0).all() and windows[1, 0].abs().sum() > 0


def test_clstm_window_sees_only_its_neighbours():
    net = make_net("clstm", kernel_sizes=[3])
    a, b = torch.tensor([[5, 6, 7, 8, 9, 10, 11]]), torch.tensor([[5, 6, 7, 8, 9, 10, 12]])
    lengths = torch.tensor([7])
    with torch.no_grad():
        wa, wb = (net.windows(net.embedding(x), lengths) for x in (a, b))
    torch.testing.assert_close(wa[0, :5], wb[0, :5])  # windows 0-4 do not reach token 6
    assert not torch.allclose(wa[0, 5:], wb[0, 5:])


def test_rcnn_contexts_exclude_the_word_itself():
    net = make_net("rcnn", layers=2)
    a, b = torch.tensor([[5, 6, 7, 8, 9]]), torch.tensor([[5, 6, 20, 8, 9]])  # word 2 differs
    lengths = torch.tensor([5])
    with torch.no_grad():
        (la, ra), (lb, rb) = (net.contexts(net.embedding(x), lengths) for x in (a, b))
    torch.testing.assert_close(la[0, :3], lb[0, :3])  # left contexts up to word 2 itself
    torch.testing.assert_close(ra[0, 2:], rb[0, 2:])  # right contexts from word 2 on
    assert not torch.allclose(la[0, 3], lb[0, 3]) and not torch.allclose(ra[0, 1], rb[0, 1])
    # the first word's left and the last word's right context are the learned end vectors
    torch.testing.assert_close(la[0, 0], net.left_start)
    torch.testing.assert_close(ra[0, 4], net.right_end)


@pytest.mark.parametrize("hybrid", ARCHS)
def test_every_word_of_a_short_text_counts(hybrid):
    net = make_net(hybrid)
    with torch.no_grad():
        a, b = net(*collate([[5, 6]])), net(*collate([[5, 9]]))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("hybrid", ARCHS)
def test_layer_groups_hold_every_parameter_once(hybrid):
    net = make_net(hybrid, layers=2, bigram_rows=5)
    for pairs_on_top in (False, True):
        groups = layer_groups(net, pairs_on_top=pairs_on_top)
        flat = [id(p) for g in groups for p in g]
        assert sorted(flat) == sorted(id(p) for p in net.parameters())
        assert len(groups) == (5 if hybrid == "clstm" else 4)  # embedding, (convs,) 2 layers, top
        assert any(p is net.embedding.bigrams.weight for p in groups[-1 if pairs_on_top else 0])


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="kernel_sizes"):
        make_net("clstm", kernel_sizes=[0, 3])
    with pytest.raises(ConfigError, match="'hybrid' parameter of ModelConfig"):
        make_net("cnnlstm")
    with pytest.raises(ConfigError, match="'cell' parameter of ModelConfig"):
        make_net("rcnn", cell="cnn")


def test_old_model_config_still_loads_as_no_hybrid():
    old = {k: v for k, v in ModelConfig().to_dict().items() if k != "hybrid"}
    assert ModelConfig.from_dict(old).hybrid is None


def test_a_hybrid_cannot_start_from_a_language_model():
    texts, labels = make_corpus("en", 20)
    with pytest.raises(ConfigError, match="cannot start from a language model"):
        SentimentClassifier(arch="rcnn", init_from="lm-dir", **FAST).fit(texts, labels)


@pytest.mark.parametrize("hybrid", ARCHS)
def test_onnx_graph_has_one_recurrent_op_per_layer_and_parity(hybrid, tmp_path):
    import onnx

    from sentirnn.export.onnx import export_net, onnx_session, parity_batch
    from sentirnn.inference.postprocess import softmax

    torch.manual_seed(0)
    config = ModelConfig(cell="lstm", hybrid=hybrid, layers=2, embedding_dim=12,
                         hidden_size=10, pooling="maxmean", vocab_size=50, num_classes=3,
                         kernel_sizes=[3, 4] if hybrid == "clstm" else None)
    net = build_net(config).eval()
    export_net(net, tmp_path / "m.onnx", opset=17)
    ops = [node.op_type for node in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    # C-LSTM: one bidirectional op a layer; RCNN: a forward and a reverse op a layer
    assert ops.count("LSTM") == (2 if hybrid == "clstm" else 4)
    assert "ReverseSequence" not in ops
    ids, lengths = parity_batch(50, 64)
    with torch.inference_mode():
        want = softmax(net(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy())
    session = onnx_session(tmp_path / "m.onnx", num_threads=1)
    got = softmax(session.run(["logits"], {"ids": ids, "lengths": lengths})[0])
    np.testing.assert_allclose(got, want, atol=1e-5)
    n = int(lengths[-1])  # a one-token text alone, unpadded
    alone = softmax(session.run(["logits"], {"ids": ids[-1:, :n], "lengths": lengths[-1:]})[0])
    np.testing.assert_allclose(alone[0], got[-1], atol=1e-5)


# ---- the classifier -----------------------------------------------------------------------
_FITTED = {}


@pytest.fixture(scope="module", params=ARCHS)
def fitted(request):
    """Fitted once per arch on the tiny English task (about a second each)."""
    if request.param not in _FITTED:
        texts, labels = make_corpus("en", 240, seed=1)
        clf = SentimentClassifier(arch=request.param, **FAST).fit(texts, labels)
        _FITTED[request.param] = clf, texts
    return _FITTED[request.param]


def test_learns_the_tiny_task(fitted):
    """Floor: ≥ 0.9 held-out accuracy (C-LSTM 0.96, RCNN 1.00 on 2026-12-06, 2-core CPU)."""
    clf, _ = fitted
    assert isinstance(clf.net_, NET[clf.arch])
    test_x, test_y = make_corpus("en", 120, seed=7)
    assert clf.evaluate(test_x, test_y).accuracy >= 0.9


def test_predictions_do_not_depend_on_the_batch(fitted):
    clf, texts = fitted
    probe = ["great", "", "bad food", *texts[:20], " ".join(texts[:15])]
    together = clf.predict_proba(probe)
    alone = np.vstack([clf.predict_proba([t]) for t in probe])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_save_load_same_probabilities(fitted, tmp_path):
    from sentirnn.estimators.classifier import load

    clf, texts = fitted
    clf.save(tmp_path / "m")
    back = load(tmp_path / "m")
    assert back.model_config_.hybrid == clf.arch and type(back.net_) is type(clf.net_)
    probe = ["great", "bad", "", "zzz", texts[0], " ".join(texts[:20])]
    np.testing.assert_array_equal(back.predict_proba(probe), clf.predict_proba(probe))


def test_explains(fitted):
    clf, _ = fitted
    result = clf.explain("the food was great")
    assert len(result.tokens) == len(result.scores) == 4
    assert result.label == "positive" and result.top(1)[0][0] == "great"
    assert abs(result.delta) < 0.05


def test_clstm_attention_weights_are_explained():
    texts, labels = make_corpus("en", 80, seed=2)
    clf = SentimentClassifier(arch="clstm", pooling="attention",
                              **{**FAST, "max_epochs": 1}).fit(texts, labels)
    result = clf.explain("the food was great")
    assert len(result.attention) == 4 and sum(result.attention) == pytest.approx(1.0, abs=1e-5)


def test_exports_to_onnx_with_parity_fp32_and_int8(fitted, tmp_path):
    from sentirnn.export.onnx import OnnxClassifier, export_onnx, read_export

    clf, texts = fitted
    clf.save(tmp_path / "m")
    export_onnx(tmp_path / "m", int8=True)
    files = read_export(tmp_path / "m")["files"]
    assert files["model.onnx"]["max_abs_diff"] <= 1e-4
    # int8: the LSTMs and the linear layers quantised; labels agree on the parity batch
    assert files["model.int8.onnx"]["label_agreement"] >= 0.9
    probe = ["great", "", texts[0], " ".join(texts[:30])]
    got = OnnxClassifier.load(tmp_path / "m", num_threads=1).predict_proba(probe)
    np.testing.assert_allclose(got, clf.predict_proba(probe), atol=1e-5)


# what fine_tune(freeze="encoder") may still train: the top layer group
TOP = {"clstm": ("pooling.", "head."), "rcnn": ("left_start", "right_end", "latent.", "head.")}


def test_fine_tune_with_a_frozen_encoder_trains_only_the_top_group(fitted):
    from sklearn.base import clone

    clf, texts = fitted
    labels = make_corpus("en", 240, seed=1)[1]
    copy = clone(clf).fit(texts, labels)
    before = {k: v.clone() for k, v in copy.net_.state_dict().items()}
    copy.fine_tune(texts[:60], labels[:60], freeze="encoder", epochs=1)
    after = copy.net_.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(TOP[clf.arch]) for k in changed), changed


@pytest.mark.parametrize("arch", ARCHS)
def test_cli_train_arch(arch, tmp_path, capsys, monkeypatch):
    import pandas as pd
    from conftest import run_cli

    texts, labels = make_corpus("en", 120, seed=4)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run_cli(capsys, monkeypatch, "train", tmp_path / "t.csv", "--arch", arch,
                           "--out", tmp_path / "m", "--embedding-dim", "16", "--hidden-size",
                           "16", "--epochs", "2", "--min-freq", "1", "--num-threads", "1",
                           "--no-progress")
    assert code == 0, err
    assert f'"hybrid": "{arch}"' in (tmp_path / "m" / "config.json").read_text()
