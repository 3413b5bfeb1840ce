"""cleaned text → tokens: jieba words, characters, English words, stop words, language guess."""

from __future__ import annotations

import json
import pickle

import pytest

from sentirnn.errors import ConfigError
from sentirnn.preprocess.tokenize import Tokenizer, detect_language, load_stopwords, resolve_kind

ZH_TEXT = "这部电影真的很棒，演员的表演也非常精彩！ 送餐太慢了"


@pytest.fixture(scope="module")
def jieba_word():
    # module scope: one Tokenizer for the tests that only read (jieba loads once per process)
    return Tokenizer("jieba-word", "zh")


def test_jieba_words(jieba_word):
    tokens = jieba_word.tokenize(ZH_TEXT)
    assert {"电影", "演员", "表演", "精彩", "送餐"} <= set(tokens)
    assert "".join(tokens) == ZH_TEXT.replace(" ", "")
    assert all(t.strip() == t and t for t in tokens)
    assert jieba_word.tokenize("") == []


@pytest.mark.slow
def test_jieba_user_dict(tmp_path):
    path = tmp_path / "user.txt"
    path.write_text("真的很棒 10 a\n", encoding="utf-8")
    tokens = Tokenizer("jieba-word", "zh", user_dict=str(path)).tokenize("这部电影真的很棒")
    assert "真的很棒" in tokens
    # the user word stays in that tokenizer: jieba's global dictionary is untouched
    assert "真的很棒" not in Tokenizer("jieba-word", "zh").tokenize("这部电影真的很棒")


def test_char_tokens():
    tok = Tokenizer("char", "zh")
    assert tok.tokenize("iphone很好用") == ["iphone", "很", "好", "用"]
    assert tok.tokenize("送餐 太慢了!! 3个小时app2") == [
        "送", "餐", "太", "慢", "了", "!", "!", "3", "个", "小", "时", "app2",
    ]  # fmt: skip
    assert tok.tokenize("a_b") == ["a", "_", "b"]


def test_en_words_keep_negation_as_a_token():
    tok = Tokenizer("en-word", "en")
    assert tok.tokenize("i didn't like it, at all!") == [
        "i", "did", "n't", "like", "it", ",", "at", "all", "!",
    ]  # fmt: skip
    assert tok.tokenize("it's 7.5/10") == ["it", "'s", "7", ".", "5", "/", "10"]


def test_auto_kind():
    assert resolve_kind("auto", "zh") == "jieba-word"
    assert resolve_kind("auto", "en") == "en-word"
    assert resolve_kind("char", "zh") == "char"
    assert Tokenizer("auto", "en").kind == "en-word"
    with pytest.raises(ConfigError, match="detect_language"):
        resolve_kind("auto", "auto")


NEGATIONS_ZH = {"不", "没", "没有", "别", "无", "非", "未", "很", "太", "但是", "但", "却", "非常"}
NEGATIONS_EN = {"not", "no", "nor", "never", "n't", "t", "don", "didn", "very", "too", "but", "so"}


def test_stopword_lists_keep_negations_and_intensifiers():
    zh, en = load_stopwords("zh"), load_stopwords("en")
    assert 100 <= len(zh) <= 300 and 100 <= len(en) <= 300
    assert {"的", "了", "我们"} <= zh and {"the", "a", "of"} <= en
    assert not zh & NEGATIONS_ZH
    assert not en & NEGATIONS_EN
    assert not any(w.startswith("#") for w in zh | en)


def test_stopword_removal():
    # no dictionary loaded again: Tokenizers share one jieba per process (tokenize._shared_jieba)
    zh = Tokenizer("jieba-word", "zh", remove_stopwords=True)
    assert zh.tokenize("我们的外卖不好吃") == ["外卖", "不", "好吃"]
    en = Tokenizer("en-word", "en", remove_stopwords=True)
    assert en.tokenize("the plot was not good at all") == ["plot", "not", "good", "all"]


def test_detect_language():
    zh = ["这部电影真的很棒", "送餐太慢了，但是味道不错"] * 3
    en = ["This movie was great!", "I didn't like it."] * 3
    mixed_zh = ["iphone很好用，屏幕很清楚", "app 打开太慢了 bug 很多"]
    mixed_en = ["The 火锅 was spicy but great", "we loved the dim sum and the tea"]
    assert detect_language(zh) == "zh"
    assert detect_language(en) == "en"
    assert detect_language(mixed_zh) == "zh"
    assert detect_language(mixed_en) == "en"
    assert detect_language([]) == "en"
    big = en * 2000 + zh
    assert detect_language(big, sample=50) == detect_language(big, sample=50)  # seeded


def test_round_trip_through_json(tmp_path):
    path = tmp_path / "user.txt"
    path.write_text("很好用 5\n", encoding="utf-8")
    for tok in [
        Tokenizer("jieba-word", "zh", user_dict=str(path)),
        Tokenizer("char", "zh", remove_stopwords=True),
        Tokenizer("auto", "en"),
    ]:
        back = Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
        assert back == tok and back.to_dict() == tok.to_dict()
    assert Tokenizer("auto", "en").to_dict()["kind"] == "en-word"


def test_pickle_round_trip():
    tok = Tokenizer("char", "zh", remove_stopwords=True)
    back = pickle.loads(pickle.dumps(tok))
    assert back.tokenize("我们的iphone不好") == tok.tokenize("我们的iphone不好")


def test_bad_settings_are_config_errors(tmp_path):
    expected = (
        "The 'kind' parameter of Tokenizer must be one of "
        "{'auto', 'jieba-word', 'char', 'en-word', 'subword'}. Got 'x' instead."
    )
    with pytest.raises(ConfigError) as info:
        Tokenizer.from_dict({"kind": "x", "language": "zh"})
    assert str(info.value) == expected
    with pytest.raises(ConfigError, match="unknown keys"):
        Tokenizer.from_dict({"kind": "char", "language": "zh", "lower": True})
    with pytest.raises(ConfigError, match="user_dict"):
        Tokenizer("char", "zh", user_dict=str(tmp_path / "u.txt"))
    with pytest.raises(ConfigError, match="does not exist"):
        Tokenizer("jieba-word", "zh", user_dict=str(tmp_path / "missing.txt"))
