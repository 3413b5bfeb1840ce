"""Training tokens/s: sentirnn's loop vs a plain hand-written PyTorch loop, same model.

Usage: python benchmarks/bench_training_speed.py [TASK] [--n 8000] [--epochs 1]

Both train the default BiLSTM (the same ClassifierNet config, the same ids, the same
Adam settings) for the same number of epochs, in this one process. The plain loop is
what people write first: shuffled random batches of 64 padded to their longest text,
``pack_padded_sequence`` not needed because the net masks by length. tokens/s counts
real (unpadded) tokens, so padding waste shows up as lost speed.
"""

from __future__ import annotations

import argparse
import random
import time

import torch
import torch.nn.functional as F
from common import load_task, machine

from sentirnn import SentimentClassifier
from sentirnn.models import build_net
from sentirnn.preprocess.batching import collate
from sentirnn.training.loop import FUSED_ADAM


def plain_loop(net, seqs, labels, epochs: int, batch_size: int = 64, lr: float = 2e-3) -> float:
    # The library's Adam settings, fused kernel included (sentirnn.training.loop.FUSED_ADAM).
    opt = torch.optim.Adam(net.parameters(), lr=lr, fused=FUSED_ADAM or None)
    net.train()
    order = list(range(len(seqs)))
    tokens, start = 0, time.perf_counter()
    for epoch in range(epochs):
        random.Random(epoch).shuffle(order)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            ids, lengths = collate([seqs[j] for j in idx])
            y = torch.tensor([labels[j] for j in idx])
            loss = F.cross_entropy(net(ids, lengths), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            tokens += int(lengths.sum())
    return tokens / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default="sst2")
    parser.add_argument("--n", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    train_x, train_y, _, _ = load_task(args.task)
    pairs = list(zip(train_x, train_y))
    random.Random(0).shuffle(pairs)
    train_x, train_y = map(list, zip(*pairs[: args.n]))
    ours, plain = 0.0, 0.0
    # Alternate the two loops and keep each one's best round: other processes on a shared
    # machine then slow both alike instead of whichever happened to run at the time.
    for _ in range(args.rounds):
        clf = SentimentClassifier(max_epochs=args.epochs, valid_fraction=0.0, progress=False)
        clf.fit(train_x, train_y)
        ours = max(ours, max(h["train_tokens_per_s"] for h in clf.history_))
        seqs = clf._encode(train_x)
        index = {c: i for i, c in enumerate(clf.classes_)}
        torch.manual_seed(0)
        net = build_net(clf.model_config_)
        plain = max(plain, plain_loop(net, seqs, [index[y] for y in train_y], args.epochs))
    print(f"machine: {machine()}; task {args.task}, {len(seqs)} texts, "
          f"{sum(map(len, seqs)) / len(seqs):.0f} tokens/text, {args.epochs} epoch(s)")
    print("| loop | train tokens/s | ratio |")
    print("|---|---|---|")
    print(f"| plain PyTorch (random batches) | {plain:,.0f} | 1.00 |")
    print(f"| sentirnn (Lightning, bucketed) | {ours:,.0f} | {ours / plain:.2f} |")


if __name__ == "__main__":
    main()
