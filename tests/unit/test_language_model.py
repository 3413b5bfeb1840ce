"""The language model: network, softmax, BPTT batches, facade, persistence."""

import copy

import numpy as np
import pytest
import torch
from conftest import make_corpus

from sentirnn.errors import ArtifactError, ConfigError, DataError, NotFittedError
from sentirnn.estimators.language_model import EOS, LanguageModel
from sentirnn.models.language_model_net import (
    LanguageModelConfig,
    LanguageModelNet,
    choose_cutoffs,
    classifier_state,
)
from sentirnn.preprocess.lm_batching import BPTTBatches, window_lengths
from sentirnn.preprocess.tokenize import Tokenizer

TINY = dict(embedding_dim=24, hidden_size=24, layers=2, batch_size=8, bptt=16, min_freq=1,
            num_threads=1, progress=False)


@pytest.fixture(scope="module")
def texts():
    return make_corpus("en", 1200, seed=31)[0]


@pytest.fixture(scope="module")
def fitted(texts):
    return LanguageModel(max_epochs=3, **TINY).fit(texts)


def tiny_net(cutoffs=(10, 30), **kwargs):
    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=50, embedding_dim=8, hidden_size=12, layers=2,
                                 cutoffs=list(cutoffs), **kwargs)
    return LanguageModelNet(config)


@pytest.mark.parametrize("cutoffs", [(), (10,), (10, 30)])
def test_adaptive_softmax_is_a_distribution_and_nll_is_exact(cutoffs):
    net = tiny_net(cutoffs).eval()
    states, hidden = net(torch.randint(0, 50, (3, 7)))
    assert states.shape == (3, 7, 8) and hidden[0][0].shape == (1, 3, 12)
    log_probs = net.log_probs(states.reshape(-1, 8))  # (21, 50)
    torch.testing.assert_close(log_probs.exp().sum(1), torch.ones(21))
    targets = torch.randint(0, 50, (3, 7))
    expected = -log_probs.gather(1, targets.reshape(-1, 1)).squeeze(1)
    torch.testing.assert_close(net.nll(states, targets), expected)


@pytest.mark.parametrize("cutoffs", [(), (10, 30)])
def test_nll_gradient_matches_the_full_distribution(cutoffs):
    """nll touches only each target's cluster; its gradient must still be the exact one."""
    net = tiny_net(cutoffs).eval()
    states, _ = net(torch.randint(0, 50, (3, 7)))
    targets = torch.randint(0, 50, (3, 7))
    weight = net.embedding.table.weight
    fast = torch.autograd.grad(net.nll(states, targets).sum(), weight, retain_graph=True)[0]
    log_probs = net.log_probs(states.reshape(-1, 8))
    full = torch.autograd.grad(-log_probs.gather(1, targets.reshape(-1, 1)).sum(), weight)[0]
    torch.testing.assert_close(fast, full)
    assert full.abs().sum() > 0


def test_decoder_is_tied_to_the_embedding_over_the_whole_vocabulary():
    net = tiny_net()
    names = dict(net.named_parameters())
    assert not [n for n in names if "decoder" in n or "tail" in n]
    states, _ = net(torch.randint(0, 50, (2, 5)))
    net.nll(states, torch.full((2, 5), 45)).mean().backward()  # targets in the last cluster
    assert net.embedding.table.weight.grad[45].abs().sum() > 0


def test_weight_drop_resamples_in_training_and_keeps_plain_lstm_weights():
    net = tiny_net(weight_dropout=0.5, embedding_dropout=0.0, input_dropout=0.0,
                   hidden_dropout=0.0, output_dropout=0.0)
    ids = torch.randint(0, 50, (2, 6))
    net.train()
    a, b = net(ids)[0], net(ids)[0]
    assert not torch.allclose(a, b)  # a new DropConnect mask every forward
    net.eval()
    torch.testing.assert_close(net(ids)[0], net(ids)[0])
    assert "layers.0.weight_hh_l0" in net.state_dict()
    mapped = classifier_state(net.state_dict())
    assert "encoder.forward_layers.1.weight_hh_l0" in mapped and "embedding.table.weight" in mapped
    assert not [k for k in mapped if k.startswith("softmax")]


