"""Token-pair (bigram) embeddings: the slot table, the lookup, and their use in fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_corpus

from sentirnn.errors import ConfigError
from sentirnn.estimators.classifier import SentimentClassifier
from sentirnn.models.embedding import TokenEmbedding, bigram_slots, build_bigram_slot_rows

TINY = dict(embedding_dim=16, hidden_size=16, max_epochs=3, batch_size=16, lr=1e-2,
            min_freq=1, progress=False, num_threads=1)


def slot(a: int, b: int, slots: int) -> int:
    return int(bigram_slots(np.int64(a), np.int64(b), slots))


def test_slot_table_keeps_frequent_pairs_most_frequent_first():
    seqs = [[2, 3, 4], [2, 3], [2, 3, 5], [4, 5], [4, 5]]  # (2,3)×3, (4,5)×2, others once
    table, rows = build_bigram_slot_rows(seqs, min_freq=2, max_rows=100, slots=1 << 16)
    assert rows == 3  # row 0 (none) + two kept pairs
    assert table[slot(2, 3, 1 << 16)] == 1 and table[slot(4, 5, 1 << 16)] == 2
    assert table[slot(3, 4, 1 << 16)] == 0 and table[slot(3, 5, 1 << 16)] == 0
    assert np.count_nonzero(table) == 2
    capped, rows = build_bigram_slot_rows(seqs, min_freq=1, max_rows=2, slots=1 << 16)
    assert rows == 2 and np.count_nonzero(capped) == 1 and capped[slot(2, 3, 1 << 16)] == 1
    empty, rows = build_bigram_slot_rows([[7], []], min_freq=1, max_rows=10, slots=64)
    assert rows == 1 and not empty.any()


def test_embedding_adds_the_pair_vector_and_ignores_padding():
    torch.manual_seed(0)
    emb = TokenEmbedding(10, 4, bigram_rows=3, bigram_slots=64).eval()
    table, rows = build_bigram_slot_rows([[2, 3, 4], [2, 3, 4]], 2, 10, slots=64)
    assert rows == 3
    emb.set_bigram_slot_rows(table)
    ids = torch.tensor([[2, 3, 4, 0, 0], [3, 2, 0, 0, 0]])
    out = emb(ids)
    tok, pair = emb.table.weight, emb.bigrams.weight
    torch.testing.assert_close(out[0, 0], tok[2] + pair[table[slot(2, 3, 64)]])
    torch.testing.assert_close(out[0, 1], tok[3] + pair[table[slot(3, 4, 64)]])
    torch.testing.assert_close(out[0, 2], tok[4])  # the last token pairs with padding: none
    torch.testing.assert_close(out[1, 0], tok[3])  # (3, 2) was never seen
    alone = emb(torch.tensor([[2, 3, 4]]))
    torch.testing.assert_close(alone[0], out[0, :3])  # padding does not change a vector
    with pytest.raises(ValueError, match="does not match"):
        emb.set_bigram_slot_rows(np.zeros(32, dtype=np.int32))
    with pytest.raises(ValueError, match="points past"):
        emb.set_bigram_slot_rows(np.full(64, 9, dtype=np.int32))


@pytest.mark.slow
def test_auto_turns_bigrams_on_for_characters_only():
    zh = SentimentClassifier(**TINY).fit(*make_corpus("zh", 120, seed=3))
    assert zh.tokenizer_.kind == "char"
    assert zh.model_config_.bigram_rows == zh.train_summary_["bigrams"] + 1 > 1
    assert zh.model_config_.embedding_dropout == 0.5
    en = SentimentClassifier(**TINY).fit(*make_corpus("en", 120, seed=3))
    assert en.model_config_.bigram_rows == 0 and "bigrams" not in en.train_summary_
    assert en.net_.embedding.bigrams is None
    assert en.model_config_.embedding_dropout == 0.3
    forced = SentimentClassifier(bigrams="on", **TINY).fit(*make_corpus("en", 120, seed=3))
    assert forced.model_config_.bigram_rows > 1
    off = SentimentClassifier(bigrams="off", **TINY).fit(*make_corpus("zh", 120, seed=3))
    assert off.model_config_.bigram_rows == 0


@pytest.mark.slow
def test_bigram_model_round_trips_and_is_padding_invariant(tmp_path):
    texts, labels = make_corpus("zh", 160, seed=4)
    clf = SentimentClassifier(**TINY).fit(texts, labels)
    slots = clf.net_.embedding.bigram_slot_rows
    assert int(slots.count_nonzero()) == clf.train_summary_["bigrams"]  # no two pairs collide
    clf.save(tmp_path / "m")
    again = SentimentClassifier.load(tmp_path / "m")
    assert torch.equal(again.net_.embedding.bigram_slot_rows, slots)
    probe = texts[:20] + ["", "好", texts[0] * 5]
    batched = clf.predict_proba(probe)
    np.testing.assert_allclose(again.predict_proba(probe), batched, atol=1e-6)
    single = np.vstack([clf.predict_proba([t]) for t in probe])
    np.testing.assert_allclose(single, batched, atol=1e-5)


def test_bigrams_parameter_is_validated():
    with pytest.raises(ConfigError, match="'bigrams' parameter"):
        SentimentClassifier(bigrams="yes", **TINY).fit(*make_corpus("zh", 40))


def test_embedding_dropout_default_follows_bigrams():
    clf = SentimentClassifier()
    assert clf._embedding_dropout(0) == 0.3 and clf._embedding_dropout(5) == 0.5
    assert SentimentClassifier(embedding_dropout=0.1)._embedding_dropout(5) == 0.1
    with pytest.raises(ConfigError, match="'embedding_dropout' parameter"):
        SentimentClassifier(embedding_dropout=1.5, **TINY).fit(*make_corpus("zh", 40))
