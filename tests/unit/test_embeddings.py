"""Pretrained word vectors: every file format, the coverage report, errors, fit and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import FAST, assert_one_line_error, make_corpus, run_cli

from sentirnn import SentimentClassifier
from sentirnn.errors import ConfigError, DataError
from sentirnn.preprocess.embeddings import (
    detect_vector_format,
    load_vectors,
    save_vectors,
    train_word2vec,
    vectors_for_vocab,
)
from sentirnn.preprocess.vocab import Vocab

VECS = {"good": [0.1, 0.2, 0.3], "bad": [-0.1, -0.2, -0.3], "movie": [0.5, 0.0, 0.5]}
# vocabulary: good ×2, bad, food, zzz → 4 types (specials aside), 5 training tokens
TOKENS = [["good", "food", "good"], ["bad", "zzz"]]


def _keyed(vectors: dict):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(len(next(iter(vectors.values()))))
    kv.add_vectors(list(vectors), np.array(list(vectors.values()), dtype=np.float32))
    return kv


def _text_lines(vectors: dict) -> str:
    return "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items())


def _write(tmp_path, kind: str):
    if kind == "glove":
        path = tmp_path / "glove.txt"
        path.write_text(_text_lines(VECS), encoding="utf-8")
    elif kind in ("word2vec", "fasttext-vec"):
        path = tmp_path / ("w2v.txt" if kind == "word2vec" else "cc.en.vec")
        path.write_text(f"{len(VECS)} 3\n" + _text_lines(VECS), encoding="utf-8")
    else:
        path = save_vectors(_keyed(VECS), tmp_path / "w2v.bin", binary=True)
    return path


def _counts():
    from collections import Counter

    return Counter(t for tokens in TOKENS for t in tokens)


@pytest.mark.parametrize("kind,detected", [("glove", "glove"), ("word2vec", "word2vec"),
                                           ("fasttext-vec", "word2vec"),
                                           ("word2vec-binary", "word2vec-binary")])
def test_each_format_loads_with_hand_computed_coverage(tmp_path, kind, detected):
    path = _write(tmp_path, kind)
    assert detect_vector_format(path) == detected
    kv = load_vectors(path)
    vocab = Vocab.build(TOKENS)
    matrix, cov = vectors_for_vocab(vocab, kv, None, _counts(), source=str(path))
    assert matrix.shape == (len(vocab), 3) and matrix.dtype == np.float32
    assert (cov.types_found, cov.types_total) == (2, 4)  # good, bad of good/bad/food/zzz
    assert (cov.tokens_found, cov.tokens_total) == (3, 5)  # good ×2 + bad of 5 tokens
    assert cov.type_share == 0.5 and cov.token_share == 0.6
    np.testing.assert_allclose(matrix[vocab.stoi["good"]], VECS["good"], rtol=1e-6)
    np.testing.assert_allclose(matrix[vocab.stoi["bad"]], VECS["bad"], rtol=1e-6)
    assert not matrix[Vocab.PAD].any()  # <pad> stays zero
    assert matrix[vocab.stoi["zzz"]].any()  # missing words get small random values
    assert "50.0% of the vocabulary" in str(cov) and "60.0% of training tokens" in str(cov)


def test_fasttext_bin_loads_and_composes_unknown_words(tmp_path):
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    sentences = [["good", "food"], ["bad", "food"], ["good", "movie"]] * 5
    model = FastText(vector_size=4, min_count=1, bucket=200, min_n=2, max_n=3, seed=0,
                     workers=1)
    model.build_vocab(sentences)
    model.train(sentences, total_examples=len(sentences), epochs=1)
    path = tmp_path / "cc.bin"
    save_facebook_model(model, str(path))
    assert detect_vector_format(path) == "fasttext-bin"
    kv = load_vectors(path)
    vocab = Vocab.build(TOKENS)
    matrix, cov = vectors_for_vocab(vocab, kv, 4, _counts())
    assert (cov.types_found, cov.tokens_found) == (3, 4)  # good, food, bad; zzz is not a word
    assert cov.subword == 1  # zzz gets a vector from its character n-grams
    np.testing.assert_allclose(matrix[vocab.stoi["food"]], kv.get_vector("food"), rtol=1e-6)


def test_dimension_mismatch_is_one_line_config_error(tmp_path):
    kv = load_vectors(_write(tmp_path, "glove"))
    with pytest.raises(ConfigError) as e:
        vectors_for_vocab(Vocab.build(TOKENS), kv, 200, source="glove.txt",
                          dim_name="--embedding-dim")
    assert "glove.txt has 3-dim vectors but --embedding-dim is 200" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("content,name", [(b"", "empty.txt"), (b"hello world\nfoo bar\n", "x.txt"),
                                          (bytes(range(256)) * 4, "junk.bin"),
                                          (b"2 3\ngood 0.1 oops 0.3\n", "bad.vec")])
def test_bad_files_are_one_line_data_errors_naming_the_file(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as e:
        load_vectors(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_vectors(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="vector format"):
        load_vectors(_write(tmp_path, "glove"), format="npy")


def test_train_word2vec_is_seeded_and_its_files_load(tmp_path):
    texts, _ = make_corpus("en", 120, seed=3)
    kv = train_word2vec(texts, dim=8, min_count=1, epochs=2, seed=1)
    again = train_word2vec(texts, dim=8, min_count=1, epochs=2, seed=1)
    assert kv.vector_size == 8 and "great" in kv.key_to_index
    np.testing.assert_array_equal(kv.get_vector("great"), again.get_vector("great"))
    for binary in (False, True):
        path = save_vectors(kv, tmp_path / f"v{int(binary)}.w2v", binary=binary)
        loaded = load_vectors(path)
        np.testing.assert_allclose(loaded.get_vector("movie"), kv.get_vector("movie"), atol=1e-5)


def test_train_word2vec_uses_the_classifier_tokens_for_chinese():
    texts, _ = make_corpus("zh", 60, seed=3)
    kv = train_word2vec(texts, dim=4, min_count=1, epochs=1)
    assert all(len(w) == 1 for w in kv.key_to_index)  # "auto" = characters, like the classifier


def _glove(tmp_path, dim: int, seed: int = 0):
    texts, labels = make_corpus("en", 120, seed=4)
    words = sorted({w for t in texts for w in t.split()})
    rng = np.random.default_rng(seed)
    vectors = {w: rng.normal(size=dim).round(4).tolist() for w in words if w != "service"}
    path = tmp_path / "vectors.txt"
    path.write_text(_text_lines(vectors), encoding="utf-8")
    return path, vectors, texts, labels


def test_fit_copies_frozen_vectors_and_saved_model_needs_no_file(tmp_path):
    path, vectors, texts, labels = _glove(tmp_path, 16)
    params = dict(FAST, max_epochs=2)
    clf = SentimentClassifier(embeddings=path, freeze_embeddings=True, **params)  # a Path too
    clf.fit(texts, labels)
    table = clf.net_.embedding.table.weight.detach()
    for word in ("great", "movie"):
        np.testing.assert_allclose(table[clf.vocab_.stoi[word]].numpy(), vectors[word],
                                   rtol=1e-5)
    cov = clf.train_summary_["embeddings"]
    assert cov["types_found"] == cov["types_total"] - 1  # all but "service"
    assert cov["dim"] == 16 and 0.0 < cov["token_share"] < 1.0
    clf.save(tmp_path / "model")
    path.unlink()  # the weights hold the vectors: loading needs no vector file
    back = SentimentClassifier.load(tmp_path / "model")
    assert back.get_params()["embeddings"] == str(path) and back.freeze_embeddings
    assert back.predict(texts[:10]) == clf.predict(texts[:10])
    assert torch.equal(back.net_.embedding.table.weight, clf.net_.embedding.table.weight)


def test_fit_without_freeze_trains_the_vectors_and_dim_follows_the_file(tmp_path):
    path, vectors, texts, labels = _glove(tmp_path, 8)
    params = {k: v for k, v in FAST.items() if k != "embedding_dim"}
    clf = SentimentClassifier(embeddings=str(path), max_epochs=2,
                              **{k: v for k, v in params.items() if k != "max_epochs"})
    clf.fit(texts, labels)
    assert clf.model_config_.embedding_dim == 8  # the default 200 follows the file
    row = clf.net_.embedding.table.weight[clf.vocab_.stoi["great"]].detach().numpy()
    assert not np.allclose(row, vectors["great"], atol=1e-6)  # trained, not frozen


def test_fit_refuses_an_explicit_dimension_that_differs(tmp_path):
    path, _, texts, labels = _glove(tmp_path, 8)
    with pytest.raises(ConfigError, match="has 8-dim vectors but embedding_dim"):
        SentimentClassifier(embeddings=str(path), **FAST).fit(texts, labels)


@pytest.mark.slow
def test_cli_embeddings_train_then_train_with_them(tmp_path, capsys, monkeypatch, caplog):
    import logging

    import pandas as pd

    caplog.set_level(logging.INFO, logger="sentirnn")

    texts, labels = make_corpus("en", 120, seed=5)
    data = tmp_path / "train.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(data, index=False)
    vec = tmp_path / "v.w2v.bin"
    code, _, err = run_cli(capsys, monkeypatch, "embeddings", "train", data, "--out", vec,
                           "--dim", 8, "--epochs", 2, "--min-count", 1, "--binary")
    assert code == 0, err
    assert detect_vector_format(vec) == "word2vec-binary" and "8-dim word vectors" in err
    out = tmp_path / "model"
    code, _, err = run_cli(capsys, monkeypatch, "train", data, "--out", out, "--embeddings", vec,
                           "--freeze-embeddings", "--augment", 0.1, "--augment-copies", 1,
                           "--embedding-dim", 8, "--hidden-size", 8, "--epochs", 1,
                           "--min-freq", 1, "--num-threads", 1, "--no-progress")
    assert code == 0, err
    assert "100.0% of the vocabulary" in caplog.text  # the coverage report is logged
    assert "augment: " in caplog.text
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["params"]["embeddings"] == str(vec) and config["params"]["augment"] == 0.1
    assert config["train_summary"]["embeddings"]["type_share"] == 1.0
    assert config["train_summary"]["augment"] == {"rate": 0.1, "copies": 1}
    code, _, err = run_cli(capsys, monkeypatch, "train", data, "--out", out, "--embeddings", vec,
                           "--embedding-dim", 16, "--epochs", 1, "--no-progress")
    assert_one_line_error(code, err, "has 8-dim vectors but embedding_dim (--embedding-dim) "
                          "is 16")