def test_cutoffs_follow_the_frequencies():
    zipf = (1e6 / np.arange(1, 30001)).astype(int).tolist()
    cuts = choose_cutoffs(zipf)
    assert cuts and cuts == sorted(cuts) and cuts[-1] < 30000
    assert choose_cutoffs([5] * 100) == []  # a small vocabulary needs one plain softmax


def test_bptt_windows_are_contiguous_seeded_and_resumable():
    docs = [np.arange(i * 10, i * 10 + 9) for i in range(30)]
    data = BPTTBatches(docs, batch_size=3, bptt=8, eos=-1, seed=5)
    first = list(data)
    for (x, y), (x2, _) in zip(first, first[1:]):
        assert torch.equal(y[:, :-1], x[:, 1:])  # targets are the next tokens
        assert torch.equal(x2[:, 0], y[:, -1])  # the next window continues the row
    second = list(data)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, second))  # new epoch order
    again = BPTTBatches(docs, batch_size=3, bptt=8, eos=-1, seed=5)
    again.epoch, again.skip = 1, 2
    assert all(torch.equal(a[0], b[0]) for a, b in zip(list(again), second[2:]))


def test_ranks_get_disjoint_equal_shares():
    docs = [np.arange(i * 10, i * 10 + 9) for i in range(40)]
    parts = [BPTTBatches(docs, 2, 8, -1, seed=0, rank=r, world_size=2) for r in (0, 1)]
    assert len(parts[0]) == len(parts[1])
    rows = [p.epoch_windows(0)[0] for p in parts]
    assert not set(rows[0].ravel().tolist()) & set(rows[1].ravel().tolist()) - {-1}


def test_window_lengths_vary_and_fit():
    lengths = window_lengths(10_000, 70, 100, np.random.default_rng(0))
    assert len(set(lengths)) > 10 and sum(lengths) <= 9_999 and min(lengths) >= 5


def test_perplexity_falls_during_pretraining(fitted):
    ppl = [h["val_perplexity"] for h in fitted.history_]
    assert len(ppl) == 3 and ppl[-1] < ppl[0]
    assert fitted.train_summary_["train_tokens_per_s"] > 0


def test_save_load_round_trip(fitted, texts, tmp_path):
    fitted.save(tmp_path / "lm")
    loaded = LanguageModel.load(tmp_path / "lm")
    assert loaded.perplexity(texts[:30]) == pytest.approx(fitted.perplexity(texts[:30]),
                                                          rel=1e-6)
    assert loaded.generate("the food", seed=1) == fitted.generate("the food", seed=1)
    assert loaded.source_["sha256"] and loaded.vocab_.itos[EOS] == "<eos>"


def test_fine_tune_continues_from_the_weights(fitted, texts):
    domain = make_corpus("en", 300, seed=32)[0]
    lm = copy.deepcopy(fitted)
    before = lm.perplexity(domain)
    lm.fine_tune(domain, epochs=2)
    assert lm.perplexity(domain) < before
    assert len(lm.history_) == len(fitted.history_) + 2


@pytest.mark.slow
def test_subword_language_model(texts, tmp_path):
    lm = LanguageModel(tokenizer="subword", vocab_size=80, max_epochs=1, **TINY).fit(texts)
    assert lm.tokenizer_.kind == "subword" and len(lm.vocab_) <= 80
    lm.save(tmp_path / "sw")
    again = LanguageModel.load(tmp_path / "sw")
    assert again.tokenizer_ == lm.tokenizer_
    assert again.generate("the", tokens=5, seed=0) == lm.generate("the", tokens=5, seed=0)


def test_subword_tokenizer_round_trips():
    tok = Tokenizer("subword", "en", vocab_size=60).fit(["lower lowest newer newest"] * 10)
    again = Tokenizer.from_dict(tok.to_dict())
    assert again.tokenize("lowest newer") == tok.tokenize("lowest newer")
    with pytest.raises(ConfigError, match="only used by the 'subword'"):
        Tokenizer("char", "zh", vocab_size=10)


