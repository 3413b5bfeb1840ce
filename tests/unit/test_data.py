"""Contracts of data.py: every format reads; bad rows are reported with file/row/column."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_corpus

from sentirnn.data.dataset import (
    DataReport,
    Dataset,
    iter_frames,
    read_dataset,
    read_texts,
)
from sentirnn.data.readers import detect_format
from sentirnn.data.splits import sentence_split, stratified_split
from sentirnn.data.tables import TableWriter
from sentirnn.errors import ConfigError, DataError

ROWS = [("这部电影真的很棒！", "positive"), ("送餐太慢了", "negative"),
        ("Great movie, loved it", "positive"), ("boring, two hours lost", "negative")]
CSV = "text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in ROWS)
TSV = "text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in ROWS)


def _write(path, text: str, encoding: str = "utf-8"):
    data = text.encode(encoding)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def _jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _expect(ds: Dataset):
    assert ds.texts == [t for t, _ in ROWS]
    assert ds.labels == [lab for _, lab in ROWS]
    assert ds.report.rows_read == ds.report.rows_kept == len(ds) == 4


# ---- formats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz"])
def test_csv_and_gzip(tmp_path, name):
    ds = read_dataset(_write(tmp_path / name, CSV))
    _expect(ds)
    assert ds.report.format == "csv" and ds.report.encoding == "utf-8"
    assert ds.report.label_counts == {"negative": 2, "positive": 2}


def test_tsv_with_quoted_multiline_field(tmp_path):
    _expect(read_dataset(_write(tmp_path / "d.tsv", TSV)))
    ds = read_dataset(_write(tmp_path / "m.csv", 'text,label\n"line one\nline two",pos\n'))
    assert ds.texts == ["line one\nline two"]


@pytest.mark.parametrize("name", ["d.jsonl", "d.jsonl.gz", "d.json"])
def test_jsonl(tmp_path, name):
    rows = [{"id": i, "review": t, "sentiment": lab} for i, (t, lab) in enumerate(ROWS)]
    ds = read_dataset(_write(tmp_path / name, _jsonl(rows)))
    _expect(ds)
    assert (ds.report.text_col, ds.report.label_col, ds.report.format) == (
        "review", "sentiment", "jsonl")


def test_json_array_and_nulls(tmp_path):
    rows = [{"text": t, "label": lab} for t, lab in ROWS] + [{"text": None, "label": "x"}]
    ds = read_dataset(_write(tmp_path / "d.json", json.dumps(rows, ensure_ascii=False)))
    assert len(ds) == 4 and ds.report.dropped == {"empty text": 1}


def test_parquet_with_null_text(tmp_path):
    frame = pd.DataFrame({"Text": [t for t, _ in ROWS] + [None],
                          "Label": [lab for _, lab in ROWS] + ["positive"]})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "d.parquet")
    ds = read_dataset(tmp_path / "d.parquet")
    assert ds.texts == [t for t, _ in ROWS] and ds.report.dropped == {"empty text": 1}
    assert ds.report.examples == ["row 5: empty text in column 'Text'"]
    assert ds.report.encoding is None and ds.report.format == "parquet"


def test_folder_layout_skips_unsup(tmp_path):
    for label, names in {"pos": ["1_9.txt", "0_8.txt"], "neg": ["3_1.txt"],
                         "unsup": ["5_0.txt"]}.items():
        (tmp_path / label).mkdir()
        for name in names:
            (tmp_path / label / name).write_text(f"{label} review {name}", encoding="utf-8")
    (tmp_path / "urls_pos.txt").write_text("http://x", encoding="utf-8")
    ds = read_dataset(tmp_path)
    assert ds.labels == ["neg", "pos", "pos"]
    assert ds.texts[1] == "pos review 0_8.txt"  # files in sorted order
    assert ds.report.format == "folder" and any("unsup" in n for n in ds.report.notes)
    assert "unsup" in str(ds.report)


def test_fasttext(tmp_path):
    text = "__label__pos 很好吃\n\n__label__neg __label__bad too slow\nno label here\n"
    path = _write(tmp_path / "d.txt", text)
    assert detect_format(path) == "fasttext"
    ds = read_dataset(path)
    assert ds.texts == ["很好吃", "too slow"] and ds.labels == ["pos", "neg"]
    assert ds.report.dropped == {"empty text": 1, "missing label": 1}
    assert ds.report.examples == ["line 2: empty text", "line 4: missing label"]


def test_plain_txt_has_no_labels(tmp_path):
    path = _write(tmp_path / "d.txt", "one\ntwo\n")
    with pytest.raises(DataError, match="has no labels"):
        read_dataset(path)
    ds = read_dataset(path, require_labels=False)
    assert ds.texts == ["one", "two"] and ds.labels is None


def test_detect_format(tmp_path):
    assert detect_format(tmp_path) == "folder"
    assert detect_format(_write(tmp_path / "a.TSV.gz", "a\tb\n")) == "tsv"
    with pytest.raises(DataError, match="unknown file type"):
        detect_format(_write(tmp_path / "a.xlsx", "x"))


# ---- columns and labels ----------------------------------------------------------------------

def test_columns_detected_case_insensitively_and_explicit(tmp_path):
    path = _write(tmp_path / "d.csv", "ID,Review,Polarity,note\n1,好评,1,a\n2,差评,0.0,b\n")
    ds = read_dataset(path)
    assert (ds.report.text_col, ds.report.label_col) == ("Review", "Polarity")
    assert ds.labels == ["1", "0"]  # numeric labels normalised
    ds = read_dataset(path, text_col="note", label_col="id")
    assert ds.texts == ["a", "b"] and ds.labels == ["1", "2"]


def test_missing_column_errors(tmp_path):
    path = _write(tmp_path / "reviews.csv", "a,b\nx,y\n")
    with pytest.raises(DataError, match=r"reviews.csv: no text column found among \['a', 'b'\]"):
        read_dataset(path)
    with pytest.raises(DataError, match=r"available columns are \['a', 'b'\]; did you mean 'b'"):
        read_dataset(path, text_col="a", label_col="bb")
    assert read_dataset(path, text_col="a", require_labels=False).labels is None


def test_label_map_then_filter(tmp_path):
    rows = "".join(f"t{i},{lab}\n" for i, lab in enumerate([1, 2, 3, 4, 5, "", 3]))
    ds = read_dataset(_write(tmp_path / "sst5.csv", "text,label\n" + rows),
                      label_map={1: "neg", 2: "neg", "4": "pos", "5": "pos"},
                      labels=["neg", "pos"])
    assert ds.labels == ["neg", "neg", "pos", "pos"]
    assert ds.report.dropped == {"missing label": 1, "label not in allowed set": 2}
    assert ds.report.examples[0] == "row 3: label '3' in column 'label' is not one of " \
                                    "['neg', 'pos']"
    assert ds.report.to_dict()["dropped"]["missing label"] == 1


def test_skipped_rows_counted_and_strict(tmp_path):
    text = "text,label\ngood,pos\n ,pos\nbad,\n,neg\nNA,neg\nnull,pos\n"
    path = _write(tmp_path / "reviews.csv", text)
    ds = read_dataset(path)
    assert ds.texts == ["good", "NA", "null"]  # "NA"/"null" are texts, not missing values
    assert ds.report.dropped == {"empty text": 2, "missing label": 1}
    assert ds.report.examples == ["row 2: empty text in column 'text'",
                                  "row 3: empty value in column 'label'",
                                  "row 4: empty text in column 'text'"]
    summary = str(ds.report)
    assert summary.startswith("3 rows kept; 3 dropped (empty text: 2, missing label: 1)")
    assert "row 3: empty value in column 'label'" in summary
    bad_label = _write(tmp_path / "r2.csv", "text,label\ngood,pos\nbad,\n")
    with pytest.raises(DataError, match=r"r2.csv row 2: empty value in column 'label' "
                                        r"\(drop --strict, or pass strict=False"):
        read_dataset(bad_label, strict=True)


def test_no_usable_rows(tmp_path):
    for name, text, why in [("e.csv", "", "the file is empty"), ("h.csv", "text,label\n", "header"),
                            ("d.csv", "text,label\n,pos\n", "empty text: 1")]:
        with pytest.raises(DataError, match=f"{name} has no usable rows.*{why}"):
            read_dataset(_write(tmp_path / name, text))


def test_malformed_csv_names_line(tmp_path):
    path = _write(tmp_path / "bad.csv", "text,label\ngood,pos\nbad, really,neg\n")
    with pytest.raises(DataError, match=r"bad.csv line 3: expected 2 fields but found 3"):
        read_dataset(path)


def test_missing_path():
    with pytest.raises(DataError, match="no such file or folder: nowhere.csv"):
        read_dataset("nowhere.csv")


# ---- encodings -------------------------------------------------------------------------------

def test_utf8_bom_is_stripped(tmp_path):
    ds = read_dataset(_write(tmp_path / "d.csv", CSV, "utf-8-sig"))
    _expect(ds)
    assert ds.report.text_col == "text" and ds.report.encoding == "utf-8-sig"


@pytest.mark.parametrize("name", ["gbk.csv", "gbk.csv.gz"])
def test_gbk_detected(tmp_path, name):
    ds = read_dataset(_write(tmp_path / name, CSV, "gbk"))
    _expect(ds)
    assert ds.report.encoding == "gb18030"


def test_forced_encoding(tmp_path):
    path = _write(tmp_path / "d.csv", "text,label\ncafé,pos\n", "latin-1")
    assert read_dataset(path, encoding="latin-1").texts == ["café"]
    with pytest.raises(DataError, match="unknown encoding 'nope'"):
        read_dataset(path, encoding="nope")


@pytest.mark.parametrize("name", ["u16.csv", "u16.csv.gz"])
def test_utf16_with_a_byte_order_mark_is_read(tmp_path, name):
    ds = read_dataset(_write(tmp_path / name, CSV, "utf-16"))  # Excel's "Unicode text"
    _expect(ds)
    assert ds.report.encoding == "utf-16"


def test_a_stray_nul_byte_is_not_fatal_but_utf16_without_a_bom_is_named(tmp_path):
    path = _write(tmp_path / "n.csv", 'text,label\n"a\x00b 好吃",pos\n"难吃",neg\n')
    assert read_dataset(path).texts == ["a\x00b 好吃", "难吃"]  # clean() drops the NUL
    for order in ("le", "be"):  # ROWS are Chinese: only the ASCII between them has NULs
        (tmp_path / "16.csv").write_bytes(CSV.encode(f"utf-16-{order}"))
        with pytest.raises(DataError, match=f"looks like UTF-16.*--encoding utf-16-{order}"):
            read_dataset(tmp_path / "16.csv")
        _expect(read_dataset(tmp_path / "16.csv", encoding=f"utf-16-{order}"))


def test_binary_and_corrupt_gzip(tmp_path):
    (tmp_path / "x.csv").write_bytes(b"text,label\n\x00\x01\x02binary")
    with pytest.raises(DataError, match="x.csv is not a text file.*--encoding"):
        read_dataset(tmp_path / "x.csv")
    (tmp_path / "y.csv.gz").write_bytes(gzip.compress(CSV.encode())[:30])
    with pytest.raises(DataError, match="y.csv.gz is not a valid gzip file"):
        read_dataset(tmp_path / "y.csv.gz")
    (tmp_path / "z.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="z.csv.gz is not a valid gzip file"):
        read_dataset(tmp_path / "z.csv.gz")


# ---- unlabelled texts ------------------------------------------------------------------------

def test_read_texts_txt_gz_csv_folder(tmp_path):
    texts, report = read_texts(_write(tmp_path / "u.txt", "第一篇\n\n  \nsecond doc\n"))
    assert texts == ["第一篇", "second doc"] and report.dropped == {"empty text": 2}
    assert read_texts(_write(tmp_path / "u.txt.gz", "a\nb\n"))[0] == ["a", "b"]
    assert read_texts(_write(tmp_path / "d.csv", CSV))[0] == [t for t, _ in ROWS]
    (tmp_path / "f" / "sub").mkdir(parents=True)
    (tmp_path / "f" / "b.txt").write_text("doc b\nsame doc", encoding="utf-8")
    (tmp_path / "f" / "sub" / "a.txt").write_text("文档 a", encoding="gbk")
    (tmp_path / "f" / "empty.txt").write_text("", encoding="utf-8")
    texts, report = read_texts(tmp_path / "f")
    assert texts == ["doc b\nsame doc", "文档 a"] and report.dropped == {"empty text": 1}


def test_read_texts_empty_is_error(tmp_path):
    with pytest.raises(DataError, match="no usable rows"):
        read_texts(_write(tmp_path / "u.txt", "\n \n"))


# ---- streaming -------------------------------------------------------------------------------

def test_iter_frames_csv_chunks_keep_order_and_columns(tmp_path):
    rows = "".join(f"{i},文本{i},{i % 2}\n" for i in range(7))
    col, chunks = iter_frames(_write(tmp_path / "d.csv.gz", "id,Text,extra\n" + rows),
                              chunksize=3)
    frames = list(chunks)
    assert col == "Text" and [len(f) for f in frames] == [3, 3, 1]
    whole = pd.concat(frames)
    assert list(whole.columns) == ["id", "Text", "extra"]
    assert whole["Text"].tolist() == [f"文本{i}" for i in range(7)]


def test_iter_frames_jsonl_parquet_txt(tmp_path):
    rows = [{"body": t, "n": i} for i, (t, _) in enumerate(ROWS)] + [{"body": None, "n": 9}]
    col, chunks = iter_frames(_write(tmp_path / "d.jsonl", _jsonl(rows)), chunksize=2)
    whole = pd.concat(list(chunks))
    assert col == "body" and whole["body"].tolist()[-1] == "" and whole["n"].tolist()[-1] == 9
    pq.write_table(pa.table({"x": [1, 2, 3], "text": ["a", "b", "c"]}), tmp_path / "d.parquet")
    col, chunks = iter_frames(tmp_path / "d.parquet", chunksize=2)
    assert [f["text"].tolist() for f in chunks] == [["a", "b"], ["c"]]
    col, chunks = iter_frames(_write(tmp_path / "d.txt", "一\ntwo\nthree\n"), chunksize=2)
    assert col == "text" and pd.concat(list(chunks))["text"].tolist() == ["一", "two", "three"]


def test_iter_frames_malformed_row(tmp_path):
    path = _write(tmp_path / "bad.csv", "text\n" + "ok\n" * 5 + "a,b\n")
    _, chunks = iter_frames(path, chunksize=2)
    with pytest.raises(DataError, match="bad.csv line 7"):
        list(chunks)


@pytest.mark.parametrize("name", ["o.csv", "o.tsv.gz", "o.jsonl", "o.jsonl.gz", "o.parquet"])
def test_table_writer_round_trip(tmp_path, name):
    frame = pd.DataFrame({"text": ["这家外卖很好吃", "a, \"quoted\"\nline"], "score": [0.5, 1.0]})
    with TableWriter(tmp_path / name) as out:
        out.write(frame.iloc[:1])
        out.write(frame.iloc[1:])
    _, chunks = iter_frames(tmp_path / name)
    back = pd.concat(list(chunks), ignore_index=True)
    assert back["text"].tolist() == frame["text"].tolist()
    assert [float(x) for x in back["score"]] == [0.5, 1.0]
    if name == "o.jsonl":
        assert "这家外卖很好吃" in (tmp_path / name).read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind


def test_table_writer_bad_extension_and_abort(tmp_path):
    with pytest.raises(DataError, match="unknown output type"):
        TableWriter(tmp_path / "o.xlsx")
    with pytest.raises(RuntimeError), TableWriter(tmp_path / "o.csv") as out:
        out.write(pd.DataFrame({"text": ["a"]}))
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with TableWriter(tmp_path / "o.csv") as out:  # an empty first chunk: header once
        out.write(pd.DataFrame({"text": []}))
        out.write(pd.DataFrame({"text": ["x"]}))
    assert (tmp_path / "o.csv").read_text(encoding="utf-8") == "text\nx\n"


# ---- splits ----------------------------------------------------------------------------------

def test_stratified_split():
    labels = ["pos"] * 60 + ["neg"] * 30 + ["neu"] * 10
    parts = stratified_split(labels, (0.8, 0.1, 0.1), seed=0)
    assert [len(p) for p in parts] == [80, 10, 10]
    assert sorted(i for p in parts for i in p) == list(range(100))
    assert [labels[i] for i in parts[1]].count("pos") == 6
    assert parts == stratified_split(labels, (0.8, 0.1, 0.1), seed=0)
    assert parts != stratified_split(labels, (0.8, 0.1, 0.1), seed=1)


def test_stratified_split_falls_back_and_validates(caplog):
    labels = ["a"] * 9 + ["b"]
    parts = stratified_split(labels, (0.5, 0.5), seed=0)
    assert sorted(parts[0] + parts[1]) == list(range(10))
    assert "unstratified" in caplog.text
    tiny = stratified_split(["a", "b", "a"], (0.8, 0.1, 0.1), seed=0)
    assert sorted(i for p in tiny for i in p) == [0, 1, 2]
    with pytest.raises(ConfigError, match="fractions"):
        stratified_split(labels, (0.5, 0.6), seed=0)


def _phrase_rows(sentences, labels):
    """SST-style rows: each sentence, then every shorter contiguous word run inside it."""
    rows, ys = [], []
    for text, label in zip(sentences, labels):
        words = text.split()
        for k in range(len(words), 0, -1):
            for s in range(len(words) - k + 1):
                rows.append(" ".join(words[s:s + k]))
                ys.append(label)
    return rows, ys


def test_sentence_split_holds_out_whole_sentences_and_their_own_phrases():
    sentences, labels = make_corpus("en", n=60, seed=3)
    rows, ys = _phrase_rows(sentences, labels)
    train, held, info = sentence_split(rows, ys, 0.2, seed=0)
    assert {rows[i] for i in held} <= set(sentences)
    assert len(held) == info["valid_sentences"] == round(0.2 * info["sentences"])
    assert abs(2 * [ys[i] for i in held].count("positive") - len(held)) <= 1  # stratified
    held_text = {rows[i] for i in held}
    kept = [t for t in sentences if t not in held_text]
    for i in train:  # every training row is a kept sentence or a phrase of one
        assert rows[i] not in held_text
        assert any(f" {rows[i]} " in f" {t} " for t in kept)
    # every phrase of a kept sentence is still trained on, whatever else contains it
    assert {rows[i] for i in train} == {r for r in rows if any(f" {r} " in f" {t} "
                                                               for t in kept)}
    assert len(train) + len(held) + info["rows_dropped"] == len(rows)
    assert info["phrases_dropped"] > 0
    assert sentence_split(rows, ys, 0.2, seed=0) == (train, held, info)


@pytest.mark.slow
def test_fit_validates_phrase_level_data_on_whole_sentences():
    from conftest import FAST

    from sentirnn import SentimentClassifier

    sentences, labels = make_corpus("en", n=80, seed=4)
    rows, ys = _phrase_rows(sentences, labels)
    clf = SentimentClassifier(**dict(FAST, max_epochs=1)).fit(rows, ys)
    split = clf.train_summary_["validation_split"]
    assert split["kind"] == "sentences" and split["valid_sentences"] == clf.report_.n == 8
    assert clf.train_summary_["train_texts"] == len(rows) - 8 - split["rows_dropped"]
    plain = SentimentClassifier(**dict(FAST, max_epochs=1)).fit(sentences, labels)
    assert "validation_split" not in plain.train_summary_ and plain.report_.n == 8


def test_sentence_split_leaves_ordinary_rows_to_the_stratified_split():
    texts, labels = make_corpus("en", n=300, seed=1)
    assert sentence_split(texts, labels, 0.1, seed=0) is None
    assert sentence_split(["很好吃", "好吃", "难吃"] * 5, ["p", "p", "n"] * 5, 0.2, 0) is None


def test_report_is_plain_data():
    report = DataReport("x.csv", 3, 2, {"empty text": 1}, ["row 2: empty text"], format="csv")
    assert report.to_dict()["rows_kept"] == 2
    assert "2 rows kept; 1 dropped (empty text: 1)" in str(report)


def test_bad_json_line_named(tmp_path):
    path = _write(tmp_path / "bad.jsonl", '{"text": "a", "label": "pos"}\n{"text": oops}\n')
    with pytest.raises(DataError, match="bad.jsonl line 2: not a JSON object"):
        read_dataset(path)
    _, chunks = iter_frames(path, chunksize=1)
    with pytest.raises(DataError, match="bad.jsonl line 2"):
        list(chunks)
