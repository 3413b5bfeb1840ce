"""Scoring files: every input column survives, the input's own `label` included."""

import pandas as pd
import pytest
from conftest import make_corpus

from sentirnn.classic.baselines import BaselineClassifier
from sentirnn.errors import DataError
from sentirnn.inference.scoring import choose_prefix, score_file


@pytest.fixture(scope="module")
def clf():
    return BaselineClassifier("tfidf-lr").fit(*make_corpus("en", 120, seed=3))


def test_a_labelled_file_keeps_its_labels_and_gets_pred_columns(clf, tmp_path):
    texts, gold = make_corpus("en", 30, seed=4)
    path = tmp_path / "in.csv"
    pd.DataFrame({"text": texts + ["  "], "label": gold + ["kept"]}).to_csv(path, index=False)
    frames = []
    stats = score_file(clf, path, frames.append, chunksize=7)
    out = pd.concat(frames)
    assert stats.prefix == "pred_" and (stats.rows, stats.unscored) == (31, 1)
    assert out["label"].tolist() == gold + ["kept"]  # the gold labels, untouched
    assert out["pred_label"].tolist()[:-1] == clf.predict(texts)
    assert out["pred_reason"].tolist()[-1] == "empty text"
    assert {"pred_prob_negative", "pred_prob_positive"} <= set(out.columns)


def test_plain_names_when_free_and_a_file_holding_both_spellings_is_refused(clf):
    assert choose_prefix(clf, ["text", "id"]) == ""
    assert choose_prefix(clf, ["text", "prob_positive"]) == "pred_"
    with pytest.raises(DataError, match="pred_label.*rename or drop"):
        choose_prefix(clf, ["text", "label", "pred_label"])
