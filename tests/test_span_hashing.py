"""The n-gram index on stable numpy hashes: the same answers as a plain Python reading of the texts, in any process."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import defaultdict

import numpy as np

from smotext_private.audit.hashing import flat_ngrams, ngram_hashes, token_hashes
from smotext_private.audit.spans import FlatTokens, SpanIndex, shape

WORDS = "the patient was seen today with pain in left knee after fall on ice 2 3 12 mg daily dr".split()


def corpus(n_docs: int, seed: int) -> list[list[str]]:
    """Short token lists from a small vocabulary, many sharing runs (copied stretches, numbers)."""
    rng = np.random.default_rng(seed)
    docs = [[WORDS[j] for j in rng.integers(0, len(WORDS), rng.integers(0, 25))] for _ in range(n_docs)]
    for d in range(0, n_docs, 3):  # plant shared stretches of other documents
        src = docs[int(rng.integers(n_docs))]
        if len(src) > 6:
            a = int(rng.integers(0, len(src) - 5))
            docs[d] = docs[d][:4] + src[a : a + int(rng.integers(5, 12))] + docs[d][4:]
    return docs


def longest_run(cand: list[str], src: list[str]) -> int:
    best = 0
    for i in range(len(cand)):
        for j in range(len(src)):
            k = 0
            while i + k < len(cand) and j + k < len(src) and cand[i + k] == src[j + k]:
                k += 1
            best = max(best, k)
    return best


def test_longest_span_and_sharers_match_a_plain_reading():
    docs = corpus(120, 0)
    index = SpanIndex(3).fit(docs)
    grams = defaultdict(set)
    for d, toks in enumerate(docs):
        for i in range(len(toks) - 2):
            grams[tuple(toks[i : i + 3])].add(d)
    for cand in corpus(40, 1):
        runs = [longest_run(cand, s) for s in docs]
        best = max(runs)
        length, doc = index.longest_span(cand)
        assert length == (best if best >= 3 else 0)
        if length:
            assert runs[doc] == best
        distinct = {tuple(cand[i : i + 3]) for i in range(len(cand) - 2)}
        held = defaultdict(int)
        for g in distinct:
            for d in grams.get(g, ()):
                held[d] += 1  # each distinct n-gram of the candidate once
        for share in (0.0, 0.1, 0.25, 0.5):
            t = max(1, math.ceil(share * len(distinct) - 1e-9))
            expect = sorted((d for d in held if held[d] >= t), key=lambda d: (-held[d], d))[:4]
            assert index.sharers(cand, 4, share) == expect


def test_boilerplate_counts_each_document_once_per_wording():
    docs = [["a", "b", "c", "1"], ["a", "b", "c", "2", "a", "b", "c", "3"], ["x", "a", "b", "c", "9"], ["z", "z", "z", "z"]]
    index = SpanIndex(2).fit(docs).fit_boilerplate(docs, window=4, min_sources=2)
    window = token_hashes(shape(["a", "b", "c", "7"]), False)
    stock = ngram_hashes(window, 4)
    assert np.isin(stock, index._counted).all()  # "a b c #" is in 3 documents
    lone = ngram_hashes(token_hashes(["z", "z", "z", "z"]), 4)
    assert not np.isin(lone, index._counted).any()  # in one document, however often


def test_flat_ngrams_never_cross_documents():
    docs = [["a", "b"], ["c", "d", "e"], [], ["f", "g", "h", "i"]]
    flat = FlatTokens(docs)
    h, d, p = flat_ngrams(flat.tokens, flat.lengths, 3)
    assert list(d) == [1, 3, 3] and list(p) == [0, 0, 1]
    assert h[0] == ngram_hashes(token_hashes(["c", "d", "e"]), 3)[0]


def test_hashes_are_the_same_in_every_process():
    toks = "patient seen on 12 march with chest pain".split()
    here = ngram_hashes(token_hashes(toks), 4).tolist()
    code = ("from smotext_private.audit.hashing import ngram_hashes, token_hashes; "
            f"print(ngram_hashes(token_hashes({toks!r}), 4).tolist())")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        assert out.stdout.strip() == str(here)


def test_rare_span_from_window_hashes_equals_the_runs():
    docs = corpus(150, 2)
    runs = SpanIndex(3).fit(docs).fit_boilerplate(docs, window=5, min_sources=3)  # shared windows from the runs
    hashed = SpanIndex(3).fit(docs).fit_boilerplate(docs, window=5, min_sources=3).fit_windows(docs)
    found = 0
    cands = corpus(60, 3) + [docs[i][1:] + docs[i + 1][:6] for i in range(0, 140, 7)]  # and copied stretches
    for cand in cands:
        a, b = runs.longest_rare_span(cand), hashed.longest_rare_span(cand)
        assert a == b
        length, src, _ = b
        if length:
            found += 1
            assert longest_run(cand, docs[src]) >= 5  # the source named holds a window of it verbatim
    assert found >= 5
