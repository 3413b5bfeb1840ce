"""`sentirnn embed`: Parquet keeps the input's columns, .npy holds the vectors only."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FAST, assert_one_line_error, make_corpus, run_cli

from sentirnn import SentimentClassifier


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    clf = SentimentClassifier(**FAST).fit(*make_corpus("en", 120, seed=7))
    clf.save(root / "model")
    return clf, root / "model"


@pytest.fixture
def data(tmp_path):
    texts, labels = make_corpus("en", 25, seed=8)
    frame = pd.DataFrame({"id": range(26), "text": texts + [""], "label": labels + ["x"]})
    frame.to_csv(tmp_path / "in.csv", index=False)
    return frame, tmp_path / "in.csv"


def test_parquet_keeps_the_other_columns_and_adds_float32_vectors(model, data, tmp_path,
                                                                   capsys, monkeypatch):
    clf, path = model
    frame, source = data
    out = tmp_path / "vectors.parquet"
    code, _, err = run_cli(capsys, monkeypatch, "embed", path, "--input", source, "--output",
                           out, "--chunksize", "10", "--batch-size", "4", "--threads", "1")
    assert code == 0, err
    assert "embedded 25 of 26 rows (1 without text" in err
    table = pq.read_table(out)
    assert table.column_names == ["id", "text", "label", "embedding"]
    assert table.schema.field("embedding").type == pa.list_(pa.float32())
    got = table.to_pandas()
    assert got["id"].tolist() == frame["id"].astype(str).tolist()  # CSV columns stay str
    assert got["label"].tolist() == frame["label"].tolist()
    assert got["embedding"].iloc[-1] is None  # the empty text, as predict leaves it unlabelled
    vectors = np.stack(got["embedding"].iloc[:-1].to_list())
    np.testing.assert_allclose(vectors, clf.embed(frame["text"].iloc[:-1].tolist()), atol=1e-5)


def test_an_input_with_its_own_embedding_column_gets_pred_embedding(model, tmp_path, capsys,
                                                                    monkeypatch):
    source = tmp_path / "in.jsonl"
    pd.DataFrame({"text": ["good food", "awful plot"], "embedding": ["mine", "too"]}).to_json(
        source, orient="records", lines=True)
    out = tmp_path / "out.vec"
    code, _, err = run_cli(capsys, monkeypatch, "embed", model[1], "-i", source, "-o", out,
                           "--format", "parquet", "--threads", "1")
    assert code == 0, err
    got = pq.read_table(out)
    assert got.column_names == ["text", "embedding", "pred_embedding"]
    assert got.column("embedding").to_pylist() == ["mine", "too"]
    assert "vectors are in pred_embedding" in err


def test_npy_writes_n_rows_and_says_the_columns_are_not_kept(model, data, tmp_path, capsys,
                                                             monkeypatch):
    clf, path = model
    frame, source = data
    out = tmp_path / "vectors.npy"
    code, _, err = run_cli(capsys, monkeypatch, "embed", path, "--input", source, "--output",
                           out, "--chunksize", "7")
    assert code == 0, err
    assert len([line for line in err.splitlines() if "not kept" in line]) == 1
    vectors = np.load(out, allow_pickle=False)
    assert vectors.shape == (26, clf.net_.feature_size) and vectors.dtype == np.float32
    assert np.isnan(vectors[-1]).all() and np.isfinite(vectors[:-1]).all()
    np.testing.assert_allclose(vectors[:-1], clf.embed(frame["text"].iloc[:-1].tolist()),
                               atol=1e-5)


@pytest.mark.parametrize("args, message", [
    (["--output", "{tmp}/v.npy", "--format", "csv"], "--format must be parquet or npy, not 'csv'"),
    (["--output", "{tmp}/v.csv"], "name it .parquet or .npy"),
    (["--output", "{tmp}/v.npy", "--format", "parquet"], "ends in .npy"),
    (["--output", "{tmp}/v.npy", "--text-col", "review"], "no column 'review'"),
    (["--output", "{tmp}/v.npy", "--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_bad_requests_are_one_line_errors(model, data, tmp_path, capsys, monkeypatch, args,
                                          message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = run_cli(capsys, monkeypatch, "embed", model[1], "--input", data[1], *args)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "v.npy").exists()


def test_help_has_an_example(capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "embed", "--help")
    assert code == 0 and "Example" in out
