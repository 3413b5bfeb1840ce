"""Self-training: a first model labels unlabelled texts, a second learns from both.

With a few hundred labels and many unlabelled texts (the few-shot case of the ULMFiT
workflow) a classifier trained on the labels alone (the *teacher*) scores the unlabelled
pool; for each class the texts it is surest belong there become *pseudo-labelled* training
texts, and a fresh classifier (the *student*, made the same way) trains on the real and the
pseudo labels together. Validation — early stopping, the best epoch, the report — uses real
labels only: the teacher's held-out split, never pseudo labels. A student fine-tuned from
a language model ends on its last epoch instead of its best-validating one (``student``).

How many pseudo labels: ``ratio`` × the real training texts, shared out by the real labels'
class shares, each class taking its most confident texts among those the teacher gives that
class (fewer when the pool has fewer). Texts that are also labelled or validation texts are
left out of the pool.

How much it helps, and after how many rounds it stops helping, is in docs/results.md
("Few labels + unlabelled reviews").
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from sentirnn.errors import ConfigError, DataError
from sentirnn.estimators.fit_data import hold_out
from sentirnn.estimators.multilabel import MultiLabelClassifier
from sentirnn.preprocess.encode import check_texts

log = logging.getLogger(__name__)


def pseudo_label(clf, pool: Sequence[str], wanted: dict[str, int]
                 ) -> tuple[list[str], list[str], dict]:
    """The ``wanted[c]`` texts of ``pool`` that ``clf`` is surest are class ``c``.

    A text is a candidate for the class it is predicted as, so no text gets two labels.
    Returns (texts, labels, report) with the count and lowest probability taken per class.
    """
    proba = clf.predict_proba(list(pool))
    predicted = proba.argmax(1)
    texts, labels, report = [], [], {}
    for c, name in enumerate(clf.classes_):
        mine = np.flatnonzero(predicted == c)
        best = mine[np.argsort(-proba[mine, c], kind="stable")][:wanted.get(name, 0)]
        texts += [pool[i] for i in best]
        labels += [name] * len(best)
        report[name] = {"taken": int(len(best)), "wanted": int(wanted.get(name, 0)),
                        "predicted": int(len(mine)),
                        "min_probability": float(proba[best, c].min()) if len(best) else None}
    return texts, labels, report


def student(make: Callable[[], object]):
    """A fresh student; one fine-tuned from a language model ends on its last epoch.

    Its validation is the few real labels only, on which the best epoch is a noisy pick;
    ending on the last epoch of ULMFiT's schedule (as fastai does) did at least as well
    (docs/results.md "The students end on their last epoch"). Students trained from scratch
    keep the best epoch (early stopping ends their runs on plateaus). This overrides a
    ``restore_best`` that ``make`` set itself.
    """
    model = make()
    if getattr(model, "schedule", None) == "ulmfit":
        model.set_params(restore_best=False)
    return model


def self_train(make: Callable[[], object], texts: Sequence[str], labels: Sequence[str],
               unlabelled: Sequence[str], valid=None, ratio: float = 20.0,
               pool_size: int | None = None, rounds: int = 1, seed: int = 0,
               on_round: Callable[[int, object], None] | None = None):
    """Teacher on the labels → pseudo labels from ``unlabelled`` → student on both.

    Parameters
    ----------
    make : a function returning a fresh, unfitted classifier (``SentimentClassifier(...)``
        or ``SentimentClassifier.from_language_model(lm, ...)``); called ``rounds + 1`` times.
        Students made from a language model end on their last epoch (``student``).
    texts, labels, valid : as for ``SentimentClassifier.fit``; without ``valid`` the
        teacher's seeded split is made once and used by every model.
    unlabelled : texts without labels.
    ratio : pseudo-labelled texts per real training text.
    pool_size : score a seeded sample of this many unlabelled texts (default: all).
    rounds : each round's student is the next round's teacher (same pool, fresh labels).
    on_round : called with (round, student) after each round, e.g. to score it.

    Returns the last student; its ``train_summary_["self_training"]`` records the pool, and
    per round the teacher's validation macro-F1 and what was taken per class.
    """
    if ratio <= 0 or rounds < 1:
        raise ConfigError(f"self-training needs ratio > 0 and rounds ≥ 1 (got ratio {ratio}, "
                          f"rounds {rounds})")
    texts, labels = check_texts(texts, "self_train"), [str(y) for y in labels]
    if len(texts) != len(labels):
        raise DataError(f"self_train got {len(texts)} texts but {len(labels)} labels")
    model = make()
    if isinstance(model, MultiLabelClassifier):
        # pseudo_label gives each text the one class it is surest of
        raise ConfigError("self-training pseudo-labels one class a text; it does not combine "
                          "with a multi-label classifier (--multi-label)")
    train_x, train_y, valid, _ = hold_out(texts, labels, valid, model.valid_fraction,
                                          model.seed)
    known = set(train_x) | set(valid[0] if valid else ())
    pool = [t for t in dict.fromkeys(check_texts(unlabelled, "self_train"))
            if t.strip() and t not in known]
    if not pool:
        raise DataError("self-training needs unlabelled texts that are neither empty nor also "
                        "labelled; the unlabelled set has none")
    if pool_size and pool_size < len(pool):
        pool = random.Random(seed).sample(pool, pool_size)
    wanted = {c: round(ratio * n) for c, n in Counter(train_y).items()}
    start = time.perf_counter()
    model.fit(train_x, train_y, valid=valid)
    history = []
    for r in range(1, rounds + 1):
        log.info("self-training round %d: the teacher labels %d unlabelled texts, %s wanted",
                 r, len(pool), wanted)
        px, py, taken = pseudo_label(model, pool, wanted)
        filled = {c: v["taken"] / max(v["wanted"], 1) for c, v in taken.items()}
        short = {c: taken[c]["taken"] for c, f in filled.items() if f < 0.5 * max(filled.values())}
        if short:
            # a teacher that favours one class hands the student a skewed training set (a
            # pool too small for every class alike is not skewed, only smaller)
            log.warning("self-training: the teacher predicted too few unlabelled texts as %s "
                        "(taken %s of %s wanted); the pseudo labels are unbalanced",
                        ", ".join(map(repr, short)), short, {c: wanted[c] for c in short})
        f1 = model.report_.macro_f1 if model.report_ is not None else None
        model = student(make).fit(train_x + px, train_y + py, valid=valid)
        history.append({"round": r, "teacher_valid_macro_f1": f1, "pseudo_labels": len(px),
                        "per_class": taken})
        if on_round is not None:
            on_round(r, model)
    model.train_summary_["self_training"] = {
        "ratio": ratio, "pool": len(pool), "real_labels": len(train_x), **history[-1],
        "rounds": history, "seconds": round(time.perf_counter() - start, 1)}
    return model
