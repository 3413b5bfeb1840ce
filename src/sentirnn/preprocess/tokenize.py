"""cleaned text → tokens: the tokenizers.

Chinese has no spaces, so it is split into jieba words ("jieba-word") or into characters
("char"); which one is better depends on the data (DESIGN.md measured both), so both are
offered. English is split into words and punctuation ("en-word"). "subword" learns a BPE
vocabulary from the training texts with Hugging Face ``tokenizers`` (any language; rare words
become known pieces instead of ``<unk>``). A :class:`Tokenizer` is plain settings (plus the
trained BPE model for "subword"), saved as JSON with ``to_dict``/``from_dict`` next to the model.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jieba
import tokenizers as hf_tokenizers

from sentirnn.config import check_choice
from sentirnn.errors import ConfigError

logger = logging.getLogger("sentirnn")

KINDS = ("auto", "jieba-word", "char", "en-word", "subword")
SUBWORD_VOCAB = 16000  # default BPE vocabulary size
LANGUAGES = ("zh", "en")
_AUTO_KIND = {"zh": "jieba-word", "en": "en-word"}

# "char": a CJK (or other non-Latin) letter is a token on its own, a run of Latin letters and
# digits stays one token ("iphone很好用" → iphone 很 好 用), any other visible character is a token.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs: basic, ext. A, compat.
_CHAR_TOKEN = re.compile(rf"[^\W_{_HAN}\u3040-\u30ff]+|\S")  # kana are single tokens too
# "en-word": words, Penn-Treebank contractions and single punctuation marks. "didn't" →
# "did" "n't" keeps the negation as one token shared by every verb; "it's" → "it" "'s".
# Plain `re` gives the same split as a tokenizers Split pre-tokenizer but faster, because
# it builds no offset tuples.
_EN_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\w+|[^\w\s]")
_CJK = re.compile(f"[{_HAN}]")


def detect_language(texts: Sequence[str], sample: int = 2000) -> str:
    """Guess whether texts are Chinese or English.

    Parameters
    ----------
    texts : sequence of str
        Cleaned (or raw) texts.
    sample : int, default 2000
        How many texts to look at; they are drawn with a fixed seed, so the answer is
        reproducible. Only the first 1,000 characters of each text are counted.

    Returns
    -------
    str
        ``"zh"`` when CJK characters are more than 30% of the non-space characters of the
        sample, else ``"en"`` (also for no text at all).

    Examples
    --------
    >>> detect_language(["这部电影真的很棒", "送餐太慢了"])
    'zh'
    """
    n = len(texts)
    picks = range(n) if n <= sample else random.Random(0).sample(range(n), sample)
    cjk = visible = 0
    for i in picks:
        text = texts[i]
        if not isinstance(text, str):
            continue
        head = text[:1000]
        cjk += len(_CJK.findall(head))
        visible += len("".join(head.split()))
    language = "zh" if visible and cjk / visible > 0.3 else "en"
    logger.debug(
        "detect_language: %d of %d visible characters are CJK → %s", cjk, visible, language
    )
    return language


def resolve_kind(kind: str, language: str) -> str:
    """Turn ``kind="auto"`` into the default tokenizer of ``language``.

    Parameters
    ----------
    kind : {"auto", "jieba-word", "char", "en-word"}
        The requested tokenizer; any value but "auto" is returned unchanged.
    language : {"zh", "en"}
        The language of the texts (see :func:`detect_language`).

    Returns
    -------
    str
        "jieba-word" for Chinese, "en-word" for English, or ``kind`` itself.

    Examples
    --------
    >>> resolve_kind("auto", "zh")
    'jieba-word'
    """
    check_choice("Tokenizer", "kind", kind, KINDS)
    if kind != "auto":
        return kind
    _check_language(language)
    return _AUTO_KIND[language]


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ConfigError(
            f"The 'language' parameter of Tokenizer must be one of {{'zh', 'en'}}. "
            f"Got {language!r} instead; resolve 'auto' first with detect_language(texts)."
        )


@cache
def load_stopwords(language: str) -> frozenset[str]:
    """The stop words shipped for ``language``.

    The lists hold function words only: negations ("not", "不", "没有") and intensity or
    contrast words ("very", "很", "但是") are kept out on purpose, because they carry sentiment.

    Parameters
    ----------
    language : {"zh", "en"}
        Which list.

    Returns
    -------
    frozenset of str
        The words; lines starting with "#" in the resource file are comments.

    Examples
    --------
    >>> "the" in load_stopwords("en"), "not" in load_stopwords("en")
    (True, False)
    """
    _check_language(language)
    path = resources.files("sentirnn").joinpath("resources", f"stopwords_{language}.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.lstrip().startswith("#"))


class Tokenizer:
    """Split cleaned text into tokens.

    Parameters
    ----------
    kind : {"auto", "jieba-word", "char", "en-word"}
        "jieba-word": Chinese words from jieba (HMM on, for unseen words); "char": every CJK
        character is a token, runs of Latin letters/digits stay one token, punctuation marks
        are tokens; "en-word": English words, contractions ("n't", "'s") and punctuation;
        "auto": "jieba-word" for Chinese, "en-word" for English.
    language : {"zh", "en"}
        The language of the texts; picks the "auto" kind and the stop-word list.
    remove_stopwords : bool, default False
        Drop the function words of :func:`load_stopwords` (negations are never dropped).
    user_dict : str, optional
        Path of a jieba user dictionary (one "word [freq] [tag]" per line); "jieba-word" only.
    vocab_size : int, optional
        "subword" only: size of the BPE vocabulary that :meth:`fit` learns (default 16000).
    model : str, optional
        "subword" only: a trained BPE model (the JSON that :meth:`to_dict` stores).

    Examples
    --------
    >>> Tokenizer("char", "zh").tokenize("iphone很好用!")
    ['iphone', '很', '好', '用', '!']
    """

    def __init__(
        self,
        kind: str,
        language: str,
        remove_stopwords: bool = False,
        user_dict: str | None = None,
        vocab_size: int | None = None,
        model: str | None = None,
    ) -> None:
        self.kind = resolve_kind(kind, language)
        if self.kind != "subword" and (vocab_size is not None or model is not None):
            raise ConfigError(f"vocab_size and model are only used by the 'subword' tokenizer, "
                              f"not {self.kind!r}.")
        self.vocab_size = int(vocab_size or SUBWORD_VOCAB) if self.kind == "subword" else None
        self.model = model
        self._hf: Any = None
        _check_language(language)
        if user_dict is not None and self.kind != "jieba-word":
            raise ConfigError(
                f"user_dict is only used by the 'jieba-word' tokenizer, not {self.kind!r}; "
                "pass user_dict=None or kind='jieba-word'."
            )
        if user_dict is not None and not os.path.isfile(user_dict):
            raise ConfigError(f"jieba user dictionary {user_dict!r} does not exist.")
        self.language = language
        self.remove_stopwords = bool(remove_stopwords)
        self.user_dict = None if user_dict is None else os.fspath(user_dict)
        self._stopwords = load_stopwords(language) if self.remove_stopwords else frozenset()
        self._jieba: Any = None  # created on first use: loading the dictionary takes ~1 s

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"Tokenizer({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()

    __hash__ = None  # mutable settings object, like a dataclass with eq=True

    # The jieba instance is rebuilt after unpickling (DataLoader workers, DDP spawn).
    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def _jieba_tokenizer(self) -> Any:
        """A private jieba.Tokenizer, so a user dictionary never leaks into jieba's global one."""
        if self._jieba is None:
            self._jieba = _shared_jieba(self.user_dict)
        return self._jieba

    def fit(self, texts: Iterable[str]) -> Tokenizer:
        """Learn the BPE vocabulary of a "subword" tokenizer from cleaned texts (other kinds
        have nothing to learn); returns self.

        Examples
        --------
        >>> tok = Tokenizer("subword", "en", vocab_size=60).fit(["low lower lowest"] * 5)
        >>> tok.tokenize("lowest")[0].startswith("▁")
        True
        """
        if self.kind != "subword":
            return self
        hf = hf_tokenizers.Tokenizer(hf_tokenizers.models.BPE(unk_token="<unk>"))
        # "▁" marks a word start (so pieces can be joined back); punctuation is its own piece.
        pre = hf_tokenizers.pre_tokenizers
        hf.pre_tokenizer = pre.Sequence([pre.Metaspace(), pre.Punctuation()])
        hf.decoder = hf_tokenizers.decoders.Metaspace()
        trainer = hf_tokenizers.trainers.BpeTrainer(vocab_size=self.vocab_size, min_frequency=2,
                                                    special_tokens=["<unk>"],
                                                    show_progress=False)
        hf.train_from_iterator(texts, trainer)
        self.model, self._hf = hf.to_str(), hf
        return self

    def _subword(self) -> Any:
        if self._hf is None:
            if self.model is None:
                raise ConfigError("this subword tokenizer is not trained yet; call "
                                  "fit(texts) first.")
            self._hf = hf_tokenizers.Tokenizer.from_str(self.model)
        return self._hf

    def _split(self, text: str) -> list[str]:
        if self.kind == "subword":
            return self._subword().encode(text).tokens
        if self.kind == "jieba-word":
            return [t for t in self._jieba_tokenizer().cut(text, HMM=True) if not t.isspace()]
        if self.kind == "char":
            return _CHAR_TOKEN.findall(text)
        return _EN_TOKEN.findall(text)

    def tokenize(self, text: str) -> list[str]:
        """Split one cleaned text into tokens.

        Parameters
        ----------
        text : str
            A cleaned text (see :func:`sentirnn.preprocess.text.clean`).

        Returns
        -------
        list of str
            The tokens, in order; never an empty string or whitespace.

        Examples
        --------
        >>> Tokenizer("en-word", "en").tokenize("i didn't like it!")
        ['i', 'did', "n't", 'like', 'it', '!']
        """
        tokens = self._split(text)
        if self._stopwords:
            stop = self._stopwords
            return [t for t in tokens if t not in stop]
        return tokens

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Split many cleaned texts; one token list per text, in order.

        Parameters
        ----------
        texts : iterable of str
            Cleaned texts.

        Returns
        -------
        list of list of str
            ``[tokenize(t) for t in texts]``.

        Examples
        --------
        >>> Tokenizer("char", "zh").tokenize_many(["很好", "差"])
        [['很', '好'], ['差']]
        """
        if self.kind == "subword":  # one batched call into the Rust tokenizer
            found = [e.tokens for e in self._subword().encode_batch(list(texts))]
            stop = self._stopwords
            return [[t for t in ts if t not in stop] for ts in found] if stop else found
        tokenize = self.tokenize
        return [tokenize(text) for text in texts]

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-safe dict (``kind`` is always resolved, never "auto")."""
        settings = {
            "kind": self.kind,
            "language": self.language,
            "remove_stopwords": self.remove_stopwords,
            "user_dict": self.user_dict,
        }
        if self.kind == "subword":
            settings.update(vocab_size=self.vocab_size, model=self.model)
        return settings

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer:
        """Rebuild a Tokenizer from :meth:`to_dict` output.

        Parameters
        ----------
        data : dict
            With keys "kind" and "language", optionally "remove_stopwords" and "user_dict".

        Returns
        -------
        Tokenizer

        Raises
        ------
        ConfigError
            On a missing or unknown key, or an invalid value.

        Examples
        --------
        >>> Tokenizer.from_dict({"kind": "char", "language": "zh"}).kind
        'char'
        """
        if not isinstance(data, dict):
            raise ConfigError(f"Tokenizer: expected a JSON object, got {type(data).__name__}.")
        allowed = ("kind", "language", "remove_stopwords", "user_dict", "vocab_size", "model")
        unknown = sorted(set(data) - set(allowed))
        missing = [k for k in ("kind", "language") if k not in data]
        if unknown or missing:
            raise ConfigError(
                f"Tokenizer settings have unknown keys {unknown} or lack keys {missing}; "
                f"valid keys: {', '.join(allowed)}."
            )
        return cls(**data)


_JIEBA: dict[tuple, Any] = {}
_JIEBA_LOCK = threading.Lock()


def _shared_jieba(user_dict: str | None) -> Any:
    """One jieba.Tokenizer per user dictionary (and its modification time) per process.

    Loading jieba's dictionary takes about a second; every Tokenizer that a fit, a load or a
    baseline creates would otherwise pay it again. Cutting does not change the instance.
    """
    key = (user_dict, os.path.getmtime(user_dict) if user_dict else None)
    with _JIEBA_LOCK:
        if key not in _JIEBA:
            logging.getLogger("jieba").setLevel(logging.WARNING)  # "Building prefix dict…"
            jt = jieba.Tokenizer()
            if user_dict is not None:
                jt.load_userdict(user_dict)
            _JIEBA[key] = jt
        return _JIEBA[key]
