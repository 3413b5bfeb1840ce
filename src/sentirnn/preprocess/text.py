"""raw text → cleaned text: the cleaning steps that run before tokenization.

Reviews arrive with HTML (IMDb is full of ``<br />``), links, e-mail addresses, full-width
characters and, in Chinese, a mix of traditional and simplified script. ``clean`` maps all of
that to one canonical form chosen by a :class:`~sentirnn.config.TextConfig`, so training and
prediction see the same strings. ``clean`` is idempotent: ``clean(clean(x)) == clean(x)``.
"""

from __future__ import annotations

import functools
import html
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable

import zhconv

from sentirnn.config import TextConfig, check_choice

NORMAL_FORMS = ("NFKC", "NFC", "NFKD", "NFD", "", None)

# Zero-width characters and C0/C1 controls are invisible but split words and, left in the middle
# of an entity such as "&am\x00p;", would let a second clean() find something new to strip.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
# Inline formatting tags vanish ("很<b>好</b>" must stay "很好" for jieba); every other tag
# (<br />, <p>, <div>, <li> …) separates words, so it becomes a space. A tag must start with a
# letter right after "<" or "</", which leaves "<3" and "a < b" alone.
_INLINE_TAG = re.compile(
    r"</?(?:a|abbr|b|big|code|em|font|i|mark|s|small|span|strike|strong|sub|sup|u)\b[^<>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.DOTALL)
# URLs are matched on ASCII characters only: Chinese text has no spaces, so "\S+" would swallow
# the words after a link. The last character may not be sentence punctuation ("see www.x.com.").
_URL_CHARS = r"A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%"
_URL = re.compile(
    rf"(?:(?:https?|ftp)://|www\.)[{_URL_CHARS}]*[A-Za-z0-9\-_~/#\[@$&*+=%]",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_SPACES = re.compile(r"\s+")
# CJK ideographs (basic, extension A, compatibility); only texts with one need trad → simp.
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Scripts written without spaces between words (kana, Han): punctuation next to them is just
# dropped, "好!!!吃" → "好吃", while between two Latin words it stays a word break.
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_APOSTROPHES = frozenset("'\u2019")


def _to_str(text: object) -> str:
    """Missing values become ""; the data layer drops them already, this is only defensive."""
    if text is None or (isinstance(text, float) and text != text):  # None or NaN
        return ""
    return text if isinstance(text, str) else str(text)


def _normalizer(form: str | None, lowercase: bool) -> Callable[[str], str]:
    """Unicode normalisation, lowercasing and the folds that always run.

    It runs first and again on whatever an HTML entity decodes to. Lowercasing belongs here,
    not at the end: "İ".lower() is "i" plus a combining dot, so "<İ…>" would become a tag that
    only a second clean() strips.
    """

    def normalize(s: str) -> str:
        # is_normalized is a fast check; most texts are already in the form.
        if form and not unicodedata.is_normalized(form, s):
            s = unicodedata.normalize(form, s)
        if lowercase:
            s = s.lower()
        # U+3000 is folded even without NFKC; "&#8203;" decodes to an invisible character.
        return _INVISIBLE.sub("", s.replace("\u3000", " "))

    return normalize


def _html_stripper(normalize: Callable[[str], str]) -> Callable[[str], str]:
    def strip_html(s: str) -> str:
        # Repeat until nothing changes: "&amp;lt;br&amp;gt;" needs two rounds, and an entity
        # can decode to a full-width "＜" that only becomes a tag after normalisation.
        for _ in range(8):
            before = s
            if "&" in s:
                s = normalize(html.unescape(s))
            if "<" in s:
                s = _TAG.sub(" ", _INLINE_TAG.sub("", s))
            if s == before:
                break
        return s

    return strip_html


def _strip_urls(s: str) -> str:
    return _URL.sub(" ", s) if ("//" in s or "ww." in s or "WW." in s) else s


def _strip_emails(s: str) -> str:
    return _EMAIL.sub(" ", s) if "@" in s else s


def _to_simplified(s: str) -> str:
    if not _HAN.search(s):
        return s
    return zhconv.convert(s, "zh-hans")


def _ranges(wanted: Callable[[str], bool]) -> str:
    """A regex character class body of every code point whose category ``wanted`` accepts."""
    out, start = [], None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and wanted(unicodedata.category(chr(code)))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            first, last = re.escape(chr(start)), re.escape(chr(code - 1))
            out.append(first if start == code - 1 else f"{first}-{last}")
            start = None
    return "".join(out)


@functools.cache
def _runs() -> dict[str, re.Pattern]:
    """Runs of punctuation and symbols ("punct") and of decimal digits ("digits"), built on
    first use (~0.2 s): ``re`` has no ``\\p{P}``."""
    # Combining marks go with the digit or punctuation they sit on: left behind, one would
    # combine with the letter before it and the next clean() would normalise that away.
    marks = _ranges(lambda c: c[0] == "M")
    punct = re.compile(f"(?:[{_ranges(lambda c: c[0] in 'PS')}][{marks}]*)+")
    digits = re.compile(rf"(?:\d[{marks}]*)+")  # \d on str = category Nd, "１２３" included
    return {"punct": punct, "digits": digits}


def _remover(kind: str) -> Callable[[str], str]:
    def remove(s: str) -> str:
        def gap(m: re.Match) -> str:
            before = s[m.start() - 1] if m.start() else " "
            after = s[m.end()] if m.end() < len(s) else " "
            # Between two characters of a spaced script a run leaves a word break:
            # "great...the" must not become one word, nor "www1.x.com" or "<1br>" a link
            # or a tag that the next clean() would strip. "don't" becomes "dont".
            joined = (before.isspace() or after.isspace() or _UNSPACED.match(before)
                      or _UNSPACED.match(after) or set(m.group()) <= _APOSTROPHES)
            return "" if joined else " "

        return _runs()[kind].sub(gap, s)

    return remove


def _pipeline(config: TextConfig) -> list[Callable[[str], str]]:
    """The cleaning steps that config switches on, in the order they run."""
    check_choice("TextConfig", "normalize", config.normalize, NORMAL_FORMS)
    normalize = _normalizer(config.normalize, config.lowercase)
    # Normalisation runs first (not after URL stripping): full-width "ｗｗｗ．ｘ．ｃｏｍ" or
    # "＜ｂｒ＞" only look like a link or a tag once NFKC has folded them, and a later pass
    # would then strip them, breaking idempotence.
    steps: list[Callable[[str], str]] = [normalize]
    if config.strip_html:
        steps.append(_html_stripper(normalize))
    if config.strip_urls:
        steps.append(_strip_urls)
    if config.strip_emails:
        steps.append(_strip_emails)
    if config.traditional_to_simplified:
        steps.append(_to_simplified)
    if config.strip_digits:
        steps.append(_remover("digits"))
    if config.strip_punct:
        steps.append(_remover("punct"))
    return steps


def _run(text: object, steps: list[Callable[[str], str]]) -> str:
    s = _to_str(text)
    for step in steps:
        s = step(s)
    return _SPACES.sub(" ", s).strip()


def clean(text: str, config: TextConfig | None = None) -> str:
    """Clean one raw text as ``config`` says.

    Steps, in order: Unicode normalisation (``config.normalize``, e.g. NFKC, which also maps
    full-width "ＡＢＣ１２３！" to "ABC123!"; the ideographic space U+3000 is always folded)
    and lowercasing, HTML entities unescaped and tags removed, URLs and e-mail addresses
    removed, traditional → simplified Chinese, decimal digits removed (``strip_digits``: any
    Unicode digit, full-width "１２３" too) and punctuation and symbols removed (``strip_punct``:
    Unicode categories P* and S*, so emoji too; a run of either leaves a space between two
    Latin letters, nothing next to Chinese or Japanese characters), and finally runs of
    whitespace collapsed to one space and stripped. Zero-width characters and control
    characters are always dropped.

    Parameters
    ----------
    text : str
        The raw text. ``None`` (or NaN) is treated as the empty string.
    config : TextConfig, optional
        Which steps run; the defaults of :class:`~sentirnn.config.TextConfig` when omitted.

    Returns
    -------
    str
        The cleaned text; ``clean(clean(text, c), c) == clean(text, c)``.

    Examples
    --------
    >>> clean("Great&nbsp;movie!<br /><br />See https://x.com ＯＫ", TextConfig())
    'great movie! see ok'
    """
    return _run(text, _pipeline(config or TextConfig()))


def clean_many(texts: Iterable[str], config: TextConfig | None = None) -> list[str]:
    """Clean many raw texts with one config (the steps are set up once).

    Parameters
    ----------
    texts : iterable of str
        The raw texts.
    config : TextConfig, optional
        Which steps run; the defaults of :class:`~sentirnn.config.TextConfig` when omitted.

    Returns
    -------
    list of str
        One cleaned text per input text, in order.

    Examples
    --------
    >>> clean_many(["這部電影<b>很棒</b>", "  OK  "], TextConfig(traditional_to_simplified=True))
    ['这部电影很棒', 'ok']
    """
    steps = _pipeline(config or TextConfig())
    return [_run(text, steps) for text in texts]
