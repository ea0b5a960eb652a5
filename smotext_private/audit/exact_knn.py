"""Exact k nearest neighbours by inner product, fast enough for 100,000 queries x 1,000,000 sources.

The score of a (query, source) pair is defined once, :func:`exact_scores`: the inner product of
the two float32 vectors with every product formed exactly in float64, summed in a fixed order and
rounded to float32. It is what float32 brute force computes (up to the last bits that a BLAS's
summation order changes), but it does not depend on the BLAS, the machine, the batch or the shard:
the same pair gets the same bits everywhere. Ranks are by score, descending, then by source row,
ascending, so ties are broken the same way everywhere too.

Two stages, provably exact:

1. A cheap pass scores every pair approximately with a rigorous bound ``eps`` on its error
   (float32 BLAS for small problems; bfloat16 inputs with float32 accumulation, on AMX where the
   CPU has it, for large ones). From the approximate scores a lower bound ``L`` of each query's
   k-th best exact score is derived.
2. Every source whose approximate score is at least ``L - eps`` could be in the top k; all of them,
   and only they, are scored exactly. A source left out has an exact score below ``L``, so below
   the k-th best: approximate search never decides the result, and ties at the k-th place are all
   scored, so the tie-break by row is exact too.
"""

from __future__ import annotations

import math

import numpy as np

SMALL_PAIRS = 20_000_000  # up to this many pairs, the first stage is one float32 BLAS product
QUERY_BLOCK = 1024        # queries per bfloat16 product
SOURCE_CHUNK = 65_536     # sources per bfloat16 product
GROUP = 2048              # sources per group maximum in the bfloat16 pass
_RESCORE_BATCH = 32_768   # pairs per exact-scoring batch


def exact_scores(queries: np.ndarray, base: np.ndarray, qi: np.ndarray, bj: np.ndarray) -> np.ndarray:
    """The exact score of each pair (``queries[qi[n]]``, ``base[bj[n]]``): float64 products (exact for float32
    inputs), summed along the row by numpy's fixed pairwise order, rounded to float32."""
    out = np.empty(len(qi), np.float32)
    for s in range(0, len(qi), _RESCORE_BATCH):
        e = min(s + _RESCORE_BATCH, len(qi))
        prod = queries[qi[s:e]].astype(np.float64)
        prod *= base[bj[s:e]]
        out[s:e] = prod.sum(axis=1)
    return out


def _gamma(d: int, unit: float) -> float:
    """Higham's gamma_d: the relative bound on a d-term float sum's rounding error, in any summation order."""
    return d * unit / (1.0 - d * unit)


def _slack(d: int) -> float:
    """What :func:`exact_scores` may differ from the real inner product by (float32 rounding of a value <= ~1, float64 sum)."""
    return 2.0 ** -23 + _gamma(d, 2.0 ** -53)


