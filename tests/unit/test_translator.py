"""Translator: decoding, batching, persistence and scoring on tiny generated corpora."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import sacrebleu
import torch

import sentirnn
from sentirnn.errors import DataError, NotFittedError
from sentirnn.estimators.translator import Translator
from sentirnn.inference.decode import beam_search, greedy
from sentirnn.inference.mt_metrics import corpus_scores, group_references
from sentirnn.models.seq2seq import Seq2SeqConfig, Seq2SeqNet
from sentirnn.preprocess.batching import pad
from sentirnn.preprocess.parallel import TextSide, detokenize

NUMBERS = {"one": "一", "two": "二", "three": "三", "four": "四", "five": "五", "six": "六"}
THINGS = {"cats": "猫", "dogs": "狗", "books": "书", "apples": "苹果", "birds": "鸟"}


def corpus(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """English "i see two cats ." ↔ Chinese "我看见二只猫。": a tiny grammar both ways."""
    rng = random.Random(seed)
    pairs = sorted({(a, b) for a in NUMBERS for b in THINGS})
    rng.shuffle(pairs)
    src = [f"i see {a} {b} ." for a, b in pairs[:n]]
    tgt = [f"我看见{NUMBERS[a]}只{THINGS[b]}。" for a, b in pairs[:n]]
    return src, tgt


def small(**kw) -> Translator:
    params = dict(embedding_dim=32, encoder_hidden=32, decoder_hidden=64, dropout=0.0,
                  label_smoothing=0.0, lr=1e-2, lr_decay=1.0, patience=0, max_epochs=60,
                  batch_size=16, progress=False, num_threads=1)
    params.update(kw)
    return Translator(**params)


@pytest.fixture(scope="module")
def fitted() -> Translator:
    src, tgt = corpus(30)
    return small(max_epochs=120, monitor="loss").fit(src, tgt, valid=(src, tgt))


def random_net(attention: str = "bahdanau", cell: str = "gru") -> Seq2SeqNet:
    torch.manual_seed(0)
    net = Seq2SeqNet(Seq2SeqConfig(source_vocab=20, target_vocab=15, cell=cell,
                                   embedding_dim=8, encoder_hidden=8, decoder_hidden=16,
                                   attention=attention, dropout=0.0))
    return net.eval()


def batch_of(rows):
    return tuple(torch.from_numpy(a) for a in pad(rows))


def test_overfits_thirty_pairs_exactly(fitted):
    src, tgt = corpus(30)
    assert fitted.translate(src, beam=1) == tgt
    assert fitted.translate(src, beam=4) == tgt


@pytest.mark.parametrize("attention,cell", [("bahdanau", "gru"), ("general", "lstm"),
                                            ("none", "gru")])
def test_beam_one_equals_greedy(attention, cell):
    net = random_net(attention, cell)
    src, lengths = batch_of([[4, 5, 6, 7], [8, 9], [10, 11, 12]])
    g = greedy(net, src, lengths)
    b = beam_search(net, src, lengths, beam=1)
    assert [h.ids for h in g] == [h.ids for h in b]
    assert np.allclose([h.score for h in g], [h.score * (len(h.ids) + 1) for h in b],
                       atol=1e-4)


@pytest.mark.parametrize("decode", ["greedy", "beam"])
def test_sentence_alone_equals_sentence_in_padded_batch(decode):
    net = random_net()
    rows = [[4, 5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16]]

    def run(batch):
        src, lengths = batch_of(batch)
        if decode == "greedy":
            return greedy(net, src, lengths)
        return beam_search(net, src, lengths, beam=3)

    together = run(rows)
    for row, hyp in zip(rows, together):
        alone = run([row])[0]
        assert alone.ids == hyp.ids
        assert alone.score == pytest.approx(hyp.score, abs=1e-5)
        assert np.allclose(alone.attention, hyp.attention, atol=1e-5)


def test_attention_rows_are_distributions_over_the_source(fitted):
    [result] = fitted.translate_with_attention(["i see two cats ."], beam=1)
    weights = np.asarray(result["attention"])
    assert weights.shape == (len(result["output_tokens"]), len(result["source_tokens"]))
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-3)
    assert result["output_tokens"][-1] == "</s>"


def test_beam_respects_max_length_relative_to_input():
    net = random_net()
    src, lengths = batch_of([[4, 5], [6, 7, 8, 9, 10, 11]])
    for hyp, n in zip(beam_search(net, src, lengths, beam=3, max_ratio=1.0, max_extra=1),
                      (2, 6)):
        assert len(hyp.ids) <= n  # n + 1 outputs at most, the last one </s>


def test_save_and_load_give_identical_translations(fitted, tmp_path):
    src, _ = corpus(30)
    fitted.save(tmp_path / "mt")
    loaded = sentirnn.load(tmp_path / "mt")
    assert isinstance(loaded, Translator)
    assert loaded.translate(src, beam=3) == fitted.translate(src, beam=3)
    for name in ("config.json", "model.safetensors", "source.json", "target.json",
                 "metrics.json", "curves.png", "attention.png"):
        assert (tmp_path / "mt" / name).exists(), name


def test_tied_embeddings_save_and_load(tmp_path):
    src, tgt = corpus(10)
    model = small(tie_embeddings=True, max_epochs=2).fit(src, tgt, valid=(src, tgt))
    dec = model.net_.decoder
    assert dec.output.weight.data_ptr() == dec.embedding.weight.data_ptr()
    model.save(tmp_path / "tied")
    loaded = Translator.load(tmp_path / "tied")
    assert loaded.translate(src) == model.translate(src)


def test_bleu_equals_sacrebleu_with_multiple_references():
    sources = ["a", "a", "b", "c"]
    references = ["我看见猫。", "我看到了猫。", "他很高。", "今天下雨。"]
    hyps = ["我看到猫。", "他很高。", "今天下雨了。"]
    distinct, refs = group_references(sources, references)
    assert distinct == ["a", "b", "c"] and refs[0] == ["我看见猫。", "我看到了猫。"]
    ours = corpus_scores(hyps, refs, "zh")
    streams = [["我看见猫。", "他很高。", "今天下雨。"], ["我看到了猫。", None, None]]
    assert ours["bleu"] == round(sacrebleu.corpus_bleu(hyps, streams, tokenize="zh").score, 2)
    assert ours["chrf"] == round(sacrebleu.corpus_chrf(hyps, streams).score, 2)
    assert ours["references"] == 4 and ours["sources"] == 3


def test_score_groups_rows_by_source(fitted):
    src, tgt = corpus(30)
    scores = fitted.score(src + src[:2], tgt + ["完全不同的句子。"] * 2, beam=1)
    assert scores["sources"] == 30 and scores["references"] == 32
    assert scores["bleu"] == 100.0


def test_empty_unknown_and_long_inputs(fitted, caplog):
    assert fitted.translate(["", "   "]) == ["", ""]
    out = fitted.translate(["xylophones zebra quux 鸟 ?"])  # every word unseen
    assert isinstance(out[0], str)
    fitted.max_source_tokens = 4
    try:
        with caplog.at_level(logging.WARNING, logger="sentirnn"):
            fitted.translate(["i see two cats . i see two cats ."])
        assert "cut to that length" in caplog.text
    finally:
        fitted.max_source_tokens = 100


def test_bad_training_data():
    with pytest.raises(DataError, match="2 training sources but 1 targets"):
        Translator().fit(["a", "b"], ["甲"])
    with pytest.raises(DataError, match="no pair with text on both sides"):
        Translator().fit(["", "a"], ["甲", ""])
    with pytest.raises(NotFittedError, match="Translator instance is not fitted"):
        Translator().translate(["hello"])


def test_chinese_is_simplified_on_both_sides():
    side = TextSide("zh", target=True)
    side.fit(["這是我的書。"])
    assert side.vocab is not None and "这" in side.vocab and "這" not in side.vocab
    assert side.clean(["這本書"]) == ["这本书"]


def test_chinese_to_english_with_subwords():
    src, tgt = corpus(30)
    model = small(source_language="zh", target_language="en", target_tokenizer="subword",
                  subword_size=60, max_epochs=2).fit(tgt, src, valid=(tgt[:5], src[:5]))
    assert model.target_.tokenizer.kind == "subword"
    assert all(isinstance(t, str) for t in model.translate(tgt[:3]))


@pytest.mark.parametrize("tokens,kind,text", [
    (["i", "did", "n't", "see", "it", "."], "en-word", "i didn't see it."),
    (["tom", "'s", "book", ",", "please", "!"], "en-word", "tom's book, please!"),
    (["我", "有", "iPhone", "X", "。"], "char", "我有iPhone X。"),
    (["▁Hel", "lo", "▁world", "▁!"], "subword", "Hello world !"),
])
def test_detokenize(tokens, kind, text):
    assert detokenize(tokens, kind) == text


def test_heat_map_finds_an_installed_chinese_font():
    import shutil
    import subprocess

    from sentirnn.inference.mt_plots import cjk_font

    listed = (subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
              .stdout if shutil.which("fc-list") else "")
    if not listed.strip():
        pytest.skip("no Chinese font installed (scripts/setup.sh installs one as root)")
    family = cjk_font()
    assert family is not None and family in listed


def test_validation_bleu_reads_references_in_simplified_characters():
    src, tgt = corpus(12)
    traditional = [t.replace("猫", "貓").replace("书", "書").replace("鸟", "鳥") for t in tgt]
    assert traditional != tgt
    model = small(max_epochs=80, monitor="loss").fit(src, tgt, valid=(src, traditional))
    assert model.history_[-1]["val_bleu"] == model.score(src, traditional, beam=1)["bleu"]
