"""raw text → sentences, and sentence probabilities → one document's probabilities.

A recurrent net reads a 230-word IMDb review well but a 1,000-word one poorly, and cutting
it (``truncation="head"``, ``"tail"``, ``"head+tail"``) throws the middle away. With
``truncation="sentences"`` a document is split into sentences instead: the network is trained
on sentences, each carrying its document's label, and a document's probabilities are
pooled from its sentences' (``aggregate``). Splitting runs on the raw text, before cleaning,
because cleaning turns IMDb's ``<br />`` line breaks and newlines into plain spaces.

This module is numpy/Python only: the ONNX predictor pools exactly like PyTorch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from sentirnn.config import check_choice
from sentirnn.inference.postprocess import softmax

SENTENCES = "sentences"  # the value of the ``truncation`` parameter that turns this on
POOLINGS = ("mean", "logit-mean", "max", "length-weighted")
LANGUAGES = ("en", "zh")
# A piece shorter than this (words in English, letters/digits/ideographs in Chinese) is
# joined to its neighbour: "Wow!" or "好评！" alone says little and weak-labels badly.
MIN_LENGTH = {"en": 3, "zh": 4}
TINY = 1e-12  # log() floor for probabilities that underflowed to 0

# Line breaks end a sentence even without punctuation: IMDb separates paragraphs with
# "<br /><br />", often after a heading or a score ("Rating: 8/10<br /><br />The plot…").
_BREAK = re.compile(r"(?:\s*<\s*(?:br|/?p)\b[^<>]*>\s*)+|\s*\n\s*", re.IGNORECASE)
_CLOSERS = "\"'”’»)\\]」』）》〉】"
# English: a run of terminators and closing quotes/brackets, then whitespace or the end —
# so "3.5", "www.x.com" and "U.S.A" never match.
_EN_END = re.compile(rf"[.!?…]+[{_CLOSERS}]*(?=\s|$)")
# Chinese: no spaces between sentences; ASCII "..." is a common ellipsis; ";" and "；"
# separate clauses that often carry opposite verdicts ("味道不错；送餐太慢").
_ZH_END = re.compile(rf"(?:[。｡！？!?；;…]|\.{{2,}})+[{_CLOSERS}]*")
# Never the end of an English sentence: titles and Latin abbreviations.
_TITLES = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "e.g", "i.e", "cf",
           "lt", "gen", "col", "capt", "sgt", "rev", "hon", "gov", "sen", "rep", "pres",
           "dept", "approx", "viz", "al"}
# Abbreviations before a number ("No. 5", "vol. 2", "p. 12").
_BEFORE_NUMBER = {"no", "nos", "vol", "fig", "p", "pp", "ch", "sec", "op", "ep"}
# Abbreviations that may end a sentence too: a break only before a capital letter.
_AMBIGUOUS = {"etc", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul",
              "aug", "sep", "sept", "oct", "nov", "dec"}
_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")  # "u.s", "a.m", "p.m" (the last "." is the match)
_WORD = re.compile(r"\w")


def _next_char(text: str, end: int) -> str:
    rest = text[end:].lstrip()
    return rest[:1]


def _en_breaks_at(text: str, match: re.Match) -> bool:
    """Whether an English terminator run ends a sentence."""
    run = match.group().rstrip(_CLOSERS)
    after = _next_char(text, match.end())
    if not after:
        return True
    if "!" in run or "?" in run:
        return True
    if run != ".":  # "..." or "…": "I was... surprised" goes on, "Hmm... The plot" stops
        return not after.islower()
    before = text[:match.start()].split()
    word = before[-1].lstrip(_CLOSERS + "(['\"“‘").lower() if before else ""
    if word in _TITLES:
        return False
    if word in _BEFORE_NUMBER:
        return not after.isdigit()
    if word in _AMBIGUOUS or _ACRONYM.fullmatch(word):
        return after.isupper()
    if len(word) == 1 and word.isalpha() and before[-1][-1:].isupper():
        return False  # an initial: "J. R. R. Tolkien"
    return True


def _cut(block: str, language: str) -> list[str]:
    """One line of text → its sentences, terminators and closing quotes kept."""
    if language == "zh":
        ends = [m.end() for m in _ZH_END.finditer(block)]
    else:
        ends = [m.end() for m in _EN_END.finditer(block) if _en_breaks_at(block, m)]
    starts = [0, *ends]
    return [block[a:b].strip() for a, b in zip(starts, [*ends, len(block)])]


def _size(piece: str, language: str) -> int:
    return len(piece.split()) if language == "en" else len(_WORD.findall(piece))


def _merge(pieces: list[str], language: str, min_length: int) -> list[str]:
    """Join each piece shorter than min_length to the next one (the last to the previous)."""
    sep = " " if language == "en" else ""
    out: list[str] = []
    for piece in pieces:
        if out and _size(out[-1], language) < min_length:
            out[-1] = out[-1] + sep + piece
        else:
            out.append(piece)
    if len(out) > 1 and _size(out[-1], language) < min_length:
        last = out.pop()
        out[-1] = out[-1] + sep + last
    return out


def split_sentences(text: str, language: str, min_length: int | None = None) -> list[str]:
    """Split one raw text into sentences.

    English ends a sentence at ".", "!", "?" or "…" followed by a space (so "3.5" and
    "www.x.com" stay whole), except after titles and abbreviations ("Mr.", "Dr.", "e.g.",
    "No. 5", initials such as "J. R. R."), after "..." followed by a lower-case word, and
    after "etc."/"Inc."/"U.S." unless a capital letter follows. Chinese ends one at
    。！？；… (full- or half-width) and "...". Closing quotes and brackets stay with their
    sentence. HTML line breaks (IMDb's ``<br />``), paragraph tags and newlines always end a
    sentence. Empty pieces are dropped and pieces shorter than ``min_length`` are joined to
    a neighbour.

    Parameters
    ----------
    text : str
        One raw (uncleaned) text.
    language : {"en", "zh"}
    min_length : int, optional
        Shortest sentence kept on its own, in words (en) or letters/digits/ideographs (zh);
        default 3 for English and 4 for Chinese.

    Returns
    -------
    list of str
        The sentences in order; ``[]`` only for a blank text, and the whole (stripped) text
        when it has no terminator.

    Examples
    --------
    >>> split_sentences("Mr. Smith paid $3.5 million. It shows!<br /><br />Avoid it.", "en")
    ['Mr. Smith paid $3.5 million.', 'It shows! Avoid it.']
    >>> split_sentences("他说：“真好吃！”可惜送餐太慢了。", "zh")
    ['他说：“真好吃！”', '可惜送餐太慢了。']
    """
    check_choice("split_sentences", "language", language, LANGUAGES)
    if min_length is None:
        min_length = MIN_LENGTH[language]
    pieces = [p for block in _BREAK.split(text) for p in _cut(block, language)]
    pieces = [p for p in pieces if p]
    return _merge(pieces, language, min_length) if pieces else []


def split_many(texts: Sequence[str], language: str,
               min_length: int | None = None) -> tuple[list[str], np.ndarray]:
    """Split every text → (sentences, owner): ``owner[i]`` is the index of sentence i's text.

    Every text gets at least one sentence (a blank text stays one empty "sentence", which
    encodes to a single ``<unk>`` like any empty text), and the sentences of a text are
    contiguous and in order, as ``pool`` expects.
    """
    sentences: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        pieces = split_sentences(text, language, min_length) or [text]
        sentences += pieces
        owner += [i] * len(pieces)
    return sentences, np.asarray(owner, dtype=np.int64)


def aggregate(probabilities: np.ndarray, how: str = "mean",
              lengths: Sequence[int] | None = None) -> np.ndarray:
    """One document's sentence probabilities (k, C) → its probabilities (C,).

    Parameters
    ----------
    probabilities : array of shape (k_sentences, n_classes), rows summing to 1.
    how : {"mean", "logit-mean", "max", "length-weighted"}
        "mean" averages the probabilities; "logit-mean" averages the log-probabilities and
        renormalises (a normalised geometric mean: one confident sentence counts more);
        "max" takes the row of the most confident sentence (the first one on ties);
        "length-weighted" averages weighted by each sentence's token count.
    lengths : the k sentence lengths in tokens; needed for "length-weighted" only.

    Returns
    -------
    array of shape (n_classes,), summing to 1.

    Examples
    --------
    >>> aggregate(np.array([[0.9, 0.1], [0.3, 0.7]]), "mean")
    array([0.6, 0.4])
    """
    check_choice("aggregate", "how", how, POOLINGS)
    p = np.asarray(probabilities, dtype=np.float64)  # (k, C)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"aggregate needs probabilities of shape (k ≥ 1, C), got {p.shape}")
    if how == "mean":
        return p.mean(axis=0)
    if how == "logit-mean":
        mean_log = np.log(np.maximum(p, TINY)).mean(axis=0)  # (C,)
        exp = np.exp(mean_log - mean_log.max())
        return exp / exp.sum()
    if how == "max":
        return p[int(p.max(axis=1).argmax())]
    if lengths is None or len(lengths) != len(p):
        raise ValueError("length-weighted pooling needs one length per sentence; got "
                         f"{None if lengths is None else len(lengths)} for {len(p)} sentences")
    w = np.asarray(lengths, dtype=np.float64)  # (k,)
    return (w[:, None] * p).sum(axis=0) / w.sum()


def pool(probabilities: np.ndarray, owner: np.ndarray, n_documents: int, how: str = "mean",
         lengths: Sequence[int] | None = None) -> np.ndarray:
    """Sentence probabilities (k, C) of ``split_many``'s sentences → (n_documents, C)."""
    if n_documents == 0:
        return np.empty((0, np.shape(probabilities)[1]), dtype=np.float64)
    counts = np.bincount(owner, minlength=n_documents)  # sentences per document
    if len(counts) != n_documents or (counts == 0).any():
        raise ValueError("every document needs at least one sentence (use split_many)")
    bounds = np.cumsum(counts)[:-1]
    parts = np.split(np.asarray(probabilities), bounds)
    sizes = (np.split(np.asarray(lengths), bounds) if lengths is not None
             else [None] * n_documents)
    out = np.empty((n_documents, np.shape(probabilities)[1]), dtype=np.float64)
    for i, (part, size) in enumerate(zip(parts, sizes)):
        out[i] = aggregate(part, how, size)
    return out


def pooled_logits(sentence_logits: np.ndarray, owner: np.ndarray, n_documents: int,
                  how: str, lengths: Sequence[int]) -> np.ndarray:
    """Sentence logits (k, C) → document "logits" (n, C): the log of the pooled probabilities.

    Their softmax gives the pooled probabilities back (rows already sum to 1), so temperature
    scaling, evaluation and every backend treat them like a network's logits.
    """

    pooled = pool(softmax(sentence_logits), owner, n_documents, how, lengths)  # (n, C)
    return np.log(np.maximum(pooled, TINY)).astype(sentence_logits.dtype)
