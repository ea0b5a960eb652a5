"""A hashed n-gram index over the sources: longest shared token span, and sources sharing most n-grams.

Every source n-gram is stored once as (hash, source, position) in arrays sorted by hash,
so memory and build time grow with the total source text, and a candidate costs one
binary search per n-gram plus the hits it has, never candidates x sources comparisons.

Boilerplate: with ``fit_boilerplate(window, min_sources)`` a shared window of ``window``
tokens whose wording (numbers aside) occurs in at least ``min_sources`` different sources
is a stock phrase, not one record's words ("I am referring this patient, a 72-year-old
man with a history of"), and ``longest_rare_span`` leaves it out; so is any window of the
form wording of note templates (``templates``: pieces of text, see ``templates.py``),
however few records hold it. The share itself is always exact: only the decision "is this
common wording" ignores the numbers.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Union

import numpy as np

from smotext_private.audit.hashing import flat_ngrams, ngram_hashes, sorted_unique, token_hashes

_DIGITS = re.compile(r"\d+")


def shape(toks: list[str]) -> list[str]:
    """Tokens with every digit run replaced by ``#``: the wording of a phrase, whatever its numbers."""
    return [_DIGITS.sub("#", t) for t in toks]


def _hashes(toks: list[str], n: int, shapes: bool = False) -> np.ndarray:
    """Stable hashes of the token n-grams (``shapes``: of their wording, ``shape``), in order."""
    return ngram_hashes(token_hashes(toks, shapes), n)


class _Vocab(dict):
    """Token -> id, each new token numbered in order of first sight."""

    def __missing__(self, tok: str) -> int:
        self[tok] = i = len(self)
        return i


class FlatTokens:
    """The token hashes and wording hashes of many documents, one flat array each, and the documents' lengths.

    Tokens are numbered once (a vocabulary of distinct words) and hashed once per distinct word; the flat
    arrays are the hashes looked up by number, so a million documents cost one dictionary lookup a token.
    """

    def __init__(self, token_lists: Iterable[list[str]] = ()) -> None:
        from array import array

        from smotext_private.audit.hashing import shape_hash, token_hash

        vocab, ids, lengths = _Vocab(), array("i"), array("q")  # 4 and 8 bytes an entry, no object per document
        for toks in token_lists:
            ids.extend(map(vocab.__getitem__, toks))
            lengths.append(len(toks))
        words = list(vocab)  # in id order
        th = np.fromiter(map(token_hash, words), np.uint64, len(words))
        sh = np.fromiter(map(shape_hash, words), np.uint64, len(words))
        idx = np.frombuffer(ids, np.int32) if len(ids) else np.zeros(0, np.int32)
        self.tokens, self.shapes = th[idx], sh[idx]
        self.lengths = np.frombuffer(lengths, np.int64) if len(lengths) else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.lengths)

    def wording_with(self, other: "FlatTokens") -> "FlatTokens":
        """These documents and ``other``'s, wording hashes only (what boilerplate counting reads)."""
        out = FlatTokens()
        out.shapes = np.concatenate([self.shapes, other.shapes])
        out.lengths = np.concatenate([self.lengths, other.lengths])
        return out


Docs = Union[FlatTokens, Iterable[list[str]]]


def _flat(docs: Docs) -> FlatTokens:
    return docs if isinstance(docs, FlatTokens) else FlatTokens(docs)


