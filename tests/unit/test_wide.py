"""The wide bag (models/wide.py) beside a recurrent net: zero at first, a scaled sum of token
and pair weights, padding invariance, the shared pair table, dropout, ONNX parity, fit/save/
load, explain, the CLI flag, the refused combinations, a language model's encoder, layer
groups and a new head."""

import json

import numpy as np
import pytest
import torch
from conftest import FAST, make_corpus, run_cli

from sentirnn import SentimentClassifier
from sentirnn.config import ModelConfig
from sentirnn.errors import ConfigError
from sentirnn.models import build_net
from sentirnn.models.embedding import bigram_slots
from sentirnn.preprocess.batching import collate

torch.set_num_threads(1)

VOCAB, SLOTS = 40, 64


def make_net(wide=True, bigram_rows=0, wide_pair_rows=0, filled=True):
    """A small seeded net; ``filled``: non-zero bag weights and a pair table that sends
    every slot to a row (else the bag starts at zero, as fitting does)."""
    torch.manual_seed(0)
    config = ModelConfig(embedding_dim=8, hidden_size=6, vocab_size=VOCAB, num_classes=3,
                         bigram_rows=bigram_rows, bigram_slots=SLOTS, wide=wide,
                         wide_pair_rows=wide_pair_rows)
    net = build_net(config).eval()
    table = (np.arange(SLOTS) % 7 + 1).astype(np.int32)  # rows 1..7; row 0 stays "no pair"
    if bigram_rows:
        net.embedding.set_bigram_slot_rows(table)
    elif wide and wide_pair_rows:
        net.wide.set_pair_slot_rows(table)
    if wide and filled:
        with torch.no_grad():
            for table_ in (net.wide.tokens, net.wide.pairs):
                if table_ is not None:
                    table_.weight.normal_()
                    table_.weight[0].zero_()
    return net


def test_a_new_bag_is_zero_so_training_starts_from_the_recurrent_net():
    seqs = [[5, 6, 7], [8, 9, 10, 11], [2]]
    with torch.no_grad():
        for rows in ((0, 0), (0, 8), (8, 0)):
            plain = make_net(False, rows[0])(*collate(seqs))
            torch.testing.assert_close(make_net(True, *rows, filled=False)(*collate(seqs)),
                                       plain)


def test_the_bag_is_the_sum_of_token_and_pair_weights_over_root_length():
    net = make_net(bigram_rows=0, wide_pair_rows=8)
    ids = [5, 6, 7]
    slot_rows = net.wide.pair_slot_rows
    pair_row = [int(slot_rows[bigram_slots(a, b, SLOTS)]) for a, b in zip(ids, ids[1:])]
    want = (net.wide.tokens.weight[ids].sum(0) + net.wide.pairs.weight[pair_row].sum(0)) / 3**0.5
    with torch.no_grad():
        got = net.wide_logits(*collate([ids]))[0]
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("bigram_rows,wide_pair_rows", [(0, 0), (0, 8), (8, 0)],
                         ids=["tokens", "own-pairs", "shared-pairs"])
def test_a_text_alone_equals_it_in_a_padded_batch(bigram_rows, wide_pair_rows):
    net = make_net(True, bigram_rows, wide_pair_rows)
    seqs = [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [2], [3, 4]]
    ids, lengths = collate(seqs)
    with torch.no_grad():
        batched = net(ids, lengths)
        assert not torch.allclose(batched, make_net(False, bigram_rows)(ids, lengths))
        for i, seq in enumerate(seqs):
            torch.testing.assert_close(batched[i], net(*collate([seq]))[0], atol=1e-6,
                                       rtol=1e-5)


def test_with_pairs_in_the_embedding_the_bag_reads_its_table_and_keeps_no_copy():
    net = make_net(bigram_rows=8)
    assert "wide.pair_slot_rows" not in net.state_dict()
    assert net.wide.pairs.num_embeddings == 8
    ids, lengths = collate([[5, 6, 7, 8]])
    with torch.no_grad():
        before = net.wide_logits(ids, lengths)
        net.embedding.bigram_slot_rows.fill_(3)  # every pair → row 3: the bag follows
        after = net.wide_logits(ids, lengths)
    want = (net.wide.tokens.weight[[5, 6, 7, 8]].sum(0) + 3 * net.wide.pairs.weight[3]) / 2
    torch.testing.assert_close(after[0], want)
    assert not torch.allclose(before, after)


