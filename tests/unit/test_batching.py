"""Batching: truncation, padding + lengths, bucketing keeps every row."""

from sentirnn.preprocess.batching import BucketSampler, bucket_batches, collate, prepare, truncate


def test_truncate_head_tail_and_both():
    ids = list(range(20))
    assert truncate(ids, 8, "head") == list(range(8))
    assert truncate(ids, 8, "tail") == list(range(12, 20))
    assert truncate(ids, 8, "head+tail") == [0, 1] + list(range(14, 20))
    assert truncate(ids, 50, "head+tail") == ids


def test_prepare_gives_empty_texts_one_unknown_token():
    assert prepare([[], [4, 5]], 10, "head") == [[1], [4, 5]]


def test_collate_pads_with_zero_and_reports_lengths():
    ids, lengths = collate([[3, 4], [5], [6, 7, 8]])
    assert ids.tolist() == [[3, 4, 0], [5, 0, 0], [6, 7, 8]]
    assert lengths.tolist() == [2, 1, 3]


def test_bucketing_keeps_all_rows_and_groups_similar_lengths():
    lengths = [i % 37 + 1 for i in range(500)]
    batches = bucket_batches(lengths, 16, seed=3)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(500))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread / len(batches) < 8  # random batches would span ~30
    assert bucket_batches(lengths, 16, seed=3) == batches
    assert bucket_batches(lengths, 16, seed=4) != batches


def test_sampler_reshuffles_per_epoch_and_shards_for_ddp():
    lengths = list(range(1, 101))
    sampler = BucketSampler(lengths, 10, seed=0)
    assert list(sampler) != list(sampler)
    shards = [list(BucketSampler(lengths, 10, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert not {i for b in shards[0] for i in b} & {i for b in shards[1] for i in b}
