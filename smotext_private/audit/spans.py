"""A hashed n-gram index over the sources: longest shared token span, and sources sharing most n-grams.

Every source n-gram is stored once as (hash, source, position) in arrays sorted by hash,
so memory and build time grow with the total source text, and a candidate costs one
binary search per n-gram plus the hits it has, never candidates x sources comparisons.
"""

from __future__ import annotations

import numpy as np

from .text import ngrams


def _hashes(toks: list[str], n: int) -> np.ndarray:
    return np.fromiter((hash(g) for g in ngrams(toks, n)), dtype=np.int64, count=max(0, len(toks) - n + 1))


class SpanIndex:
    """Positions of every word n-gram of the sources, for exact seed-and-extend span matching."""

    def __init__(self, n: int = 4) -> None:
        if n < 1:
            raise ValueError("n-gram size must be >= 1")
        self.n = n
        self._hash = np.zeros(0, np.int64)
        self._doc = np.zeros(0, np.int32)
        self._pos = np.zeros(0, np.int32)

    def fit(self, token_lists: list[list[str]]) -> "SpanIndex":
        hashes, docs, poss = [], [], []
        for d, toks in enumerate(token_lists):
            h = _hashes(toks, self.n)
            hashes.append(h)
            docs.append(np.full(len(h), d, np.int32))
            poss.append(np.arange(len(h), dtype=np.int32))
        if hashes:
            h, d, p = np.concatenate(hashes), np.concatenate(docs), np.concatenate(poss)
            order = np.argsort(h, kind="stable")
            self._hash, self._doc, self._pos = h[order], d[order], p[order]
        return self

    def hits(self, toks: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(candidate position, source, source position) of every n-gram the candidate shares."""
        q = _hashes(toks, self.n)
        lo = np.searchsorted(self._hash, q, "left")
        hi = np.searchsorted(self._hash, q, "right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        rows = starts + np.arange(total)
        return np.repeat(np.arange(len(q)), counts), self._doc[rows].astype(np.int64), self._pos[rows].astype(np.int64)

    def longest_span(self, toks: list[str]) -> tuple[int, int]:
        """(length in tokens, source) of the longest token run shared with one source; (0, -1) under n tokens.

        Consecutive shared n-grams on the same diagonal (same source, same offset)
        form one contiguous shared span of ``run + n - 1`` tokens.
        """
        ci, doc, sp = self.hits(toks)
        if len(ci) == 0:
            return 0, -1
        diag = sp - ci
        order = np.lexsort((ci, diag, doc))
        ci, doc, diag = ci[order], doc[order], diag[order]
        new_run = np.ones(len(ci), bool)
        new_run[1:] = (doc[1:] != doc[:-1]) | (diag[1:] != diag[:-1]) | (ci[1:] != ci[:-1] + 1)
        run_id = np.cumsum(new_run) - 1
        lengths = np.bincount(run_id)
        best = int(np.argmax(lengths))
        first = int(np.flatnonzero(new_run)[best])
        return int(lengths[best]) + self.n - 1, int(doc[first])

    def top_sources(self, toks: list[str], k: int) -> list[int]:
        """The ``k`` sources sharing most n-grams with the candidate (ties: lower id first)."""
        _, doc, _ = self.hits(toks)
        if len(doc) == 0 or k <= 0:
            return []
        # count over the hits only: a bincount would cost O(number of sources) per candidate
        nz, counts = np.unique(doc, return_counts=True)
        order = nz[np.lexsort((nz, -counts))]
        return [int(d) for d in order[:k]]