def test_errors(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        LanguageModel().generate("x")
    with pytest.raises(DataError, match="no tokens"):
        LanguageModel(**TINY).fit(["", "  ", "<br/>"])
    with pytest.raises(DataError, match="too few"):
        LanguageModel(**{**TINY, "batch_size": 64}).fit(["good"] * 3)
    with pytest.raises(ConfigError, match="'layers' parameter"):
        LanguageModel(layers=0).fit(["a b"])
    with pytest.raises(ConfigError, match="checkpoint_dir"):
        LanguageModel(**TINY).fit(["a b"], resume=True)
    with pytest.raises(ArtifactError, match="no config.json"):
        LanguageModel.load(tmp_path)


@pytest.mark.slow
def test_backward_model_reads_documents_from_their_end(tmp_path):
    texts = ["alpha beta gamma delta"] * 2000
    kw = {**TINY, "max_epochs": 2, "seed": 0}
    forward = LanguageModel(**kw).fit(texts)
    backward = LanguageModel(direction="backward", **kw).fit(texts)
    # each predicts in its own reading order: after "beta" the forward model expects "gamma";
    # reading "gamma delta" from its end, the backward one expects "beta", then "alpha"
    assert forward.generate("alpha beta", tokens=2, temperature=0.05) == "alpha beta gamma delta"
    assert backward.generate("gamma delta", tokens=2,
                             temperature=0.05) == "alpha beta gamma delta"
    ids = backward.vocab_.encode("alpha beta gamma delta".split())
    assert [d.tolist() for d in backward._docs([ids])] == [ids[::-1]]
    backward.save(tmp_path / "bw")
    again = LanguageModel.load(tmp_path / "bw")
    assert again.direction == "backward"
    assert again.perplexity(texts[:50]) == pytest.approx(backward.perplexity(texts[:50]))
    # it scores the text it learned by reading it backwards; the reversed text reads forwards
    assert again.perplexity(texts[:50]) < 2 < again.perplexity(["delta gamma beta alpha"] * 50)
    with pytest.raises(ConfigError, match="'direction' parameter"):
        LanguageModel(direction="sideways", **TINY).fit(texts)


def test_precision_auto_is_bf16_only_where_the_cpu_multiplies_bf16(monkeypatch):
    from sentirnn.training.loop import lightning_precision

    # torch's private probes are patched on purpose: which of them native_bf16 reads is what
    # this test checks, and torch has no public way to ask
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert lightning_precision("auto", "cpu") == "32-true"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)  # AMX alone suffices
    assert lightning_precision("auto", "cpu") == "bf16-mixed"
    assert lightning_precision("32", "cpu") == "32-true"
    assert lightning_precision("bf16", "cpu") == "bf16-mixed"
    with pytest.raises(ConfigError, match="'precision' parameter"):
        LanguageModel(precision="fp16", **TINY).fit(["a b"])


@pytest.mark.slow
def test_bf16_pretraining_learns_as_fp32_does_and_keeps_fp32_weights(texts, tmp_path):
    kw = {**TINY, "max_epochs": 2}
    full = LanguageModel(precision="32", **kw).fit(texts)
    half = LanguageModel(precision="bf16", **kw).fit(texts)
    assert full.train_summary_["precision"] == "32-true"
    assert half.train_summary_["precision"] == "bf16-mixed"
    ppl32 = [h["val_perplexity"] for h in full.history_]
    ppl16 = [h["val_perplexity"] for h in half.history_]
    assert ppl16[-1] < ppl16[0]
    assert ppl16[-1] == pytest.approx(ppl32[-1], rel=0.05)
    assert ppl16 != ppl32  # the products really ran in bf16
    half.save(tmp_path / "lm")
    loaded = LanguageModel.load(tmp_path / "lm")
    assert {p.dtype for p in loaded.net_.parameters()} == {torch.float32}
    assert loaded.perplexity(texts[:30]) == pytest.approx(half.perplexity(texts[:30]), rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["32", "bf16"])
def test_gradients_are_clipped_in_either_precision(texts, precision):
    kw = {**TINY, "max_epochs": 2, "precision": precision}
    free = LanguageModel(grad_clip=0, **kw).fit(texts)
    # a norm of 1e-12 leaves Adam steps of ~1e-6 × lr: the model stays near uniform
    clipped = LanguageModel(grad_clip=1e-12, **kw).fit(texts)
    uniform = len(clipped.vocab_)
    assert free.history_[-1]["val_perplexity"] < 0.8 * uniform
    assert clipped.history_[-1]["val_perplexity"] > 0.9 * uniform
