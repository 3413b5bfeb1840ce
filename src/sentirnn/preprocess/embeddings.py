"""Pretrained word vectors: train them (Word2Vec), read them (GloVe/word2vec/fastText), and
turn them into the embedding matrix of a vocabulary.

gensim does the reading and the training; this module adds what a classifier needs around it:
the format guessed from the file, one-line errors naming the file, the *same* cleaned tokens the
classifier sees (``text.clean_many`` + ``tokenize.Tokenizer``), and a coverage report — how much
of the vocabulary, and of the training tokens, the file actually knows. Low coverage is the usual
reason pretrained vectors do not help (wrong tokenizer, wrong casing, wrong language).
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sentirnn.config import TextConfig
from sentirnn.errors import ConfigError, DataError
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer, detect_language
from sentirnn.preprocess.vocab import Vocab

log = logging.getLogger("sentirnn")

FORMATS = ("auto", "glove", "word2vec", "word2vec-binary", "fasttext-bin")
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")  # first int32 of a fastText .bin model


# ---- training --------------------------------------------------------------------------------
def classifier_tokens(texts: Sequence[str], language: str = "auto", tokenizer: str = "auto",
                      text_config: TextConfig | None = None) -> list[list[str]]:
    """raw texts → the token lists a SentimentClassifier with these settings would see."""
    if language == "auto":
        language = detect_language(texts)
    # SentimentClassifier's "auto" is characters for Chinese (they beat jieba words on reviews
    # here), not tokenize.resolve_kind's jieba words; vectors must be trained on the same units.
    kind = "char" if tokenizer == "auto" and language == "zh" else tokenizer
    tok = Tokenizer(kind, language)
    if tok.kind == "subword":
        raise ConfigError("word vectors for the 'subword' tokenizer are not supported: its BPE "
                          "pieces are learnt per model; use 'jieba-word', 'char' or 'en-word'")
    return tok.tokenize_many(clean_many(texts, text_config or TextConfig()))


def word2vec_from_tokens(token_lists: Sequence[Sequence[str]], dim: int = 100, window: int = 5,
                         min_count: int = 2, epochs: int = 5, seed: int = 0, workers: int = 1):
    """Train gensim Word2Vec (skip-gram) on token lists → its ``KeyedVectors``."""
    from gensim.models import Word2Vec  # start-up: gensim costs ~1 s, only vectors need it

    sentences = [list(t) for t in token_lists if t]
    if not sentences:
        raise DataError("no tokens to train word vectors on (all texts are empty)")
    # workers=1 with a seed is reproducible; more workers are faster but order-dependent.
    model = Word2Vec(sentences=sentences, vector_size=dim, window=window, min_count=min_count,
                     epochs=epochs, seed=seed, workers=workers, sg=1)
    if len(model.wv) == 0:
        raise DataError(f"no token occurs at least min_count={min_count} times; "
                        "lower --min-count or give more text")
    return model.wv


def train_word2vec(texts: Sequence[str], language: str = "auto", tokenizer: str = "auto",
                   text_config: TextConfig | None = None, dim: int = 100, window: int = 5,
                   min_count: int = 2, epochs: int = 5, seed: int = 0, workers: int = 1):
    """Train Word2Vec on raw texts, cleaned and tokenized exactly as the classifier does.

    Parameters
    ----------
    texts : sequence of str
        Raw (unlabelled) texts; the more in-domain text the better.
    language, tokenizer : as in SentimentClassifier ("auto" tokenizer = characters for Chinese,
        words for English); the vectors are only useful with a classifier using the same ones.
    text_config : cleaning steps (defaults = SentimentClassifier's defaults).
    dim, window, min_count, epochs : Word2Vec's vector size, context window, rarest word kept
        and passes over the data.
    seed, workers : with ``workers=1`` the same seed gives the same vectors.

    Returns
    -------
    gensim.models.KeyedVectors

    Examples
    --------
    >>> kv = train_word2vec(["the food was good", "the food was bad"] * 20, dim=8)
    >>> kv.vector_size
    8
    """
    tokens = classifier_tokens(texts, language, tokenizer, text_config)
    return word2vec_from_tokens(tokens, dim, window, min_count, epochs, seed, workers)


def save_vectors(keyed_vectors, path, binary: bool = False) -> Path:
    """Write vectors in word2vec format (text with a "count dim" header, or binary)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    keyed_vectors.save_word2vec_format(str(tmp), binary=binary)
    os.replace(tmp, path)  # atomic: a crash never leaves half a vector file under the name
    return path


# ---- reading ---------------------------------------------------------------------------------
def detect_vector_format(path) -> str:
    """Guess a vector file's format from its first bytes (and extension).

    fastText ``.bin`` models start with a magic number; word2vec binary and text files start
    with a "count dim" header line (fastText ``.vec`` files are word2vec text); GloVe text files
    have no header, their first line is already a word and its numbers.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4096)
    except (OSError, EOFError) as e:
        raise DataError(f"vector file {path} cannot be read ({e})") from None
    if not head.strip():
        raise DataError(f"vector file {path} is empty")
    if head[:4] == _FASTTEXT_MAGIC:
        return "fasttext-bin"
    first = head.split(b"\n", 1)[0]
    try:
        fields = first.decode("utf-8").split()
    except UnicodeDecodeError:
        raise DataError(f"vector file {path} is neither a fastText .bin model nor a text/"
                        "word2vec vector file (its first line is not text)") from None
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        binary = b"\n" in head and _looks_binary(head.split(b"\n", 1)[1])
        return "word2vec-binary" if binary or ".bin" in path.suffixes else "word2vec"
    if ".bin" in path.suffixes:
        raise DataError(f"vector file {path} is neither a fastText .bin model nor a word2vec "
                        "binary file (no fastText magic number, no 'count dim' header)")
    return "glove"


def _looks_binary(body: bytes) -> bool:
    """Raw float32 bytes hold NULs or invalid UTF-8; text vector lines hold neither."""
    if b"\0" in body:
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(body) - 4  # a multi-byte character cut by the read is still text
    return False


def load_vectors(path, format: str = "auto", limit: int | None = None):
    """Read word vectors with gensim.

    Parameters
    ----------
    path : str or Path
        GloVe text (no header), word2vec text or binary, fastText ``.vec`` (word2vec text) or
        fastText ``.bin`` (a full model: words it has not seen get vectors from character
        n-grams). ``.gz`` is allowed for the text and word2vec formats.
    format : {"auto", "glove", "word2vec", "word2vec-binary", "fasttext-bin"}
        "auto" decides from the first bytes (see :func:`detect_vector_format`).
    limit : int, optional
        Read only the first ``limit`` vectors (files list frequent words first).

    Returns
    -------
    gensim.models.KeyedVectors

    Raises
    ------
    DataError
        When the file is missing, empty, or not in the format (one line, naming the file).
    """
    if format not in FORMATS:
        raise ConfigError(f"vector format must be one of {', '.join(FORMATS)}; got {format!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"vector file {path} does not exist")
    kind = detect_vector_format(path) if format == "auto" else format
    # start-up: gensim costs ~1 s, only vectors need it
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_vectors

    try:
        if kind == "fasttext-bin":
            kv = load_facebook_vectors(str(path))
        else:
            # unicode_errors="ignore": big public files hold a few words with broken UTF-8.
            kv = KeyedVectors.load_word2vec_format(
                str(path), binary=kind == "word2vec-binary", no_header=kind == "glove",
                limit=limit, unicode_errors="ignore")
    except Exception as e:  # noqa: BLE001 — gensim raises many kinds on a malformed file
        reason = "".join(c if c.isprintable() else "?" for c in str(e)[:160]) or type(e).__name__
        raise DataError(f"vector file {path} could not be read as {kind} vectors ({reason}); "
                        "check the file or pass its format explicitly") from None
    if len(kv) == 0 or kv.vector_size < 1:
        raise DataError(f"vector file {path} holds no vectors")
    log.info("read %d %d-dim vectors (%s) from %s", len(kv), kv.vector_size, kind, path)
    return kv


# ---- vocabulary → matrix ---------------------------------------------------------------------
@dataclass
class Coverage:
    """How much of a vocabulary a vector file knows.

    ``types_*`` count vocabulary entries (specials excluded); ``tokens_*`` count training-token
    occurrences (all of them, also the ones whose word fell out of the vocabulary, which can
    never get a vector). ``subword`` counts words a fastText model composed from n-grams.
    """

    path: str
    dim: int
    types_total: int
    types_found: int
    tokens_total: int
    tokens_found: int
    subword: int = 0

    @property
    def type_share(self) -> float:
        return self.types_found / self.types_total if self.types_total else 0.0

    @property
    def token_share(self) -> float:
        return self.tokens_found / self.tokens_total if self.tokens_total else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "type_share": round(self.type_share, 4),
                "token_share": round(self.token_share, 4)}

    def __str__(self) -> str:
        tokens = (f", {self.token_share:.1%} of training tokens "
                  f"({self.tokens_found}/{self.tokens_total})" if self.tokens_total else "")
        extra = f"; {self.subword} more from subwords" if self.subword else ""
        return (f"embeddings {self.path}: {self.dim}-dim vectors for {self.type_share:.1%} of the "
                f"vocabulary ({self.types_found}/{self.types_total}){tokens}{extra}")


def vectors_for_vocab(vocab: Vocab, keyed_vectors, embedding_dim: int | None = None,
                      counts: Mapping[str, int] | None = None, seed: int = 0,
                      source: str = "the vector file", dim_name: str = "embedding_dim"):
    """Build the (len(vocab), dim) embedding matrix for a vocabulary.

    Parameters
    ----------
    vocab : Vocab
    keyed_vectors : gensim KeyedVectors (see :func:`load_vectors`).
    embedding_dim : int, optional
        The dimension the model was asked for; it must equal the file's. None = the file's.
    counts : mapping token → occurrences in the training texts, optional
        Vocab keeps no counts, so pass them for the token share of the coverage report.
    seed : seeds the random vectors of words the file does not know.
    source, dim_name : how the file and the dimension are named in errors and the report.

    Returns
    -------
    tuple of (numpy float32 array, Coverage)
        Row ``i`` is the vector of ``vocab.itos[i]``: the file's vector (exact word, else its
        lowercase form), else small random values with the file's spread; ``<pad>`` is zero.
    """
    dim = int(keyed_vectors.vector_size)
    if embedding_dim is not None and embedding_dim != dim:
        raise ConfigError(f"vector file {source} has {dim}-dim vectors but {dim_name} is "
                          f"{embedding_dim}; use a {embedding_dim}-dim file or leave "
                          f"{dim_name} unset (it then follows the file)")
    index = keyed_vectors.key_to_index
    subword_ok = getattr(keyed_vectors, "bucket", 0) > 0  # a fastText model with n-grams
    specials = set(vocab.specials)
    rows, found, composed = {}, set(), 0
    for i, token in enumerate(vocab.itos):
        if token in specials:
            continue
        key = token if token in index else token.lower() if token.lower() in index else None
        if key is not None:
            rows[i] = keyed_vectors.get_vector(key)
            found.add(token)
        elif subword_ok:  # fastText: a vector composed from the word's character n-grams
            vec = keyed_vectors.get_vector(token)
            if np.any(vec):
                rows[i], composed = vec, composed + 1
    known = np.stack(list(rows.values())) if rows else np.zeros((0, dim), np.float32)
    # Unknown words start at the file's own scale so they neither dominate nor vanish.
    scale = float(known.std()) if known.size else 0.1
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, scale or 0.1, size=(len(vocab), dim)).astype(np.float32)
    for i, vec in rows.items():
        matrix[i] = vec
    matrix[Vocab.PAD] = 0.0
    counts = counts or {}
    coverage = Coverage(path=str(source), dim=dim,
                        types_total=len(vocab) - len(specials & set(vocab.itos)),
                        types_found=len(found), tokens_total=int(sum(counts.values())),
                        tokens_found=int(sum(n for t, n in counts.items() if t in found)),
                        subword=composed)
    return matrix, coverage
