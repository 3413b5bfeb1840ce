"""group_split: whole groups per part, fractions of the groups, one split per seed."""

import numpy as np
import pytest

from sentirnn.data.splits import group_split
from sentirnn.errors import ConfigError


def _groups(n_groups=200, seed=0):
    """Rows of n_groups groups of 1–30 rows each (like IMDb's reviews per movie), shuffled."""
    rng = np.random.default_rng(seed)
    rows = [f"g{g}" for g in range(n_groups) for _ in range(rng.integers(1, 31))]
    rng.shuffle(rows)
    return rows


def test_group_split_keeps_groups_whole_and_covers_every_row():
    groups = _groups()
    parts = group_split(groups, (0.7, 0.1, 0.2), seed=0)
    assert sorted(i for p in parts for i in p) == list(range(len(groups)))
    members = [{groups[i] for i in p} for p in parts]
    assert not (members[0] & members[1] or members[0] & members[2] or members[1] & members[2])
    # the fractions are of the groups: 140 / 20 / 40 of 200
    assert [len(m) for m in members] == [140, 20, 40]
    shares = [len(p) / len(groups) for p in parts]  # rows follow only roughly
    assert shares == pytest.approx([0.7, 0.1, 0.2], abs=0.1)


def test_group_split_is_deterministic_for_a_seed():
    groups = _groups()
    parts = group_split(groups, (0.9, 0.1), seed=0)
    assert parts == group_split(groups, (0.9, 0.1), seed=0)
    assert parts != group_split(groups, (0.9, 0.1), seed=1)
    # membership depends on the set of groups, not on the order of the rows
    order = np.random.default_rng(3).permutation(len(groups))
    shuffled = [groups[i] for i in order]
    held = {shuffled[i] for i in group_split(shuffled, (0.9, 0.1), seed=0)[1]}
    assert held == {groups[i] for i in parts[1]}


def test_group_split_tiny_and_invalid():
    assert group_split(["a", "a", "b"], (0.5, 0.5), seed=0) in ([[0, 1], [2]], [[1, 0], [2]],
                                                                [[2], [0, 1]], [[2], [1, 0]])
    one = group_split(["a", "a"], (0.5, 0.5), seed=0)  # one group: one part stays empty
    assert sorted(one[0] + one[1]) == [0, 1] and [] in one
    with pytest.raises(ConfigError, match="fractions"):
        group_split(["a", "b"], (0.5, 0.6), seed=0)
