"""raw texts → id sequences: the preprocessing every predictor shares.

The PyTorch estimator, the ONNX predictor and the explainer must turn a text into exactly
the same ids, or one model would answer differently behind each of them. This module is that
single path — clean → tokenize → vocabulary ids → truncate (an empty text gets one
``<unk>``) — and it imports no torch, so the ONNX predictor can use it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sentirnn.config import TextConfig
from sentirnn.errors import DataError
from sentirnn.preprocess.batching import UNK, prepare, truncate
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer
from sentirnn.preprocess.vocab import Vocab

log = logging.getLogger("sentirnn")
MIN_COVERAGE = 0.5  # below this share of known tokens the model and the data do not match


def check_texts(texts, where: str = "predict") -> list[str]:
    """Refuse a bare string (a classic silent bug: it iterates as characters)."""
    if isinstance(texts, str):
        raise DataError(f"expected a list of texts, got one str; wrap it: {where}([{texts!r}])"
                        if len(texts) < 40 else
                        f"expected a list of texts, got one str; wrap it: {where}([text])")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise DataError(f"text {i} is {type(t).__name__}, not str; "
                            "convert missing values to '' or drop them first")
    return texts


def tokenize_texts(texts: Sequence[str], text_config: TextConfig,
                   tokenizer: Tokenizer) -> list[list[str]]:
    """raw texts → cleaned → token lists (not yet truncated)."""
    return tokenizer.tokenize_many(clean_many(texts, text_config))


def encode_texts(texts: Sequence[str], text_config: TextConfig, tokenizer: Tokenizer,
                 vocab: Vocab, max_len: int, truncation: str) -> list[list[int]]:
    """raw texts → truncated id sequences, each of length ≥ 1.

    Parameters
    ----------
    texts : sequence of str
    text_config, tokenizer, vocab : the preprocessing stored with a model.
    max_len, truncation : longest sequence in tokens and which part to keep (see batching).

    Returns
    -------
    list of list of int
        One id sequence per text, in input order.
    """
    ids = vocab.encode_many(tokenize_texts(texts, text_config, tokenizer))
    return prepare(ids, max_len, truncation)


def encode_one(text: str, text_config: TextConfig, tokenizer: Tokenizer, vocab: Vocab,
               max_len: int, truncation: str) -> tuple[list[str], list[int]]:
    """One raw text → (tokens, ids) as the model sees them, aligned one to one.

    Tokens keep their original strings even where the id is ``<unk>`` (for explanations);
    an empty text becomes the single token ``vocab.itos[UNK]``, exactly like ``prepare``.
    """
    tokens = truncate(tokenize_texts([text], text_config, tokenizer)[0], max_len, truncation)
    if not tokens:
        return [vocab.itos[UNK]], [UNK]
    return tokens, vocab.encode(tokens)


def check_coverage(seqs: list[list[int]], where: str, owner: str, tokenizer) -> float:
    """Share of tokens the vocabulary knows; a clear DataError below ``MIN_COVERAGE``.

    A language model (or classifier) trained on other text — another language, another
    tokenizer — would see mostly ``<unk>``: refuse instead of training on noise; warn
    below 90%.
    """
    total = sum(len(s) for s in seqs)
    known = total - sum(s.count(UNK) for s in seqs)
    coverage = known / total if total else 0.0
    if coverage < MIN_COVERAGE:
        raise DataError(
            f"only {coverage:.0%} of the tokens of {where} are in the {owner}'s vocabulary "
            f"({tokenizer.kind} tokens, language {tokenizer.language!r}): the texts are unlike "
            "the ones it was trained on; use a model trained on similar text")
    if coverage < 0.9:
        log.warning("only %.0f%% of the tokens of %s are in the %s's vocabulary", 100 * coverage,
                    where, owner)
    return coverage
