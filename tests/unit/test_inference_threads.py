"""Prediction threads: the same probabilities whatever the thread count, single-threaded
torch workers that leave the caller's and the process's thread counts alone, every
classifier kind accepting ``set_threads``, and a clean exit with workers running."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier
from sentirnn.errors import ConfigError
from sentirnn.estimators.classifier import load
from sentirnn.estimators.multilabel import MultiLabelClassifier


@pytest.fixture(scope="module")
def corpus():
    texts, labels = make_corpus("en", 240, seed=4)
    # a few long texts too, so batches of very different lengths meet
    return texts + [" ".join(texts[:40]), ""], labels + ["positive", "negative"]


@pytest.fixture(scope="module")
def fitted(corpus):
    return SentimentClassifier(**FAST).fit(*corpus)


def in_new_thread(fn):
    box = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join()
    return box[0]


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"truncation": "sentences"}, {"arch": "bigru"}],
                         ids=["bilstm", "sentences", "bigru"])
def test_probabilities_agree_for_any_thread_count(corpus, params):
    clf = SentimentClassifier(**{**FAST, **params}).fit(*corpus)
    texts = corpus[0]
    want = clf.set_threads(1).predict_proba(texts)
    for threads in (2, 3, None):
        # equal to float32 rounding: other worker counts give the matrix kernels other batch
        # shapes, and on some CPUs (AMX) that moves the last bit
        np.testing.assert_allclose(clf.set_threads(threads).predict_proba(texts), want,
                                   rtol=0, atol=1e-6)
        # a small request is split across the workers: still the same numbers
        np.testing.assert_allclose(clf.predict_proba(texts[:5]), want[:5], rtol=0, atol=1e-6)
        assert (clf.predict_proba(texts).argmax(1) == want.argmax(1)).all()
    assert clf.set_threads(2).evaluate(*corpus).accuracy == \
        clf.set_threads(1).evaluate(*corpus).accuracy


def test_workers_run_one_thread_each_and_leave_other_threads_alone(fitted):
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the caller's count and the process default, known values
    try:
        fitted.set_threads(3)
        assert fitted.workers_ == 3
        counts = {fitted.executor_.submit(torch.get_num_threads).result() for _ in range(12)}
        assert counts == {1}
        assert torch.get_num_threads() == 2  # the caller
        assert in_new_thread(torch.get_num_threads) == 2  # a thread started afterwards
        fitted.predict_proba(["great food"])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_the_pool_starts_on_first_use_and_survives_copies(corpus):
    clf = SentimentClassifier(**FAST).fit(*corpus)
    # fit itself predicts (validation report), so the pool exists; one per core by default
    import os

    assert clf.executor_ is not None and clf.workers_ == (os.cpu_count() or 1)
    twin = copy.deepcopy(clf)
    np.testing.assert_array_equal(twin.predict_proba(corpus[0][:20]),
                                  clf.predict_proba(corpus[0][:20]))
    assert twin.executor_ is not clf.executor_


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused_in_one_sentence(fitted, bad):
    with pytest.raises(ConfigError, match=r"'threads' parameter of set_threads") as info:
        fitted.set_threads(bad)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_every_classifier_kind_accepts_set_threads(corpus, fitted, tmp_path):
    from sentirnn.classic.baselines import BaselineClassifier
    from sentirnn.estimators.ensemble import EnsembleClassifier

    texts, labels = corpus
    base = BaselineClassifier(arch="tfidf-lr").fit(texts, labels)
    want = base.predict_proba(texts)
    np.testing.assert_array_equal(base.set_threads(2).predict_proba(texts), want)

    multi = MultiLabelClassifier(**FAST).fit(texts, labels)
    want = multi.set_threads(1).predict_proba(texts)
    np.testing.assert_array_equal(multi.set_threads(2).predict_proba(texts), want)
    assert multi.workers_ == 2

    paths = [fitted.save(tmp_path / "a"), base.save(tmp_path / "b")]
    ens = EnsembleClassifier(paths).set_threads(2).fit()  # passed on when members load
    assert ens.members_[0].workers_ == 2
    want = ens.predict_proba(texts)
    loaded = load(ens.save(tmp_path / "ens")).set_threads(1)
    assert loaded.members_[0].workers_ == 1
    np.testing.assert_array_equal(loaded.predict_proba(texts), want)


@pytest.mark.slow
def test_a_process_predicting_on_workers_exits_without_closing_them(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    script = (f"import sentirnn\nclf = sentirnn.load({str(path)!r}).set_threads(2)\n"
              "print(clf.predict(['great food'] * 200)[0])\n")
    # The timeout only turns a hang into a failure; it measures nothing.
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in fitted.classes_


def _predict_in_child(clf, texts, queue):
    queue.put(clf.predict_proba(texts))


def test_a_forked_child_predicts_on_threads_of_its_own(fitted, corpus):
    import multiprocessing

    texts = corpus[0][:30]
    want = fitted.set_threads(2).predict_proba(texts)  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_predict_in_child, args=(fitted, texts, queue))
    child.start()
    try:
        got = queue.get(timeout=120)  # the timeout only turns a hang into a failure
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    np.testing.assert_array_equal(got, want)
