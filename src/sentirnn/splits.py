"""rows → splits: seeded, stratified train/dev/test index lists."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from sentirnn.errors import ConfigError

logger = logging.getLogger("sentirnn")


def _stratified_cut(labels: np.ndarray, fractions: list[float], seed: int) -> list[np.ndarray]:
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
