"""labelled texts → training and validation rows: what ``fit`` and ``fine_tune`` train on.

The steps between the text pipeline and the fit loop: hold out validation data, split
texts into sentences (``truncation="sentences"``), add augmented copies, look up pretrained
vectors, collect token pairs, and weigh classes. Each takes plain data and settings, not an
estimator, so the classifier's ``fit`` and ``fine_tune`` share them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from itertools import chain

import numpy as np
import torch

from sentirnn.data.splits import sentence_split, stratified_split
from sentirnn.inference.sentences import SENTENCES, pooled_logits, split_many
from sentirnn.models.embedding import build_bigram_slot_rows, pairs_wanted
from sentirnn.preprocess.augment import Neighbours, augment_tokens
from sentirnn.preprocess.embeddings import load_vectors, vectors_for_vocab
from sentirnn.preprocess.encode import check_texts
from sentirnn.preprocess.tokenize import load_stopwords
from sentirnn.preprocess.vocab import Vocab

log = logging.getLogger("sentirnn")


def hold_out(texts: list[str], labels: list, valid, fraction: float, seed: int,
             strata: list[str] | None = None):
    """(train texts, train labels, valid or None, split info or None).

    ``valid`` given is used as is; else a seeded, stratified ``fraction`` is held out (on
    phrase-level data whole sentences, leaving out the phrases found only inside them).
    """
    if valid is not None:
        return texts, labels, (check_texts(valid[0], "fit"), list(valid[1])), None
    if fraction <= 0:
        return texts, labels, None, None
    strata = labels if strata is None else strata
    info = None
    found = sentence_split(texts, strata, fraction, seed)
    if found is not None:
        keep, held, info = found
        log.info("phrase-level data (%d of %d rows are whole sentences, the rest phrases "
                 "inside them): holding out %d sentences for validation and leaving out "
                 "the %d phrases found only inside them", info["sentences"], len(texts),
                 len(held), info["phrases_dropped"])
    else:
        keep, held = stratified_split(strata, (1 - fraction, fraction), seed)
        log.info("holding out %d of %d training texts for validation", len(held), len(texts))
    return ([texts[i] for i in keep], [labels[i] for i in keep],
            ([texts[i] for i in held], [labels[i] for i in held]), info)


def units(texts: list[str], labels: list, truncation: str, language: str):
    """Texts and labels → what the network trains on: the texts, or with
    ``truncation="sentences"`` their sentences, each carrying its text's label."""
    if truncation != SENTENCES:
        return texts, labels
    sentences, owner = split_many(texts, language)
    log.info("truncation='sentences': %d texts → %d sentences", len(texts), len(sentences))
    return sentences, [labels[i] for i in owner]


def valid_rows(encode: Callable[[list[str]], list[list[int]]], texts: list[str],
               targets: list, truncation: str, language: str, sentence_pooling: str):
    """Validation texts and targets → (id sequences, targets, valid_pool) for the fit loop.

    With ``truncation="sentences"`` the rows are sentences and ``valid_pool`` pools their
    logits back into documents, so early stopping watches document macro-F1.
    """
    if truncation != SENTENCES:
        return encode(texts), targets, None
    sentences, owner = split_many(texts, language)
    seqs = encode(sentences)
    lengths, y = [len(s) for s in seqs], np.asarray(targets)

    def valid_pool(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pooled_logits(logits, owner, len(texts), sentence_pooling, lengths), y

    return seqs, [targets[i] for i in owner], valid_pool


def pretrained(path, vocab: Vocab, tokens: list[list[str]], dim: int | None, seed: int):
    """(matrix, Coverage, KeyedVectors) of the vector file at ``path`` for ``vocab``."""
    keyed = load_vectors(path)
    matrix, coverage = vectors_for_vocab(
        vocab, keyed, dim, Counter(chain.from_iterable(tokens)), seed=seed, source=str(path),
        dim_name="embedding_dim (--embedding-dim)")
    log.info("%s", coverage)
    return matrix, coverage, keyed


def augmented(tokens: list[list[str]], labels: list, vocab: Vocab, rate: float, copies: int,
              seed: int, language: str, keyed=None):
    """Training tokens and labels plus EDA copies (synonyms from ``keyed`` when given,
    drawn from the vocabulary so a replacement is never ``<unk>``)."""
    specials = set(vocab.specials)
    allowed = [t for t in vocab.itos if t not in specials]
    neighbours = Neighbours(keyed, allowed=allowed) if keyed is not None else None
    protected = specials | load_stopwords(language)
    out, ys = augment_tokens(tokens, labels, float(rate), copies, seed, neighbours, protected)
    log.info("augment: %d training texts → %d (rate %g, %d cop%s)", len(tokens), len(out),
             rate, copies, "y" if copies == 1 else "ies")
    return out, ys


def bigram_table(train_ids: list[list[int]], bigrams: str, kind: str, two_lms: bool,
                 max_vocab: int):
    """(slot → row table, rows) of the training token pairs, or (None, 0) without them."""
    if not pairs_wanted(bigrams, kind, two_lms):
        return None, 0
    # every pair, not min_freq: unlike rare characters, pairs seen once helped (docs/results.md)
    return build_bigram_slot_rows(train_ids, 1, max_vocab)


def wide_pair_table(train_ids: list[list[int]], table, max_vocab: int):
    """(slot → row table, rows) of the wide bag's own pairs: none when the embedding has
    pairs (the bag reads the embedding's, ``ClassifierNet``), else every training pair kept
    as ``bigram_table`` would keep them."""
    return (None, 0) if table is not None else build_bigram_slot_rows(train_ids, 1, max_vocab)


def class_weights(targets: list[int], n_classes: int) -> torch.Tensor:
    """Inverse class frequencies ("balanced"), as the loss weighs them."""
    counts = Counter(targets)
    return torch.tensor([len(targets) / (n_classes * counts.get(i, 1)) for i in range(n_classes)],
                        dtype=torch.float32)
