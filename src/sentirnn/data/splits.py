"""rows → splits: seeded train/dev/test index lists, stratified by label or grouped."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from sentirnn.errors import ConfigError

logger = logging.getLogger("sentirnn")


def _stratified_cut(labels: np.ndarray, fractions: list[float], seed: int) -> list[np.ndarray]:
    # start-up: scikit-learn (~1.5 s); reading data without a split must not wait for it
    from sklearn.model_selection import train_test_split

    parts, rest = [], np.arange(len(labels))
    for i, frac in enumerate(fractions[:-1]):
        share = frac / sum(fractions[i:])  # of what is left, not of the whole
        part, rest = train_test_split(rest, train_size=share, random_state=seed + i,
                                      stratify=labels[rest])
        parts.append(part)
    return parts + [rest]


def stratified_split(labels: Sequence[str], fractions: Sequence[float],
                     seed: int) -> list[list[int]]:
    """Split row indices into parts with the same label proportions, reproducibly.

    Parameters
    ----------
    labels : sequence of str
        One label per row.
    fractions : sequence of float
        Share of rows per part, e.g. ``(0.8, 0.1, 0.1)``; positive and summing to 1.
    seed : int
        Same seed, same labels → same split.

    Returns
    -------
    list of list of int
        One index list per fraction; disjoint and together covering every row. When a class
        is too small to stratify, a plain seeded split is used and a warning logged (with very
        few rows a part may then be empty).

    Examples
    --------
    >>> train, dev = stratified_split(["a", "b"] * 50, (0.8, 0.2), seed=0)
    >>> len(train), len(dev)
    (80, 20)
    """
    fractions = [float(f) for f in fractions]
    if len(fractions) < 2 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(f"The 'fractions' parameter of stratified_split must hold two or more "
                          f"positive numbers summing to 1. Got {fractions!r} instead.")
    y = np.asarray([str(x) for x in labels], dtype=object)
    try:
        parts = _stratified_cut(y, fractions, seed)
    except ValueError as err:  # a class too small for every part, or a part of 0 rows
        logger.warning("stratified split impossible (%s); using an unstratified seeded split",
                       err)
        # plain cut of a seeded permutation: never fails, tiny inputs may give empty parts
        cuts = np.round(np.cumsum(fractions)[:-1] * len(y)).astype(int)
        parts = np.split(np.random.default_rng(seed).permutation(len(y)), cuts)
    rng = np.random.default_rng(seed)
    # sort first so the order depends only on the membership and the seed
    return [rng.permutation(np.sort(part)).tolist() for part in parts]


def group_split(groups: Sequence[str], fractions: Sequence[float],
                seed: int) -> list[list[int]]:
    """Split row indices so that all rows of a group land in the same part, reproducibly.

    Rows that share a group (IMDb reviews of one movie, say) are near-duplicates for a model:
    a random split puts some in training and the rest in the held-out part, and the held-out
    score comes out optimistic. Here the distinct groups are shuffled with ``seed`` and cut by
    ``fractions`` *of the groups*, so the row counts follow the fractions only as far as the
    groups are of similar size. Labels are not stratified.

    Parameters
    ----------
    groups : sequence of str
        One group name per row.
    fractions : sequence of float
        Share of groups per part, e.g. ``(0.9, 0.1)``; positive and summing to 1.
    seed : int
        Same seed, same groups → same split.

    Returns
    -------
    list of list of int
        One index list per fraction, in a seeded order; disjoint, together covering every row,
        and no group in two parts. With fewer groups than parts, a part may be empty.

    Examples
    --------
    >>> groups = [f"movie{i // 3}" for i in range(60)]  # 20 movies, 3 rows each
    >>> train, test = group_split(groups, (0.9, 0.1), seed=0)
    >>> len(train), len(test), {groups[i] for i in train} & {groups[i] for i in test}
    (54, 6, set())
    """
    fractions = [float(f) for f in fractions]
    if len(fractions) < 2 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(f"The 'fractions' parameter of group_split must hold two or more "
                          f"positive numbers summing to 1. Got {fractions!r} instead.")
    keys = np.asarray([str(g) for g in groups], dtype=object)
    names = np.array(sorted(set(keys)), dtype=object)  # sorted: the order of rows does not matter
    np.random.default_rng(seed).shuffle(names)
    # group i goes to the first part whose cumulative share of the groups exceeds i / n
    bounds = np.cumsum(fractions)[:-1] * len(names)
    part_of = dict(zip(names, np.searchsorted(bounds, np.arange(len(names)), side="right")))
    where = np.array([part_of[k] for k in keys], dtype=int)
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(where == k)).tolist() for k in range(len(fractions))]


# Phrase-level data (SST's treebank phrases: every sentence plus its labelled sub-phrases). A
# random held-out share of such rows is mostly short phrases whose own sentence, and its other
# phrases, stay in training: validation then scores far above the dev sentences, and early
# stopping watches the wrong curve (SST-2's figures: docs/lab-notes.md, "Validating on sentences").
PHRASE_SHARE = 1 / 3  # rows that are phrases of other rows, before a split counts as phrase-level
PHRASE_PROBE = 500  # rows sampled to decide cheaply whether to look further
MAX_PHRASE_TOKENS = 100  # longer rows are taken as whole sentences, never searched for phrases


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.lower().split())


def _inner(words: tuple[str, ...], known) -> set[tuple[str, ...]]:
    """The proper contiguous sub-sequences of ``words`` that are rows of their own."""
    n = len(words)
    if n > MAX_PHRASE_TOKENS:
        return set()
    return {words[s:s + k] for k in range(1, n) for s in range(n - k + 1)} & known


def sentence_split(texts: Sequence[str], strata: Sequence[str], fraction: float,
                   seed: int) -> tuple[list[int], list[int], dict] | None:
    """Hold out whole sentences of phrase-level data, or ``None`` for ordinary data.

    Rows are phrase-level when at least a third of them are word sequences found inside other
    rows. Then ``fraction`` of the *sentences* (rows inside no other row), stratified by
    ``strata``, become validation rows, and every phrase that occurs only inside those held-out
    sentences leaves training, as if the phrase table had been built from the training
    sentences alone. Returns (training rows, validation rows, counts for the log).

    Examples
    --------
    >>> texts = ["a fine film", "fine film", "fine", "a good cast", "good cast",
    ...          "a dull plot", "dull plot", "dull", "a bad end", "bad end"]
    >>> labels = ["pos"] * 5 + ["neg"] * 5
    >>> train, held, info = sentence_split(texts, labels, 0.5, seed=0)
    >>> sorted(labels[i] for i in held), all(len(texts[i].split()) == 3 for i in held)
    (['neg', 'pos'], True)
    >>> info["sentences"], info["phrases_dropped"], len(train)
    (4, 3, 5)
    """
    keys = [_words(t) for t in texts]
    known = set(keys)
    rng = np.random.default_rng(seed)
    probe = rng.choice(len(keys), min(PHRASE_PROBE, len(keys)), replace=False)
    if sum(len(_inner(keys[i], known)) for i in probe) < PHRASE_SHARE * len(probe):
        return None  # cheap exit: ordinary rows hold (almost) no other rows
    contained: set[tuple[str, ...]] = set()
    inner: dict[int, set] = {}
    # longest first: a row inside another has all its phrases inside that one too, so only
    # the sentences need searching
    for i in sorted(range(len(keys)), key=lambda i: -len(keys[i])):
        if keys[i] not in contained and keys[i] not in inner:
            inner[i] = _inner(keys[i], known)
            contained |= inner[i]
    if sum(k in contained for k in keys) < PHRASE_SHARE * len(keys):
        return None
    sentences = sorted(inner)
    keep, held = stratified_split([strata[i] for i in sentences], (1 - fraction, fraction), seed)
    held = [sentences[j] for j in held]
    in_training = set().union(*(inner[sentences[j]] for j in keep))
    held_keys = {keys[i] for i in held}
    dropped = (set().union(*(inner[i] for i in held)) - in_training) | held_keys
    held_rows = set(held)
    train = [i for i, k in enumerate(keys) if k not in dropped]
    info = {"rows": len(keys), "sentences": len(sentences), "valid_sentences": len(held),
            "phrases_dropped": sum(k not in held_keys for k in dropped),
            "rows_dropped": len(keys) - len(train) - len(held_rows)}
    return train, held, info
