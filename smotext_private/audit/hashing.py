"""Stable 64-bit hashes of tokens and token n-grams, computed in numpy.

A token's hash is the first 8 bytes of its BLAKE2b digest, so every process and machine gets the
same value (Python's own ``hash`` of a string changes with each interpreter): an index built once
can be shipped to other processes (Ray's object store) and queried there. An n-gram's hash is a
polynomial in its tokens' hashes modulo 2**64, mixed by the splitmix64 finaliser; whole arrays of
documents are hashed at once.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

import numpy as np

_P = np.uint64(0x100000001B3)  # the 64-bit FNV prime: odd, so the polynomial keeps every bit of its terms
_DIGITS = re.compile(r"\d+")
_TOKEN: dict[str, int] = {}
_SHAPE: dict[str, int] = {}
_CACHE_LIMIT = 2_000_000  # distinct tokens remembered (a corpus's vocabulary is far smaller)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def token_hash(tok: str) -> int:
    h = _TOKEN.get(tok)
    if h is None:
        h = _digest(tok)
        if len(_TOKEN) < _CACHE_LIMIT:
            _TOKEN[tok] = h
    return h


def shape_hash(tok: str) -> int:
    """The hash of the token with every digit run replaced by ``#`` (its wording, whatever its numbers)."""
    h = _SHAPE.get(tok)
    if h is None:
        h = token_hash(_DIGITS.sub("#", tok))
        if len(_SHAPE) < _CACHE_LIMIT:
            _SHAPE[tok] = h
    return h


def token_hashes(toks: Iterable[str], shapes: bool = False) -> np.ndarray:
    fn = shape_hash if shapes else token_hash
    return np.fromiter((fn(t) for t in toks), dtype=np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place (one temporary array: 60M n-grams are 480 MB each)."""
    t = x >> np.uint64(30)
    x ^= t
    x *= np.uint64(0xBF58476D1CE4E5B9)
    np.right_shift(x, np.uint64(27), out=t)
    x ^= t
    x *= np.uint64(0x94D049BB133111EB)
    np.right_shift(x, np.uint64(31), out=t)
    x ^= t
    return x


def ngram_hashes(th: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of ``n`` consecutive entries of ``th`` (token hashes): ``len(th) - n + 1`` values."""
    m = len(th) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64)
    with np.errstate(over="ignore"):
        h = th[:m].copy()
        for j in range(1, n):
            h *= _P
            h += th[j : j + m]
        return _mix(h)


def sorted_unique(a: np.ndarray, *, presorted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values in increasing order, how often each occurs): a sort and a pass (numpy's ``unique``
    hashes, which is several times slower on tens of millions of uint64)."""
    s = a if presorted else np.sort(a)
    if len(s) == 0:
        return s, np.zeros(0, np.int64)
    first = np.ones(len(s), bool)
    np.not_equal(s[1:], s[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return s[starts], np.diff(np.append(starts, len(s)))


def flat_ngrams(th: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, document, position) of every n-gram inside one document of a flat array of token hashes.

    ``th`` is the documents' token hashes one after the other, ``lengths`` their token counts; an n-gram
    that would run across two documents is left out. Ordered by document, then position.
    """
    h = ngram_hashes(th, n)
    m = len(h)
    lengths = np.asarray(lengths, np.int64)
    doc = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)[:m]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int32)
    pos = np.arange(m, dtype=np.int32)
    pos -= starts[doc]  # position inside its document
    keep = pos <= (lengths.astype(np.int32) - n)[doc]  # the n-gram ends inside the same document
    return h[keep], doc[keep], pos[keep]