class SpanIndex:
    """Positions of every word n-gram of the sources, for exact seed-and-extend span matching."""

    def __init__(self, n: int = 4) -> None:
        if n < 1:
            raise ValueError("n-gram size must be >= 1")
        self.n = n
        self._hash = np.zeros(0, np.uint64)
        self._doc = np.zeros(0, np.int32)
        self._pos = np.zeros(0, np.int32)
        self.window = 0
        self.min_sources = 0
        self.n_template_windows = 0
        self._common = np.zeros(0, np.uint64)  # stock wordings: counted in k records, or in the templates
        self._counted = np.zeros(0, np.uint64)  # stock wordings by the count of records alone
        self._windows = np.zeros(0, np.uint64)  # every source window of ``window`` tokens (``fit_windows``)

    def fit(self, docs: Docs) -> "SpanIndex":
        """Index every n-gram of ``docs`` (token lists, or their ``FlatTokens``) by hash, then document and position."""
        flat = _flat(docs)
        h, d, p = flat_ngrams(flat.tokens, flat.lengths, self.n)
        order = np.argsort(h, kind="stable")
        h = h[order]  # one array at a time: each old one is freed as it is replaced (1M sources: GBs)
        d = d[order]
        p = p[order]
        del order
        self._hash, self._doc, self._pos = h, d, p
        return self

    def fit_boilerplate(self, docs: Docs, window: int, min_sources: int,
                        templates: list[list[str]] = ()) -> "SpanIndex":
        """Remember which ``window``-token wordings (numbers as ``#``) are stock phrasing: those that occur
        in ``min_sources`` or more of ``docs`` (below 2: none), and every window of the ``templates`` pieces."""
        if window < self.n:
            raise ValueError(f"boilerplate window ({window}) must be at least the index n-gram size ({self.n})")
        self.window, self.min_sources = int(window), int(min_sources)
        forms = np.unique(np.concatenate([_hashes(t, self.window, shapes=True) for t in templates])) if templates else \
            np.zeros(0, np.uint64)
        self.n_template_windows = len(forms)
        self._counted = np.zeros(0, np.uint64)
        if self.min_sources >= 2:
            flat = _flat(docs)
            h, d, _ = flat_ngrams(flat.shapes, flat.lengths, self.window)
            order = np.argsort(h, kind="stable")  # within one wording, documents stay in increasing order
            h = h[order]
            d = d[order]
            del order
            first_of_doc = np.ones(len(h), bool)  # each document counted once per wording
            first_of_doc[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
            uniq, counts = sorted_unique(h[first_of_doc], presorted=True)
            self._counted = uniq[counts >= self.min_sources]
        self._common = np.union1d(self._counted, forms)
        return self

    def skips_boilerplate(self, with_templates: bool = True) -> bool:
        """Whether ``longest_rare_span`` leaves stock phrasing out (else it is ``longest_span``)."""
        return self.window > 0 and (self.min_sources >= 2 or (with_templates and self.n_template_windows > 0))

    def _runs(self, toks: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, length, source) of every maximal token run shared with one source."""
        ci, doc, sp = self.hits(toks)
        if len(ci) == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        diag = sp - ci
        if doc.max() < 1 << 22 and ci.max() < 1 << 20 and np.abs(diag).max() < 1 << 20:
            # one int64 key, (source, diagonal, position) in that order of significance: one sort, not three
            order = np.argsort((doc << 41) | ((diag + (1 << 20)) << 20) | ci)
        else:
            order = np.lexsort((ci, diag, doc))
        ci, doc, diag = ci[order], doc[order], diag[order]
        new_run = np.ones(len(ci), bool)
        new_run[1:] = (doc[1:] != doc[:-1]) | (diag[1:] != diag[:-1]) | (ci[1:] != ci[:-1] + 1)
        run_id = np.cumsum(new_run) - 1
        lengths = np.bincount(run_id) + self.n - 1
        return ci[new_run], lengths, doc[new_run]

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
        starts, lengths, docs = self._runs(toks)
        if len(starts) == 0:
            return 0, -1
        best = int(np.argmax(lengths))
        return int(lengths[best]), int(docs[best])

    def longest_rare_span(self, toks: list[str], *, with_templates: bool = True) -> tuple[int, int, int]:
        """(length, source, boilerplate windows skipped): the longest shared span once stock phrases are left out.

        Every ``window``-token window of the candidate that some source holds verbatim is kept unless
        its wording is boilerplate (``fit_boilerplate``); the score is the longest run of consecutive
        kept windows, in tokens, and the source is the lowest-numbered one holding its first window.
        Without ``fit_boilerplate`` this is ``longest_span``; ``with_templates=False`` judges as if no
        templates had been given.
        """
        if not self.skips_boilerplate(with_templates):
            length, doc = self.longest_span(toks)
            return length, doc, 0
        w = self.window
        if len(toks) < w:
            return 0, -1, 0
        shared = self._shared_windows(toks)
        common = self._is_common(toks, with_templates)
        rare = shared & ~common
        skipped = int((shared & common).sum())
        if not rare.any():
            return 0, -1, skipped
        # longest chain of rare windows that overlap or touch: its token span
        idx = np.flatnonzero(rare)
        brk = np.flatnonzero(np.diff(idx) > 1)
        first = np.concatenate(([0], brk + 1))
        last = np.concatenate((brk, [len(idx) - 1]))
        spans = idx[last] - idx[first] + w
        b = int(np.argmax(spans))
        i = int(idx[first[b]])
        return int(spans[b]), self._holder(toks[i : i + w]), skipped

    def _shared_windows(self, toks: list[str]) -> np.ndarray:
        """Per ``window``-token window of ``toks``: does some source hold it verbatim."""
        w = self.window
        if len(self._windows):  # the sources' windows by hash (``fit_windows``): one binary search each
            return _member(self._windows, _hashes(toks, w))
        starts, lengths, _ = self._runs(toks)  # else from the runs: a window lies inside a run of >= w tokens
        keep = lengths >= w
        n_win = len(toks) - w + 1
        starts, ends = starts[keep], starts[keep] + lengths[keep] - w
        cover = np.bincount(starts, minlength=n_win + 1) - np.bincount(ends + 1, minlength=n_win + 1)
        return np.cumsum(cover)[:n_win] > 0

    def _holder(self, window: list[str]) -> int:
        """The lowest-numbered source that holds ``window`` verbatim."""
        _, lengths, docs = self._runs(window)
        return int(docs[lengths >= len(window)].min())

    def _is_common(self, toks: list[str], with_templates: bool) -> np.ndarray:
        """Per ``window``-token window of ``toks``: is its wording stock phrasing."""
        stock = self._common if with_templates else self._counted
        return _member(stock, _hashes(toks, self.window, shapes=True))

    def fit_windows(self, docs: Docs) -> "SpanIndex":
        """Remember every ``window``-token window of ``docs`` (the sources) by hash, so that
        ``longest_rare_span`` finds shared windows by binary search (call after ``fit_boilerplate``)."""
        flat = _flat(docs)
        self._windows = sorted_unique(flat_ngrams(flat.tokens, flat.lengths, self.window)[0])[0]
        return self

    def sharers(self, toks: list[str], k: int, min_share: float) -> list[int]:
        """The ``k`` sources holding most of the candidate's distinct n-grams, among those holding at least
        ``min_share`` of them (ties: lower id first).

        A source holding ``t`` of ``m`` distinct n-grams holds one of any ``m - t + 1`` of them, so only the
        shortest posting lists are read in full; the sources found there are completed by binary search in
        the others (postings are sorted by source within an n-gram). Stock n-grams held by a large part of
        the sources are the longest lists and are only probed: the cost follows the candidate's rare n-grams.
        """
        q = sorted_unique(_hashes(toks, self.n))[0]
        if len(q) == 0 or k <= 0:
            return []
        t = max(1, math.ceil(min_share * len(q) - 1e-9))
        lo, hi = np.searchsorted(self._hash, q, "left"), np.searchsorted(self._hash, q, "right")
        by_size = np.argsort(hi - lo, kind="stable")
        lo, hi = lo[by_size], hi[by_size]
        lo, hi = lo[hi > lo], hi[hi > lo]
        m = len(lo)
        if m < t:
            return []
        cum = np.cumsum(hi - lo)
        r = max(m - t + 1, int(np.searchsorted(cum, 2 * cum[m - t], "right")))  # read more while it stays cheap
        docs, counts = _count_lists(self._doc, lo[:r], hi[:r])
        live = counts >= t - (m - r)  # what a source must hold among the lists read to reach t
        docs, counts = docs[live], counts[live]
        for j in range(r, m):
            if len(docs) == 0:
                break
            seg = self._doc[lo[j] : hi[j]]
            at = np.minimum(np.searchsorted(seg, docs), len(seg) - 1)
            counts += seg[at] == docs
            live = counts + (m - 1 - j) >= t
            docs, counts = docs[live], counts[live]
        top = np.lexsort((docs, -counts))[:k]
        return [int(d) for d in docs[top]]


def _member(table: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per hash of ``h``: is it in ``table`` (sorted)."""
    if not len(table):
        return np.zeros(len(h), bool)
    return table[np.minimum(np.searchsorted(table, h), len(table) - 1)] == h


def _count_lists(doc: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(source, number of the posting lists ``doc[lo[i]:hi[i]]`` it is in), over sources in at least one."""
    d = np.concatenate([doc[a:b] for a, b in zip(lo.tolist(), hi.tolist())])
    first = np.ones(len(d), bool)  # a source once per list: lists are sorted by source
    np.not_equal(d[1:], d[:-1], out=first[1:])
    first[np.cumsum(hi - lo)[:-1]] = True
    return sorted_unique(d[first])


def span_index(rule, source_tokens: Docs, other_records: Docs = (), *,
               min_sources: int | None = None, templates: list[list[str]] = ()) -> SpanIndex:
    """The ``verbatim_span`` check's index as a policy rule shapes it (``rule`` None: no such check).

    n-grams of ``index_n`` tokens (at most the threshold); boilerplate windows of ``threshold`` tokens
    whose wording occurs in ``boilerplate_sources`` (or ``min_sources``) of the sources and
    ``other_records`` together, or in the ``templates`` pieces (token lists). The sources and other
    records are token lists (read once) or their ``FlatTokens``.
    """
    sources = _flat(source_tokens)
    if rule is None:
        return SpanIndex(4).fit(sources)
    n = max(1, min(int(rule.params.get("index_n", 4)), int(rule.threshold)))
    k = int(rule.params.get("boilerplate_sources", 0)) if min_sources is None else min_sources
    every = sources.wording_with(_flat(other_records)) if k >= 2 else sources
    index = SpanIndex(n).fit(sources).fit_boilerplate(every, max(n, int(rule.threshold)), k, templates)
    return index.fit_windows(sources) if index.skips_boilerplate() else index
