"""Word tokens shared by the text checks: lowercased runs of letters and digits."""

from __future__ import annotations

from smotext_private.util import words


def tokens(text: str) -> list[str]:
    """Lowercased word tokens (``util.words``); punctuation and case never hide a copy."""
    return words(text)


def ngrams(toks: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