def merge_topk(q: np.ndarray, ids: np.ndarray, scores: np.ndarray, n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` (score descending, id ascending) of (query, id, score) triples, per query.

    Returns (scores, ids) of shape (n_queries, k); missing places hold -inf and -1. The triples must not
    repeat a (query, id) pair.
    """
    out_s = np.full((n_queries, k), -np.inf, np.float32)
    out_i = np.full((n_queries, k), -1, np.int64)
    if len(q) == 0 or k == 0:
        return out_s, out_i
    order = np.lexsort((ids, -scores.astype(np.float64), q))
    q, ids, scores = q[order], ids[order], scores[order]
    first = np.searchsorted(q, q, side="left")
    rank = np.arange(len(q)) - first
    keep = rank < k
    out_s[q[keep], rank[keep]] = scores[keep]
    out_i[q[keep], rank[keep]] = ids[keep]
    return out_s, out_i


def _topk_small(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Both stages with a float32 BLAS product as the first: its error is at most gamma_d |q| |b| per pair."""
    approx = queries @ base.T
    eps = (2.0 * _gamma(queries.shape[1], 2.0 ** -24) * np.linalg.norm(queries, axis=1).astype(np.float64)
           * float(np.linalg.norm(base, axis=1).max()) + _slack(queries.shape[1]))
    kth = np.partition(approx, approx.shape[1] - k, axis=1)[:, approx.shape[1] - k].astype(np.float64)
    # the k sources at or above the k-th approximate score have exact scores >= kth - eps: a lower bound L
    thr = _round_down(kth - 2.0 * eps)
    qi, bj = np.nonzero(approx >= thr[:, None])
    return merge_topk(qi, bj, exact_scores(queries, base, qi, bj), len(queries), k)


def _round_down(x: np.ndarray) -> np.ndarray:
    """float64 thresholds as float32, never above their float64 value."""
    y = np.asarray(x, np.float64).astype(np.float32)
    return np.where(y.astype(np.float64) > x, np.nextafter(y, np.float32(-np.inf)), y).astype(np.float32)


def topk(base: np.ndarray, queries: np.ndarray, k: int, *, method: str = "auto",
         prepared: object = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores (n_queries, k) and rows of the ``k`` best ``base`` rows for each query (k <= len(base)).

    ``base`` and ``queries`` are C-contiguous float32. ``method``: ``"auto"`` (float32 first stage up to
    ``SMALL_PAIRS`` pairs, bfloat16 beyond), ``"float32"``, ``"bfloat16"`` or ``"brute"`` (every pair scored
    exactly: the reference the others are tested against); ``prepared``: the bfloat16 sources
    (``exact_bf16.Bf16Base``) when the caller keeps them between calls.
    """
    n, m = len(base), len(queries)
    k = min(k, n)
    if k == 0 or m == 0:
        return np.zeros((m, k), np.float32), np.zeros((m, k), np.int64)
    norms = np.linalg.norm(queries, axis=1)
    zero = norms == 0  # every score exactly 0: the first k rows
    out_s = np.zeros((m, k), np.float32)
    out_i = np.tile(np.arange(k, dtype=np.int64), (m, 1))
    rows = np.flatnonzero(~zero)
    if len(rows) == 0:
        return out_s, out_i
    q = np.ascontiguousarray(queries[rows])
    if method == "auto":
        method = "float32" if n * len(rows) <= SMALL_PAIRS else "bfloat16"
    if method == "brute":
        qi, bj = np.divmod(np.arange(len(rows) * n, dtype=np.int64), n)
        s, i = merge_topk(qi, bj, exact_scores(q, base, qi, bj), len(rows), k)
    elif method == "float32":
        s, i = _topk_small(q, base, k)
    elif method == "bfloat16":
        from smotext_private.audit.exact_bf16 import topk_bf16

        s, i = topk_bf16(base, q, k, prepared=prepared)
    else:
        raise ValueError(f"unknown method {method!r}")
    out_s[rows], out_i[rows] = s, i
    return out_s, out_i


def error_bound_bf16(q_norm: np.ndarray, q_resid: np.ndarray, b_norm_max: float, b_resid_max: float, d: int) -> np.ndarray:
    """Per query: a bound on |bfloat16 approximate score - exact score| over every source.

    ``q = bq + rq`` and ``b = bb + rb`` (bq, bb: the bfloat16 roundings). Then
    ``q.b - bq.bb = bq.rb + rq.bb + rq.rb`` (Cauchy-Schwarz on each), the float32 accumulation of the
    exact bfloat16 products adds at most ``gamma_d |bq| |bb|`` (doubled: the order inside the kernel is
    unknown), the bfloat16 output at most a relative ``2**-8`` (round to nearest), and the exact score
    itself differs from the real inner product by ``_slack``.
    """
    v = q_norm * b_norm_max
    acc = 2.0 * _gamma(d, 2.0 ** -24) * v
    inputs = q_norm * b_resid_max + q_resid * b_norm_max + q_resid * b_resid_max
    out = 2.0 ** -8 * (v + inputs + acc)
    return (inputs + acc + out + _slack(d)) * (1.0 + 1e-6) + 1e-12


def describe() -> dict:
    """The method's settings, for a report."""
    return {"small_pairs": SMALL_PAIRS, "query_block": QUERY_BLOCK, "source_chunk": SOURCE_CHUNK, "group": GROUP,
            "unit_bf16": math.ldexp(1.0, -8)}
