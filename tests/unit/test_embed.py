"""Document vectors: ``embed`` is the pooled state the head reads, whatever the batch."""

import numpy as np
import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier
from sentirnn.errors import DataError, NotFittedError
from sentirnn.inference.postprocess import softmax

TEXTS = ["great", "the movie was really bad and the plot boring", "",
         "good food and a wonderful service", "cold awful food " * 12]


@pytest.fixture(scope="module", params=["bilstm", "textcnn"])
def clf(request):
    return SentimentClassifier(arch=request.param, **FAST).fit(*make_corpus("en", 120, seed=5))


def test_one_float32_row_per_text_of_the_heads_width(clf):
    vectors = clf.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), clf.net_.feature_size) == (5, clf.net_.head.in_features)
    assert vectors.dtype == np.float32 and np.isfinite(vectors).all()
    assert clf.embed([]).shape == (0, clf.net_.feature_size)


def test_a_texts_vector_is_the_same_alone_and_in_a_padded_batch(clf):
    together = clf.embed(TEXTS)
    alone = np.stack([clf.embed([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    clf.inference_batch_size = 2  # other batches, other padding
    try:
        np.testing.assert_allclose(clf.embed(TEXTS[::-1])[::-1], together, atol=1e-5)
        clf.set_threads(1)  # one worker: encode all, then batch (no pipelining)
        np.testing.assert_allclose(clf.embed(TEXTS), together, atol=1e-5)
    finally:
        del clf.inference_batch_size
        clf.set_threads(None)


def test_the_head_on_the_vectors_gives_predict_proba(clf):
    vectors = clf.embed(TEXTS)
    with torch.inference_mode():
        logits = clf.net_.head(torch.from_numpy(vectors)).numpy()  # (n, C); dropout is off
    np.testing.assert_allclose(softmax(logits), clf.predict_proba(TEXTS), atol=1e-5)


def test_an_empty_text_is_embedded_like_a_lone_unknown_token(clf):
    empty, unknown = clf.embed(["", "qqqzzz"])
    np.testing.assert_allclose(empty, unknown, atol=1e-6)


def test_a_bare_string_and_an_unfitted_model_are_refused(clf):
    with pytest.raises(DataError, match=r"wrap it: embed\(\['great'\]\)"):
        clf.embed("great")
    with pytest.raises(NotFittedError, match="before 'embed'"):
        SentimentClassifier().embed(["great"])


def test_with_sentences_a_texts_vector_is_the_mean_of_its_sentences(clf):
    first = "the food was really good and the service was tasty."
    second = "the movie was awful and the plot was really boring."
    clf.truncation = "sentences"
    try:
        doc = clf.embed([f"{first} {second}"])[0]
        parts = clf.embed([first, second])
    finally:
        clf.truncation = "head+tail"
    np.testing.assert_allclose(doc, parts.mean(0), atol=1e-5)
