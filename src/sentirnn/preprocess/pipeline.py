"""raw text → ids: the text path of a model as one object, fitted once and saved with it.

``TextPipeline`` holds the three learned pieces — cleaning settings, tokenizer, vocabulary —
and runs them in order (clean → tokenize → vocabulary ids). The classifier builds one in
``fit`` (or takes its language model's); prediction (PyTorch and ONNX), explanations and
the language model encode through it, so one text becomes the same ids everywhere. It is
saved as JSON: the cleaning settings in config.json's "text", the tokenizer and vocabulary
in tokenizer.json — the layout model directories always had, so every directory written
before loads into one unchanged. No torch here (ONNX needs none).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sentirnn import artifacts
from sentirnn.config import TextConfig
from sentirnn.preprocess.batching import prepare
from sentirnn.preprocess.encode import encode_one, encode_texts
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer
from sentirnn.preprocess.vocab import PAD_TOKEN, UNK_TOKEN, Vocab

TOKENIZER_FILE = "tokenizer.json"


class TextPipeline:
    """Cleaning settings, tokenizer and vocabulary, applied in that order.

    Parameters
    ----------
    text : TextConfig, the cleaning settings.
    tokenizer : Tokenizer, fitted (a "subword" one has its BPE model).
    vocab : Vocab, token → id.

    Examples
    --------
    >>> pipe, tokens = TextPipeline.fit(["好吃", "难吃"], TextConfig(), Tokenizer("char", "zh"))
    >>> tokens, pipe.encode(["好吃吗"], max_len=10, truncation="head")
    ([['好', '吃'], ['难', '吃']], [[3, 2, 1]])
    """

    def __init__(self, text: TextConfig, tokenizer: Tokenizer, vocab: Vocab):
        self.text, self.tokenizer, self.vocab = text, tokenizer, vocab

    @classmethod
    def fit(cls, texts: Sequence[str], text: TextConfig, tokenizer: Tokenizer,
            min_freq: int = 1, max_size: int | None = None,
            specials: Sequence[str] = (PAD_TOKEN, UNK_TOKEN)
            ) -> tuple[TextPipeline, list[list[str]]]:
        """Learn tokenizer (BPE for "subword") and vocabulary from raw texts.

        Returns the pipeline and the texts' tokens, so that the caller does not clean and
        tokenize the same texts a second time.
        """
        return cls.fit_cleaned(clean_many(texts, text), text, tokenizer, min_freq, max_size,
                               specials)

    @classmethod
    def fit_cleaned(cls, cleaned: Sequence[str], text: TextConfig, tokenizer: Tokenizer,
                    min_freq: int = 1, max_size: int | None = None,
                    specials: Sequence[str] = (PAD_TOKEN, UNK_TOKEN)
                    ) -> tuple[TextPipeline, list[list[str]]]:
        """:meth:`fit` on texts already cleaned with ``text``."""
        tokenizer.fit(cleaned)  # only "subword" has something to learn
        tokens = tokenizer.tokenize_many(cleaned)
        vocab = Vocab.build(tokens, min_freq=min_freq, max_size=max_size, specials=specials)
        return cls(text, tokenizer, vocab), tokens

    # ---- the stages ------------------------------------------------------------------------
    def clean(self, texts: Sequence[str]) -> list[str]:
        """raw texts → cleaned texts."""
        return clean_many(texts, self.text)

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """raw texts → cleaned → token lists (not truncated)."""
        return self.tokenizer.tokenize_many(self.clean(texts))

    def ids(self, tokens: Sequence[Sequence[str]]) -> list[list[int]]:
        """token lists → vocabulary ids (unknown tokens are ``<unk>``; nothing cut)."""
        return self.vocab.encode_many(tokens)

    def encode_tokens(self, tokens: Sequence[Sequence[str]], max_len: int,
                      truncation: str) -> list[list[int]]:
        """token lists → ids as a network reads them: cut to ``max_len``, never empty."""
        return prepare(self.ids(tokens), max_len, truncation)

    def encode(self, texts: Sequence[str], max_len: int, truncation: str) -> list[list[int]]:
        """raw texts → ids as a network reads them (PyTorch and ONNX predictors alike)."""
        return encode_texts(texts, self.text, self.tokenizer, self.vocab, max_len, truncation)

    def encode_one(self, text: str, max_len: int, truncation: str
                   ) -> tuple[list[str], list[int]]:
        """One raw text → (tokens, ids) aligned one to one, as explanations show them."""
        return encode_one(text, self.text, self.tokenizer, self.vocab, max_len, truncation)

    # ---- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The whole pipeline as one JSON-safe dict (:meth:`from_dict` reads it back)."""
        return {"text": self.text.to_dict(), "tokenizer": self.tokenizer.to_dict(),
                "vocab": self.vocab.to_dict()}

    @classmethod
    def from_dict(cls, data: dict, where: str = "text pipeline") -> TextPipeline:
        return cls(TextConfig.from_dict(data["text"], f"{where} text"),
                   Tokenizer.from_dict(data["tokenizer"]), Vocab.from_dict(data["vocab"]))

    def config(self) -> dict:
        """config.json's part: cleaning settings and tokenizer settings (no BPE model)."""
        return {"text": self.text.to_dict(),
                "tokenizer": {k: v for k, v in self.tokenizer.to_dict().items() if k != "model"}}

    def files(self) -> dict[str, bytes]:
        """The checksummed file of a model directory: tokenizer (with BPE model) + vocabulary."""
        data = {"tokenizer": self.tokenizer.to_dict(), "vocab": self.vocab.to_dict()}
        return {TOKENIZER_FILE: json.dumps(data, ensure_ascii=False).encode("utf-8")}

    @classmethod
    def read(cls, path, config: dict) -> TextPipeline:
        """The pipeline of a model directory, from its config.json (read) and tokenizer.json.

        KeyError, TypeError or ValueError (ConfigError among them) on a damaged directory;
        the loader turns them into an ArtifactError naming the directory.
        """
        tok = artifacts.read_json_file(path, TOKENIZER_FILE)
        return cls.from_dict({"text": config["text"], "tokenizer": tok["tokenizer"],
                              "vocab": tok["vocab"]}, f"{Path(path)}/config.json")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextPipeline) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (f"TextPipeline({self.tokenizer.kind!r}, {self.tokenizer.language!r}, "
                f"{len(self.vocab)} tokens)")
