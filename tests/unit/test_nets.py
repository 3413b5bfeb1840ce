"""Networks: output shapes for every cell × pooling, and exact padding invariance."""

import itertools

import pytest
import torch

from sentirnn.config import ModelConfig
from sentirnn.models import build_net
from sentirnn.models.pooling import POOLINGS
from sentirnn.models.rnn import reverse_within_length
from sentirnn.preprocess.batching import collate

CASES = list(itertools.product(["rnn", "lstm", "gru"], [False, True], POOLINGS))


def make_net(cell, bidirectional, pooling, layers=2):
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, bidirectional=bidirectional, pooling=pooling, layers=layers,
                         embedding_dim=8, hidden_size=6, vocab_size=30, num_classes=3)
    return build_net(config).eval()


@pytest.mark.parametrize("cell,bidirectional,pooling", CASES)
def test_shapes_and_padding_invariance(cell, bidirectional, pooling):
    net = make_net(cell, bidirectional, pooling)
    seqs = [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [2]]
    ids, lengths = collate(seqs)
    with torch.no_grad():
        batched = net(ids, lengths)
        assert batched.shape == (3, 3)
        for i, seq in enumerate(seqs):
            alone = net(*collate([seq]))
            torch.testing.assert_close(batched[i], alone[0], atol=1e-6, rtol=1e-5)
        # Extra padding columns (any content in them) must not change anything.
        wider = torch.cat([ids, torch.randint(0, 30, (3, 4))], 1)
        torch.testing.assert_close(net(wider, lengths), batched, atol=1e-6, rtol=1e-5)


def test_reverse_within_length_keeps_padding_and_is_an_involution():
    x = torch.arange(12, dtype=torch.float).view(2, 6, 1)
    lengths = torch.tensor([4, 6])
    rev = reverse_within_length(x, lengths)
    assert rev[0, :, 0].tolist() == [3, 2, 1, 0, 4, 5]
    assert rev[1, :, 0].tolist() == [11, 10, 9, 8, 7, 6]
    torch.testing.assert_close(reverse_within_length(rev, lengths), x)


def test_backward_direction_reads_the_text_end_first():
    """The backward half of 'last' pooling must depend on the first token (it read it last)."""
    net = make_net("lstm", True, "last", layers=1)
    with torch.no_grad():
        a = net(*collate([[5, 6, 7]]))
        b = net(*collate([[9, 6, 7]]))
    assert not torch.allclose(a, b)


def test_a_reversed_net_is_the_plain_net_on_each_text_read_backwards():
    """config.reverse (a classifier made from a backward LM) flips each text within its length."""
    torch.manual_seed(0)
    config = ModelConfig(cell="lstm", bidirectional=False, layers=2, embedding_dim=8,
                         hidden_size=6, pooling="concat", vocab_size=30, num_classes=2)
    plain = build_net(config).eval()
    reverse = build_net(ModelConfig(**{**config.to_dict(), "reverse": True})).eval()
    reverse.load_state_dict(plain.state_dict())
    ids, lengths = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 10, 0, 0]]), torch.tensor([5, 3])
    backwards = torch.tensor([[7, 6, 5, 4, 3], [10, 9, 8, 0, 0]])
    with torch.no_grad():
        torch.testing.assert_close(reverse(ids, lengths), plain(backwards, lengths))
        assert not torch.allclose(reverse(ids, lengths), plain(ids, lengths))


def test_unknown_cell_is_a_clear_error():
    with pytest.raises(ValueError, match="'cell' parameter"):
        build_net(ModelConfig(cell="transformer", vocab_size=5))
