"""tokens → ids: specials, min_freq/max_size, determinism and the JSON form of Vocab."""

from __future__ import annotations

import json

import pytest

from sentirnn.errors import ArtifactError, ConfigError, DataError
from sentirnn.preprocess.vocab import Vocab

DOCS = [["good", "movie"], ["bad", "movie"], ["good", "plot"], ["movie"]]


def test_specials_come_first():
    v = Vocab.build(DOCS)
    assert v.itos[:2] == ["<pad>", "<unk>"]
    assert v.stoi["<pad>"] == Vocab.PAD == 0
    assert v.stoi["<unk>"] == Vocab.UNK == 1
    assert v.itos[2:] == ["movie", "good", "bad", "plot"]  # by count, then by token
    assert len(v) == 6 and "movie" in v and "great" not in v


def test_specials_in_text_are_not_duplicated():
    v = Vocab.build([["<unk>", "a", "<pad>"]])
    assert v.itos == ["<pad>", "<unk>", "a"]


def test_min_freq():
    assert Vocab.build(DOCS, min_freq=2).itos == ["<pad>", "<unk>", "movie", "good"]


def test_max_size_counts_specials():
    assert Vocab.build(DOCS, max_size=3).itos == ["<pad>", "<unk>", "movie"]
    assert len(Vocab.build(DOCS, max_size=2)) == 2
    with pytest.raises(ConfigError, match="max_size"):
        Vocab.build(DOCS, max_size=1)
    with pytest.raises(ConfigError, match="min_freq"):
        Vocab.build(DOCS, min_freq=0)


def test_ties_are_deterministic_whatever_the_input_order():
    docs = [["z", "y", "x"], ["c", "b", "a"]]
    first = Vocab.build(docs)
    second = Vocab.build([list(reversed(d)) for d in reversed(docs)])
    assert first.itos == second.itos == ["<pad>", "<unk>", "a", "b", "c", "x", "y", "z"]


def test_encode_decode_and_unknown_is_one():
    v = Vocab.build(DOCS)
    assert v.encode(["good", "awful", "movie"]) == [3, 1, 2]
    assert v.encode_many([["bad"], [], ["zzz"]]) == [[4], [], [1]]
    assert v.decode([3, 1, 0]) == ["good", "<unk>", "<pad>"]
    with pytest.raises(DataError, match="outside the vocabulary"):
        v.decode([99])


def test_json_round_trip():
    v = Vocab.build(DOCS, specials=("<pad>", "<unk>", "<bos>"))
    back = Vocab.from_dict(json.loads(json.dumps(v.to_dict())))
    assert back == v
    assert back.itos == v.itos and back.stoi == v.stoi
    assert back.specials == ["<pad>", "<unk>", "<bos>"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"specials": ["<pad>", "<unk>"], "itos": ["<unk>", "<pad>", "a"]}, "must come first"),
        ({"specials": ["<pad>", "<unk>"], "itos": ["<pad>", "<unk>", "a", "a"]}, "more than once"),
        ({"specials": ["<pad>"], "itos": ["<pad>", "a"]}, "at least two"),
        ({"specials": ["<pad>", "<unk>"], "itos": ["<pad>", "<unk>", 3]}, "list of strings"),
        ({"itos": ["<pad>", "<unk>"]}, "expected an object with keys"),
        (["<pad>", "<unk>"], "expected an object with keys"),
    ],
)
def test_corrupt_dict_is_an_artifact_error(data, message):
    with pytest.raises(ArtifactError, match=message):
        Vocab.from_dict(data)