def test_dropout_only_while_training_and_whole_positions():
    """In training a position's token and pair weights are dropped together or kept
    together (scaled by 1 / (1 - 0.5)); in evaluation nothing is dropped."""
    net = make_net(wide_pair_rows=8)
    ids, lengths = collate([list(range(2, 30))])
    with torch.no_grad():
        evaluated = {tuple(net.wide_logits(ids, lengths)[0].tolist()) for _ in range(3)}
        full = net.wide_terms(ids, lengths)[0]  # (T, C)
        net.wide.train()
        trained = {tuple(net.wide_logits(ids, lengths)[0].tolist()) for _ in range(3)}
        dropped = net.wide_terms(ids, lengths)[0]
    assert len(evaluated) == 1 and len(trained) == 3
    kept = dropped.abs().sum(1) > 0  # (T,)
    assert 0 < int(kept.sum()) < len(kept)
    torch.testing.assert_close(dropped[kept], 2 * full[kept])
    with pytest.raises(ValueError, match="no pair table of its own"):
        make_net(bigram_rows=8).wide.set_pair_slot_rows(np.zeros(SLOTS, dtype=np.int32))


@pytest.mark.parametrize("bigram_rows,wide_pair_rows", [(0, 8), (8, 0)],
                         ids=["own-pairs", "shared-pairs"])
def test_onnx_has_the_same_probabilities(tmp_path, bigram_rows, wide_pair_rows):
    from sentirnn.export.onnx import export_net, onnx_session, parity_batch
    from sentirnn.inference.postprocess import softmax

    net = make_net(True, bigram_rows, wide_pair_rows)
    export_net(net, tmp_path / "m.onnx", opset=17)
    ids, lengths = parity_batch(VOCAB, 64)
    with torch.inference_mode():
        want = softmax(net(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy())
        plain = softmax(make_net(False, bigram_rows)(torch.from_numpy(ids),
                                                     torch.from_numpy(lengths)).numpy())
    got = softmax(onnx_session(tmp_path / "m.onnx", num_threads=1)
                  .run(["logits"], {"ids": ids, "lengths": lengths})[0])
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(got - plain).max() > 1e-2  # the bag is in the graph


def test_an_old_model_config_loads_without_a_bag():
    old = {k: v for k, v in ModelConfig().to_dict().items() if not k.startswith("wide")}
    assert ModelConfig.from_dict(old).wide is False


# ---- the classifier -----------------------------------------------------------------------
_FITTED = {}


@pytest.fixture(scope="module", params=["en", "zh"])
def fitted(request):
    """Fitted once per language (English: the bag's own pairs; Chinese: the embedding's)."""
    if request.param not in _FITTED:
        texts, labels = make_corpus(request.param, 240, seed=1)
        clf = SentimentClassifier(wide=True, **FAST).fit(texts, labels)
        _FITTED[request.param] = clf, texts, labels
    return _FITTED[request.param]


def test_learns_the_tiny_task_and_the_bag_learned(fitted):
    clf, texts, _ = fitted
    assert clf.net_.wide is not None and clf.net_.wide.tokens.weight.abs().sum() > 0
    pairs_shared = clf.model_config_.bigram_rows > 0
    assert (clf.net_.wide.pair_slot_rows is None) == pairs_shared
    assert pairs_shared == (clf.language_ == "zh")
    language = "zh" if pairs_shared else "en"
    test_x, test_y = make_corpus(language, 120, seed=7)
    assert clf.evaluate(test_x, test_y).accuracy >= 0.9


def test_save_load_and_batch_free_probabilities(fitted, tmp_path):
    from sentirnn.estimators.classifier import load

    clf, texts, _ = fitted
    clf.save(tmp_path / "m")
    back = load(tmp_path / "m")
    assert back.model_config_.wide and back.net_.wide is not None
    probe = [texts[0], "", "zzz", " ".join(texts[:20]), texts[3]]
    together = back.predict_proba(probe)
    np.testing.assert_array_equal(together, clf.predict_proba(probe))
    alone = np.vstack([back.predict_proba([t]) for t in probe])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_explains_the_probability_the_classifier_gives(fitted):
    clf, texts, _ = fitted
    result = clf.explain(texts[0])
    probs = clf.predict_proba([texts[0]])[0]
    assert result.label == clf.classes_[int(probs.argmax())]
    assert len(result.tokens) == len(result.scores) > 0


@pytest.mark.parametrize("params,match", [
    (dict(arch="textcnn"), "arch='textcnn'"),
    (dict(arch="rcnn"), "arch='rcnn'"),
    (dict(wide="yes"), "wide"),
])
def test_refused_combinations_say_what_to_do(params, match):
    texts, labels = make_corpus("en", 20)
    with pytest.raises(ConfigError, match=match):
        SentimentClassifier(**{"wide": True, **params, **FAST}).fit(texts, labels)


def test_the_cli_flag_reaches_the_saved_model(tmp_path, capsys, monkeypatch):
    texts, labels = make_corpus("en", 120, seed=2)
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)),
                    encoding="utf-8")
    out = tmp_path / "m"
    code, _, err = run_cli(capsys, monkeypatch, "train", data, "--out", out, "--wide",
                           "--max-epochs", "1", "--embedding-dim", "8", "--hidden-size", "8",
                           "--num-threads", "1")
    assert code == 0, err
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["model"]["wide"]


