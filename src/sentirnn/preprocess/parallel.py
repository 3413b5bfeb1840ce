"""One side of a translation pair: raw sentence → cleaned → tokens → ids, and ids → sentence.

A :class:`TextSide` bundles the cleaning settings, the tokenizer and the vocabulary of one
language, fitted once on the training sentences and saved as JSON in the model directory, so
training, translation, scoring and export all see the same text. Chinese is always turned into
simplified characters (the Tatoeba data mixes both scripts, and a reference in traditional
characters would otherwise never match an output in simplified ones); NFC keeps full-width
Chinese punctuation as it is, so outputs read like the references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sentirnn.config import TextConfig
from sentirnn.errors import ConfigError
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer
from sentirnn.preprocess.vocab import PAD_TOKEN, UNK_TOKEN, Vocab

BOS_TOKEN, EOS_TOKEN = "<s>", "</s>"
TARGET_SPECIALS = (PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN)
BOS, EOS = 2, 3
# sides default to what a 20k-pair corpus supports: Chinese as characters (a word vocabulary
# leaves most test words unseen), English as words
DEFAULT_TOKENIZER = {"zh": "char", "en": "en-word"}
_ATTACH_LEFT = re.compile(r" (?=[.,!?;:%)\]}'\"]|n't\b|'(?:s|re|ve|ll|d|m)\b)")
_ATTACH_RIGHT = re.compile(r"(?<=[(\[{$]) ")
_LATIN_EDGE = re.compile(r"[A-Za-z0-9]$")


def text_config(language: str, lowercase: bool) -> TextConfig:
    """The cleaning of one side: no HTML/URL stripping (sentences, not web pages)."""
    return TextConfig(normalize="NFC", strip_html=False, strip_urls=False, strip_emails=False,
                      traditional_to_simplified=language == "zh", lowercase=lowercase)


def detokenize(tokens: Sequence[str], kind: str) -> str:
    """Join output tokens back into a sentence the way the tokenizer split it."""
    if kind == "subword":
        return "".join(tokens).replace("▁", " ").strip()
    if kind == "char":
        out: list[str] = []
        for token in tokens:  # Latin runs stay apart: "iPhone X", not "iPhoneX"
            if out and _LATIN_EDGE.search(out[-1]) and token[:1].isascii() and token[:1].isalnum():
                out.append(" ")
            out.append(token)
        return "".join(out)
    text = " ".join(tokens)
    return _ATTACH_RIGHT.sub("", _ATTACH_LEFT.sub("", text))


class TextSide:
    """Cleaning, tokenizer and vocabulary of one language of a translation model.

    Parameters
    ----------
    language : {"zh", "en"}
        The language of this side.
    tokenizer : {"char", "en-word", "jieba-word", "subword"}, optional
        How sentences split into tokens; "char" for Chinese and "en-word" for English by default.
    lowercase : bool, default False
        Lowercase before tokenizing (worth it on a source side with little data).
    target : bool, default False
        A target side has ``<s>`` and ``</s>`` in its vocabulary and adds ``</s>`` when encoding.
    """

    def __init__(self, language: str, tokenizer: str | None = None, lowercase: bool = False,
                 target: bool = False, subword_size: int | None = None) -> None:
        if language not in DEFAULT_TOKENIZER:
            raise ConfigError(f"language must be 'zh' or 'en', not {language!r}.")
        self.language = language
        kind = tokenizer or DEFAULT_TOKENIZER[language]
        self.tokenizer = Tokenizer(kind, language,
                                   vocab_size=subword_size if kind == "subword" else None)
        self.lowercase = bool(lowercase)
        self.target = bool(target)
        self.cleaning = text_config(language, self.lowercase)
        self.vocab: Vocab | None = None

    @property
    def specials(self) -> tuple[str, ...]:
        return TARGET_SPECIALS if self.target else (PAD_TOKEN, UNK_TOKEN)

    def clean(self, texts: Iterable[str]) -> list[str]:
        return clean_many(texts, self.cleaning)

    def tokenize(self, texts: Iterable[str]) -> list[list[str]]:
        return self.tokenizer.tokenize_many(self.clean(texts))

    def fit(self, texts: Sequence[str], min_freq: int = 1, max_size: int | None = None
            ) -> list[list[str]]:
        """Learn the tokenizer (subword) and vocabulary; returns the training tokens."""
        cleaned = self.clean(texts)
        self.tokenizer.fit(cleaned)
        tokens = self.tokenizer.tokenize_many(cleaned)
        self.vocab = Vocab.build(tokens, min_freq=min_freq, max_size=max_size,
                                 specials=self.specials)
        return tokens

    def encode_tokens(self, tokens: Iterable[Sequence[str]]) -> list[list[int]]:
        ids = self._vocab().encode_many(tokens)
        return [row + [EOS] for row in ids] if self.target else ids

    def encode(self, texts: Iterable[str]) -> list[list[int]]:
        return self.encode_tokens(self.tokenize(texts))

    def decode(self, ids: Iterable[int]) -> str:
        """ids → sentence; stops at ``</s>``, skips padding and ``<s>``."""
        vocab, tokens = self._vocab(), []
        for i in ids:
            i = int(i)
            if self.target and i == EOS:
                break
            if i == Vocab.PAD or (self.target and i == BOS):
                continue
            tokens.append(vocab.itos[i])
        return detokenize(tokens, self.tokenizer.kind)

    def _vocab(self) -> Vocab:
        if self.vocab is None:
            raise ConfigError("this TextSide has no vocabulary yet: call fit(texts) first.")
        return self.vocab

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language, "tokenizer": self.tokenizer.to_dict(),
                "lowercase": self.lowercase, "target": self.target,
                "vocab": self._vocab().to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextSide:
        try:
            side = cls(data["language"], data["tokenizer"]["kind"], data["lowercase"],
                       data["target"])
            side.tokenizer = Tokenizer.from_dict(data["tokenizer"])
            side.vocab = Vocab.from_dict(data["vocab"])
        except (KeyError, TypeError) as err:
            raise ConfigError(f"translation tokenizer settings are incomplete ({err!r}).") from err
        return side
