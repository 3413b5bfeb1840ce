"""`sentirnn mt` end to end on a tiny generated corpus, and the demo corpus loader."""

import http.server
import io
import json
import threading
import zipfile

import pandas as pd
import pytest
from conftest import assert_one_line_error, run_cli, run_main

from sentirnn.data.parallel import read_parallel
from sentirnn.data.parallel_demo import demo_corpus, download

NUMBERS = {"one": "一", "two": "二", "three": "三", "four": "四", "five": "五"}
THINGS = {"cats": "猫", "dogs": "狗", "books": "書", "birds": "鳥"}  # traditional on purpose
TINY = ["--embedding-dim", "16", "--encoder-hidden", "16", "--decoder-hidden", "32",
        "--epochs", "3", "--batch-size", "8", "--threads", "1", "--no-progress", "--beam", "2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    rows = [{"en": f"i see {a} {b} .", "zh": f"我看見{n}只{t}。", "attribution": "test"}
            for a, n in NUMBERS.items() for b, t in THINGS.items()]
    rows.append({"en": "", "zh": "空的。", "attribution": "test"})  # skipped, and counted
    pd.DataFrame(rows).to_csv(root / "train.tsv", sep="\t", index=False)
    pd.DataFrame(rows[:6] + [{"en": rows[0]["en"], "zh": "我看到一只猫。",
                              "attribution": "alt"}]).to_csv(root / "dev.tsv", sep="\t",
                                                             index=False)
    (root / "sentences.txt").write_text("i see two cats .\n\ni see one bird .\n",
                                        encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def model(files):
    out = files / "model"
    code, _, err = run_main("mt", "train", files / "train.tsv", "--valid", files / "dev.tsv",
                            "--out", out, *TINY)
    assert code == 0, err
    assert "20 rows kept; 1 dropped (empty side: 1)" in err
    assert "validation (beam 2): BLEU" in err
    return out


def test_train_writes_a_translation_model_directory(model):
    for name in ("config.json", "model.safetensors", "source.json", "target.json",
                 "metrics.json", "curves.png", "attention.png"):
        assert (model / name).exists(), name
    metrics = json.loads((model / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["history"] and "val_bleu" in metrics["history"][0]
    assert metrics["validation"]["sources"] == 6


def test_evaluate_json_counts_sources_and_references(model, files, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "mt", "evaluate", model, files / "dev.tsv",
                             "--json", "--beam", "1")
    assert code == 0, err
    result = json.loads(out)
    assert {"bleu", "chrf", "sources", "references"} <= set(result)
    assert result["sources"] == 6 and result["references"] == 7


def test_translate_sentences_file_and_attention(model, files, tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "mt", "translate", model, "i see two cats .",
                             "", "--attention", tmp_path / "a.png")
    assert code == 0, err
    lines = out.split("\n")
    assert lines[1] == "" and (tmp_path / "a.png").stat().st_size > 0
    code, out, err = run_cli(capsys, monkeypatch, "mt", "translate", model, "--input",
                             files / "sentences.txt", "--output", tmp_path / "out.csv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(table.columns) == ["source", "translation"] and len(table) == 2


@pytest.mark.parametrize("args,message", [
    (["mt", "train", "{files}/train.tsv", "--source-col", "english", "--out", "{tmp}/m"],
     "no column 'english'; the file has columns ['en', 'zh', 'attribution']"),
    (["mt", "train", "{files}/train.tsv", "--arch", "transformer", "--out", "{tmp}/m"],
     "--arch must be one of bahdanau, luong, luong-dot, plain"),
    (["mt", "evaluate", "{files}", "{files}/dev.tsv"], "not a sentirnn model directory"),
    (["mt", "translate", "{model}"], "give sentences to translate, or --input FILE"),
])
def test_errors_are_one_line(files, model, tmp_path, capsys, monkeypatch, args, message):
    args = [a.format(files=files, tmp=tmp_path, model=model) for a in args]
    code, _, err = run_cli(capsys, monkeypatch, *args)
    assert_one_line_error(code, err, message)


def test_read_parallel_skips_and_counts_empty_sides(files):
    pairs = read_parallel(files / "train.tsv")
    assert len(pairs) == 20 and pairs.report.dropped == {"empty side": 1}
    assert "row 21: empty en" in pairs.report.examples[0]


def _serve(payload: bytes):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_demo_corpus_downloads_manythings_zip_once(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cmn.txt", "Hi.\t嗨。\tCC-BY 2.0 (France) Attribution: tatoeba.org #1\n"
                                    "Run!\t你用跑的。\tCC-BY 2.0 (France) Attribution: #2\n")
        archive.writestr("_about.txt", "about")
    server = _serve(buffer.getvalue())
    monkeypatch.setenv("SENTIRNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SENTIRNN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared here
    try:
        path = download(f"http://127.0.0.1:{server.server_port}/cmn-eng.zip")
    finally:
        server.shutdown()
    pairs = demo_corpus()
    assert path == tmp_path / "cache" / "cmn_eng.tsv"
    assert pairs.sources == ["Hi.", "Run!"] and pairs.targets == ["嗨。", "你用跑的。"]


def test_demo_corpus_download_failure_says_what_to_do(tmp_path, monkeypatch):
    from sentirnn.errors import DataError

    monkeypatch.setenv("SENTIRNN_CACHE", str(tmp_path))
    with pytest.raises(DataError, match="pass it with --data"):
        download("http://127.0.0.1:9/cmn-eng.zip", timeout=2)
