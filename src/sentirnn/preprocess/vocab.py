"""tokens → ids: the vocabulary.

This is the step where ``<unk>``, ``min_freq`` and ``max_size`` live, and where train/predict
mismatches hide, so it is kept small and explicit: ``<pad>`` is always id 0 (padding masks rely
on it), ``<unk>`` id 1, then tokens by frequency. Its JSON form is validated on load.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sentirnn.errors import ArtifactError, ConfigError, DataError

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"


def _problem(itos: Any, specials: Any) -> str | None:
    """What is wrong with an (itos, specials) pair, or None when it is a valid vocabulary."""
    if not isinstance(specials, list) or len(specials) < 2:
        return "'specials' must be a list of at least two tokens (padding, unknown)"
    if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
        return "'itos' must be a list of strings"
    if itos[: len(specials)] != specials:
        return (
            f"the special tokens {specials} must come first, at ids 0..{len(specials) - 1}, "
            f"but ids 0..{len(specials) - 1} hold {itos[: len(specials)]}"
        )
    seen: set[str] = set()
    for token in itos:
        if token in seen:
            return f"token {token!r} appears more than once"
        seen.add(token)
    return None


class Vocab:
    """A token ↔ id mapping with padding at id 0 and unknown at id 1.

    Build one with :meth:`Vocab.build`; ``itos[i]`` is the token of id ``i`` and ``stoi`` the
    reverse dict.

    Parameters
    ----------
    itos : sequence of str
        Tokens in id order, starting with ``specials``.
    specials : sequence of str, default ("<pad>", "<unk>")
        The reserved tokens; the first is padding (id 0), the second unknown (id 1).

    Examples
    --------
    >>> v = Vocab.build([["good", "movie"], ["bad", "movie"]])
    >>> v.encode(["movie", "great"])
    [2, 1]
    """

    PAD = 0
    UNK = 1

    def __init__(
        self, itos: Sequence[str], specials: Sequence[str] = (PAD_TOKEN, UNK_TOKEN)
    ) -> None:
        self.itos = list(itos)
        self.specials = list(specials)
        problem = _problem(self.itos, self.specials)
        if problem:
            raise ConfigError(f"Invalid vocabulary: {problem}.")
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @classmethod
    def build(
        cls,
        token_lists: Iterable[list[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD_TOKEN, UNK_TOKEN),
    ) -> Vocab:
        """Count tokens and keep the frequent ones.

        Parameters
        ----------
        token_lists : iterable of list of str
            The tokenized training texts.
        min_freq : int, default 1
            Tokens seen fewer times are left out (they will encode to ``<unk>``).
        max_size : int, optional
            Largest vocabulary, specials included; the most frequent tokens are kept.
        specials : sequence of str, default ("<pad>", "<unk>")
            Reserved tokens placed first; a special seen in the text is not counted twice.

        Returns
        -------
        Vocab
            Specials, then tokens by descending frequency, ties broken by the token string,
            so the same data always gives the same ids.

        Examples
        --------
        >>> Vocab.build([["b", "a"], ["a", "c"]], max_size=3).itos
        ['<pad>', '<unk>', 'a']
        """
        specials = list(specials)
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ConfigError(f"min_freq must be an integer >= 1. Got {min_freq!r} instead.")
        if max_size is not None and (not isinstance(max_size, int) or max_size < len(specials)):
            raise ConfigError(
                f"max_size counts the {len(specials)} special tokens, so it must be an integer "
                f">= {len(specials)} (or None for no limit). Got {max_size!r} instead."
            )
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        for token in specials:
            counts.pop(token, None)
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_freq),
            key=lambda item: (-item[1], item[0]),
        )
        room = None if max_size is None else max_size - len(specials)
        return cls(specials + [token for token, _ in ranked[:room]], specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocab) and self.itos == other.itos and self.specials == other.specials
        )

    __hash__ = None  # mutable, compared by content

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={self.specials})"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; a token not in the vocabulary becomes 1 (``<unk>``).

        Parameters
        ----------
        tokens : iterable of str
            One tokenized text.

        Returns
        -------
        list of int
            One id per token.

        Examples
        --------
        >>> Vocab(["<pad>", "<unk>", "good"]).encode(["good", "bad"])
        [2, 1]
        """
        get = self.stoi.get
        return [get(token, 1) for token in tokens]

    def encode_many(self, token_lists: Iterable[Iterable[str]]) -> list[list[int]]:
        """Map many token lists to id lists (``[encode(t) for t in token_lists]``).

        Parameters
        ----------
        token_lists : iterable of iterable of str
            Tokenized texts.

        Returns
        -------
        list of list of int
            One id list per text, in order.

        Examples
        --------
        >>> Vocab(["<pad>", "<unk>", "good"]).encode_many([["good"], []])
        [[2], []]
        """
        get = self.stoi.get
        return [[get(token, 1) for token in tokens] for tokens in token_lists]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to tokens.

        Parameters
        ----------
        ids : iterable of int
            Ids in ``range(len(self))``.

        Returns
        -------
        list of str
            One token per id.

        Raises
        ------
        DataError
            When an id is negative or not below ``len(self)``.

        Examples
        --------
        >>> Vocab(["<pad>", "<unk>", "good"]).decode([2, 1, 0])
        ['good', '<unk>', '<pad>']
        """
        itos, size = self.itos, len(self.itos)
        ids = [int(i) for i in ids]  # also accepts numpy / torch integers
        bad = next((i for i in ids if not 0 <= i < size), None)
        if bad is not None:
            raise DataError(
                f"id {bad} is outside the vocabulary of {size} tokens (ids 0..{size - 1})."
            )
        return [itos[i] for i in ids]

    def to_dict(self) -> dict[str, Any]:
        """The vocabulary as a JSON-safe dict: ``{"specials": [...], "itos": [...]}``."""
        return {"specials": list(self.specials), "itos": list(self.itos)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocab:
        """Rebuild a Vocab from :meth:`to_dict` output, checking it first.

        Parameters
        ----------
        data : dict
            With keys "specials" and "itos".

        Returns
        -------
        Vocab

        Raises
        ------
        ArtifactError
            When the dict is not a valid vocabulary: missing or unknown keys, specials not at
            ids 0 and 1, duplicate tokens, non-string tokens.

        Examples
        --------
        >>> Vocab.from_dict({"specials": ["<pad>", "<unk>"], "itos": ["<pad>", "<unk>", "a"]})
        Vocab(size=3, specials=['<pad>', '<unk>'])
        """
        keys = {"specials", "itos"}
        if not isinstance(data, dict) or set(data) != keys:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            problem = f"expected an object with keys ['itos', 'specials'], got {got}"
        else:
            problem = _problem(data["itos"], data["specials"])
        if problem:
            raise ArtifactError(
                f"The saved vocabulary is corrupt: {problem}. Re-save the model, or retrain it."
            )
        return cls(data["itos"], data["specials"])
