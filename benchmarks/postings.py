"""How many n-gram postings one candidate reads as the scale corpus grows (the per-record checks' cost).

    python benchmarks/postings.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np  # noqa: E402
from benchmarks.bench_audit_scale import scale_corpus  # noqa: E402
from benchmarks.corpus import base_pool  # noqa: E402
from smotext_private.audit.spans import span_index  # noqa: E402
from smotext_private.audit.text import tokens  # noqa: E402
from smotext_private.policy import load_policy  # noqa: E402
texts, labels = base_pool(None, demo_per_class=1000, seed=0, max_words=60)
for n in (100_000, 300_000):
    c = scale_corpus(texts, labels, n_sources=n, n_candidates=300, seed=0)
    idx = span_index(load_policy("strict").checks["verbatim_span"], (tokens(t) for t in c.sources.texts))
    H = [len(idx.hits(tokens(t))[0]) for t in c.candidates.texts]
    u, cnt = np.unique(idx._hash, return_counts=True)
    print(n, "hits per candidate: median", int(np.median(H)), "mean", int(np.mean(H)), "| largest posting", cnt.max(), "| 4-grams in >=1000 sources", int((cnt >= 1000).sum()))
