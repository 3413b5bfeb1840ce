"""raw text → cleaned text: normalisation cases and idempotence of text.clean."""

from __future__ import annotations

import random

import pytest

from sentirnn.config import TextConfig
from sentirnn.errors import ConfigError
from sentirnn.preprocess.text import clean, clean_many

DEFAULT = TextConfig()
ZH = TextConfig(traditional_to_simplified=True)


def test_full_width_becomes_half_width_and_ideographic_space_is_folded():
    assert clean("ＡＢＣ１２３！\u3000ｏｋ", DEFAULT) == "abc123! ok"
    assert clean("好吃！　下次还来", TextConfig(normalize="", lowercase=False)) == "好吃！ 下次还来"


def test_html_tags_entities_and_br_are_removed():
    text = "Great&nbsp;movie!<br /><br />The <i>best</i> &amp; most <b>un</b>usual.<p>Yes</p>"
    assert clean(text, DEFAULT) == "great movie! the best & most unusual. yes"
    assert clean("很<b>好</b>吃", DEFAULT) == "很好吃"
    assert clean("i <3 it; 1 < 2 > 0", DEFAULT) == "i <3 it; 1 < 2 > 0"  # not tags
    assert clean("&amp;lt;br&amp;gt;x", DEFAULT) == "x"  # double-escaped markup


def test_html_kept_when_switched_off():
    assert clean("a<br />b", TextConfig(strip_html=False)) == "a<br />b"


def test_urls_and_emails_are_removed():
    text = "See https://example.com/a?b=1, www.x.org. Mail me@mail.example.co.uk!"
    assert clean(text, DEFAULT) == "see , . mail !"
    assert clean("链接http://t.cn/AbC很好用", DEFAULT) == "链接 很好用"  # no spaces in Chinese
    assert clean("ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ ok", DEFAULT) == "ok"  # full-width link
    kept = TextConfig(strip_urls=False, strip_emails=False)
    assert clean("www.x.org a@b.com", kept) == "www.x.org a@b.com"


def test_whitespace_is_collapsed_and_stripped():
    assert clean("  a \t\n b\u200b c  ", DEFAULT) == "a b c"


def test_traditional_to_simplified():
    assert clean("這部電影真的很棒", ZH) == "这部电影真的很棒"
    # already simplified text stays as it is (余 must not become 馀)
    assert clean("其余的都很好吃", ZH) == "其余的都很好吃"
    assert clean("這部電影", DEFAULT) == "這部電影"  # off by default


def test_lowercase_is_optional():
    assert clean("Not BAD", DEFAULT) == "not bad"
    assert clean("Not BAD", TextConfig(lowercase=False)) == "Not BAD"


def test_strip_punct_removes_punctuation_and_symbols_chinese_full_width_included():
    punct = TextConfig(strip_punct=True)
    assert clean("好!!!吃", punct) == "好吃"
    assert clean("送餐太慢了，。！味道不错。", punct) == "送餐太慢了味道不错"
    assert clean("好吃，。！下次", TextConfig(normalize="", strip_punct=True)) == "好吃下次"
    # between Latin words a run still separates them; digits and letters stay
    assert clean("Great...the plot, don't! 10/10 ★★★ 😀", punct) == "great the plot dont 10 10"
    assert clean("好吃，。！", DEFAULT) == "好吃,。!"  # off by default


def test_strip_digits_removes_every_decimal_digit_full_width_included():
    digits = TextConfig(strip_digits=True)
    assert clean("１２３好吃", digits) == "好吃"
    assert clean("１２３好吃", TextConfig(normalize="", strip_digits=True)) == "好吃"
    assert clean("5 stars, ٣ times: mp3player!", digits) == "stars, times: mp player!"
    assert clean("一二三", digits) == "一二三"  # Chinese numerals are words, not digits
    assert clean("１２３", DEFAULT) == "123"  # off by default


def test_stripping_never_makes_a_link_or_a_tag_for_the_next_clean():
    both = TextConfig(strip_digits=True, strip_punct=True)
    assert clean("www1.x.com <1br> &1amp;", TextConfig(strip_digits=True)) == \
        "www .x.com < br> & amp;"
    assert clean("www1.x.com <1br> &1amp;", both) == "www x com br amp"


def test_missing_text_is_empty():
    assert clean(None, DEFAULT) == ""
    assert clean_many([None, float("nan"), " x "], DEFAULT) == ["", "", "x"]


def test_bad_normal_form_is_a_config_error():
    with pytest.raises(ConfigError, match="The 'normalize' parameter of TextConfig"):
        clean("x", TextConfig(normalize="NFX"))


MIXED = [
    "Great&nbsp;movie!<br /><br />See https://x.com ＯＫ",
    "這部電影<b>很棒</b>，ＡＰＰ不好用！！ 联系 a.b@x.com",
    "&amp;lt;br&amp;gt;&#65313;&#8203;B",
    "ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ　＜ｂｒ＞ⅻ Straße İstanbul",
    "see (http://x.com/a_(b)). <!-- c --> i <3 it",
    "  \t\n ",
    "送餐太慢了，但是味道不错。后来發現其余都好",
]


STRIPPED = TextConfig(strip_digits=True, strip_punct=True)


@pytest.mark.parametrize("config", [DEFAULT, ZH, TextConfig(normalize="", lowercase=False),
                                    STRIPPED])
def test_clean_is_idempotent(config):
    once = clean_many(MIXED, config)
    assert clean_many(once, config) == once
    assert once == [clean(t, config) for t in MIXED]


def test_clean_is_idempotent_on_random_tricky_strings():
    # Pieces that interact: entities that decode to tags or full-width characters, "İ" whose
    # lowercase gains a combining dot, invisible characters inside markup, links made of pieces.
    pieces = list("aZ <>/&;#:.@w") + [
        "&amp;", "<br />", "<b>", "http://", "www.", "ｗ", "＜", "＆", "這", "余", "İ", "ⅻ",
        "\u3000", "\u200b", "&#8203;", "&lt;", "@x.com", "\x85", "ǅ", "ﬁ", "K", "&#x3c;",
        "1", "１", "！", "\u0301", "\u1100", "\u1161", "'", "好",
    ]  # fmt: skip
    rng = random.Random(0)
    texts = ["".join(rng.choices(pieces, k=rng.randint(0, 14))) for _ in range(1500)]
    for config in (DEFAULT, TextConfig(normalize="", lowercase=False), STRIPPED,
                   TextConfig(strip_digits=True), TextConfig(strip_punct=True)):
        once = clean_many(texts, config)
        assert clean_many(once, config) == once
