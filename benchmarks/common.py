"""Shared pieces of the benchmarks: the data sets of ../shared/data and their splits."""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from sentirnn.data.dataset import read_dataset
from sentirnn.data.splits import group_split, stratified_split

DATA = Path(os.environ.get("SENTIRNN_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
SST5_TO_3 = {"very negative": "negative", "negative": "negative", "neutral": "neutral",
             "positive": "positive", "very positive": "positive"}


def pick(ds, idx):
    return [ds.texts[i] for i in idx], [ds.labels[i] for i in idx]


def imdb_movie_split(fractions, seed: int = 0):
    """imdb/train.csv.gz cut by movie → (dataset, one row-index list per fraction).

    Whole movies go to one part (``fractions`` are of the 3,456 movies, shuffled with
    ``seed``): a random split shares movies between its parts, up to 30 reviews each, and
    scores optimistically (issue 33). The one place a benchmark splits IMDb's training file;
    ``(0.7, 0.1, 0.2)`` gives the very parts of protocol.py's ``_imdb`` (checked 2026-12-05).
    """
    import pandas as pd

    path = DATA / "imdb/train.csv.gz"
    ds = read_dataset(path)
    movies = pd.read_csv(path, usecols=["movie"], dtype=str, keep_default_na=False)["movie"]
    if len(movies) != len(ds.texts):  # read_dataset dropped rows: the movies no longer line up
        raise SystemExit(f"{path}: {len(movies)} rows have a movie but read_dataset kept "
                         f"{len(ds.texts)}; split by movie needs every row ({ds.report})")
    return ds, group_split(movies.tolist(), fractions, seed)


def load_task(name: str):
    """→ (train_texts, train_labels, test_texts, test_labels) for a README task name.

    imdb: 90/10 of the movies of imdb/train.csv.gz (seed 0, ``imdb_movie_split``); until
    2026-12 it was a random stratified 90/10 of the reviews, which shares movies.
    """
    if name == "waimai_10k":
        ds = read_dataset(DATA / "waimai_10k/all.csv.gz")
        train, test = stratified_split(ds.labels, (0.8, 0.2), 0)
        return (*pick(ds, train), *pick(ds, test))
    if name == "imdb":
        ds, parts = imdb_movie_split((0.9, 0.1))
        return (*pick(ds, parts[0]), *pick(ds, parts[1]))
    if name in ("sst2", "sst5", "sst5-3"):
        folder = DATA / ("sst2" if name == "sst2" else "sst5")
        mapping = SST5_TO_3 if name == "sst5-3" else None
        tr = read_dataset(folder / "train.csv.gz", label_map=mapping)
        dev = read_dataset(folder / "dev.csv.gz", label_map=mapping)
        return tr.texts, tr.labels, dev.texts, dev.labels
    raise SystemExit(f"unknown task {name!r}: waimai_10k, sst2, sst5, sst5-3, imdb")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """fp32 matrix-product speed with torch's threads, measured now: on a shared 2-core VM it
    moved from 99 to 173 GFLOP/s within one session (2026-12-02), so a benchmark's timings
    are read beside the figure of their own run, not beside the machine type's name."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def machine() -> str:
    import torch

    return (f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, "
            f"{matmul_gflops():.0f} GFLOP/s fp32 matmul), Python {platform.python_version()}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d}")


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def parse_value(value: str):
    """'3' → 3, '0.5' → 0.5, 'true' → True, anything else stays a str (for --set k=v)."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value, value)