# ---- on a language model's encoder, layer groups, a new head ------------------------------
def test_from_a_chinese_language_model_the_bag_trains_from_the_first_epoch(tmp_path):
    """The bag is new, like the head: in the top group of the ULMFiT schedule, so epoch 1
    (the only one here, with only the top group unfrozen) trains it."""
    from sentirnn.estimators.classifier import load
    from sentirnn.estimators.language_model import LanguageModel

    lm = LanguageModel(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16,
                       min_freq=1, max_epochs=1, num_threads=1,
                       progress=False).fit(make_corpus("zh", 600, seed=43)[0])
    texts, labels = make_corpus("zh", 160, seed=44)
    clf = SentimentClassifier.from_language_model(
        lm, wide=True, max_epochs=1, batch_size=16, num_threads=1, progress=False,
        valid_fraction=0.0).fit(texts, labels)
    state = clf.net_.state_dict()
    assert clf.model_config_.bigram_rows > 100 and "wide.pair_slot_rows" not in state
    assert torch.count_nonzero(state["wide.tokens.weight"]) > 0
    assert torch.count_nonzero(state["wide.pairs.weight"]) > 0
    torch.testing.assert_close(state["embedding.table.weight"],  # still frozen in epoch 1
                               lm.net_.state_dict()["embedding.table.weight"])
    clf.save(tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").predict_proba(texts[:20]),
                                  clf.predict_proba(texts[:20]))


def test_layer_groups_put_the_bag_on_top_and_hold_every_parameter_once():
    from sentirnn.estimators.finetune import layer_groups

    for bigram_rows, wide_pair_rows in ((0, 8), (8, 0)):
        net = make_net(True, bigram_rows, wide_pair_rows)
        for pairs_on_top in (False, True):
            groups = layer_groups(net, pairs_on_top=pairs_on_top)
            flat = [id(p) for g in groups for p in g]
            assert sorted(flat) == sorted(id(p) for p in net.parameters())
            assert all(any(p is q for q in groups[-1]) for p in net.wide.parameters())


def test_new_labels_get_a_new_zero_bag_of_the_same_tokens(fitted):
    import copy

    clf, _, _ = fitted
    language = clf.language_
    texts, labels = make_corpus(language, 90, seed=43, labels=("bad", "meh", "good"))
    tuned = copy.deepcopy(clf)
    tuned.fine_tune(texts, labels, epochs=1, schedule="standard")
    assert tuned.classes_ == ["bad", "good", "meh"]
    assert tuned.net_.wide.tokens.weight.shape == (len(clf.vocab_), 3)
    assert tuned.predict_proba(texts[:3]).shape == (3, 3)
    if clf.net_.wide.pair_slot_rows is not None:
        torch.testing.assert_close(tuned.net_.wide.pair_slot_rows, clf.net_.wide.pair_slot_rows)


def test_finetune_refuses_the_flag_on_a_classifier_source(fitted, tmp_path, capsys,
                                                          monkeypatch):
    clf, texts, labels = fitted
    clf.save(tmp_path / "m")
    data = tmp_path / "more.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)),
                    encoding="utf-8")
    code, _, err = run_cli(capsys, monkeypatch, "finetune", tmp_path / "m", data, "--out",
                           tmp_path / "tuned", "--wide")
    assert code != 0 and "--wide" in err and "language model only" in err
    assert len(err.strip().splitlines()) == 1


def test_explanations_give_the_bag_its_share(fitted):
    """With the recurrent half silenced (a zero head), the decision is the bag's alone: the
    scores still add up to the label probability's change from the baseline (a zero bag and
    zero embeddings: 0.5), and the word the bag weighs is the one that decided."""
    import copy

    clf, texts, _ = fitted
    clf = copy.deepcopy(clf)
    word = texts[0].split()[0] if clf.language_ == "en" else texts[0][0]
    ids = clf.pipeline_.encode_one(word, clf.max_len, clf.truncation)[1]
    with torch.no_grad():
        clf.net_.head.weight.zero_()
        clf.net_.head.bias.zero_()
        for table in (clf.net_.wide.tokens, clf.net_.wide.pairs):
            table.weight.zero_()
        clf.net_.wide.tokens.weight[ids[0]] = torch.tensor([-2.0, 2.0])
    text = f"{word} {texts[1]}" if clf.language_ == "en" else word + texts[1]
    result = clf.explain(text, steps=64)
    p = result.probabilities[clf.classes_[1]]
    assert result.label == clf.classes_[1] and p > 0.6
    assert result.top(1)[0][0] == word
    assert sum(result.scores) == pytest.approx(p - 0.5, abs=0.01)
