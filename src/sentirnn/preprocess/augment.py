"""tokens → more tokens: EDA data augmentation for the training set (Wei & Zou, 2019).

"EDA: Easy Data Augmentation Techniques for Boosting Performance on Text Classification" uses
four cheap operations on a token list — synonym replacement (SR), random insertion (RI), random
swap (RS) and random deletion (RD) — with one knob, ``rate`` (their alpha): the share of tokens
an operation changes. It helps most on small training sets. The operations work on any token
list, so Chinese jieba words, Chinese characters and English words are all fine.

Synonyms are nearest neighbours in word-vector space (there is no WordNet for Chinese here).
Known uncertainty: distributional neighbours of a sentiment word include its antonyms ("good" →
"bad" is a close neighbour in most vector sets), so SR can flip a label; ``min_similarity`` and
the stop-word / punctuation filter limit it, and it is why rates above ~0.2 are not advised.
Without vectors SR is skipped (and logged), and RI inserts a word of the same text instead.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Sequence

from sentirnn.errors import ConfigError

log = logging.getLogger("sentirnn")
OPERATIONS = ("synonym", "insert", "swap", "delete")


class Neighbours:
    """Nearest neighbours ("synonyms") of a word, from gensim KeyedVectors, cached.

    Parameters
    ----------
    keyed_vectors : gensim KeyedVectors
    allowed : collection of str, optional
        Only these words are candidates (and only these get neighbours), e.g. the classifier's
        vocabulary, so a replacement never becomes ``<unk>``. It also keeps the search small:
        neighbours are looked up among the allowed words only, not a 2M-word file.
    topn : how many neighbours to draw from. min_similarity : cosine floor for a neighbour.
    """

    def __init__(self, keyed_vectors, allowed: Collection[str] | None = None, topn: int = 8,
                 min_similarity: float = 0.3):
        if allowed is not None:
            from gensim.models import KeyedVectors  # start-up: gensim costs ~1 s

            words = [w for w in dict.fromkeys(allowed) if w in keyed_vectors.key_to_index]
            small = KeyedVectors(keyed_vectors.vector_size)
            if words:
                small.add_vectors(words, [keyed_vectors.get_vector(w) for w in words])
            keyed_vectors = small
        self.kv, self.topn, self.min_similarity = keyed_vectors, topn, min_similarity
        self._cache: dict[str, list[str]] = {}

    def __call__(self, word: str) -> list[str]:
        if word not in self._cache:
            found = []
            if word in self.kv.key_to_index and len(self.kv) > 1:
                found = [w for w, sim in self.kv.most_similar(word, topn=self.topn)
                         if sim >= self.min_similarity and w != word]
            self._cache[word] = found
        return self._cache[word]


def _count(tokens: Sequence[str], rate: float) -> int:
    return max(1, round(rate * len(tokens)))


def synonym_replacement(tokens: list[str], rate: float, rng: random.Random, neighbours,
                        protected: Collection[str] = ()) -> list[str]:
    """Replace up to rate×len distinct content words by one of their neighbours each."""
    out = list(tokens)
    candidates = [i for i, t in enumerate(out) if _content(t, protected) and neighbours(t)]
    rng.shuffle(candidates)
    for i in candidates[:_count(out, rate)]:
        out[i] = rng.choice(neighbours(out[i]))
    return out


def random_insertion(tokens: list[str], rate: float, rng: random.Random, neighbours=None,
                     protected: Collection[str] = ()) -> list[str]:
    """Insert rate×len words at random places: a neighbour of a random word of the text, or
    (without vectors, or when no word has one) a random word of the text itself."""
    out = list(tokens)
    if not out:
        return out
    for _ in range(_count(tokens, rate)):
        word = rng.choice(out)
        options = neighbours(word) if neighbours is not None and _content(word, protected) else []
        out.insert(rng.randrange(len(out) + 1), rng.choice(options) if options else word)
    return out


def random_swap(tokens: list[str], rate: float, rng: random.Random) -> list[str]:
    """Swap two random positions, rate×len times."""
    out = list(tokens)
    if len(out) < 2:
        return out
    for _ in range(_count(out, rate)):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(tokens: list[str], rate: float, rng: random.Random) -> list[str]:
    """Delete each token with probability ``rate``; at least one token always stays."""
    if len(tokens) <= 1:
        return list(tokens)
    out = [t for t in tokens if rng.random() >= rate]
    return out or [rng.choice(tokens)]


def _content(token: str, protected: Collection[str]) -> bool:
    """A word worth replacing: has a letter or digit and is not a stop word / special."""
    return token not in protected and any(ch.isalnum() for ch in token)


def eda(tokens: list[str], rate: float, rng: random.Random, neighbours=None,
        protected: Collection[str] = (), operation: str | None = None) -> list[str]:
    """One augmented copy of a token list with one EDA operation (random when not given)."""
    ops = [op for op in OPERATIONS if op != "synonym" or neighbours is not None]
    op = operation or rng.choice(ops)
    if op == "synonym":
        return synonym_replacement(tokens, rate, rng, neighbours, protected)
    if op == "insert":
        return random_insertion(tokens, rate, rng, neighbours, protected)
    if op == "swap":
        return random_swap(tokens, rate, rng)
    if op == "delete":
        return random_deletion(tokens, rate, rng)
    raise ConfigError(f"EDA operation must be one of {', '.join(OPERATIONS)}; got {op!r}")


def augment_tokens(token_lists: Sequence[list[str]], labels: Sequence, rate: float,
                   copies: int = 1, seed: int = 0, neighbours=None,
                   protected: Collection[str] = ()) -> tuple[list[list[str]], list]:
    """The training set plus ``copies`` EDA copies of every text, each with its source's label.

    Parameters
    ----------
    token_lists, labels : the tokenized training texts and their labels (same length).
    rate : float in (0, 1)
        EDA's alpha: the share of a text's tokens each operation changes (0.05–0.2 is typical).
    copies : augmented copies per text (EDA's n_aug).
    seed : the same seed gives the same copies.
    neighbours : callable word → list of similar words (see :class:`Neighbours`), optional;
        without it synonym replacement is skipped.
    protected : words never replaced (stop words, specials).

    Returns
    -------
    tuple of (list of token lists, list of labels)
        The originals first, in order, then the copies (copy k of text i at
        ``len(texts) * (k + 1) + i``).

    Examples
    --------
    >>> toks, ys = augment_tokens([["a", "b", "c", "d"]], ["pos"], rate=0.25, copies=2)
    >>> len(toks), ys
    (3, ['pos', 'pos', 'pos'])
    """
    if len(token_lists) != len(labels):
        raise ConfigError(f"augment got {len(token_lists)} token lists but {len(labels)} labels")
    if not 0.0 < rate < 1.0:
        raise ConfigError(f"augment rate must be in (0, 1); got {rate!r}")
    if not isinstance(copies, int) or copies < 1:
        raise ConfigError(f"augment copies must be an integer >= 1; got {copies!r}")
    if neighbours is None:
        log.info("augment: no word vectors, so synonym replacement is skipped (set embeddings "
                 "to use their nearest neighbours as synonyms)")
    rng = random.Random(seed)
    out, ys = [list(t) for t in token_lists], list(labels)
    for _ in range(copies):
        for tokens, label in zip(token_lists, labels):
            out.append(eda(list(tokens), rate, rng, neighbours, protected))
            ys.append(label)
    return out, ys
