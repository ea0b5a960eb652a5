"""The large-problem first stage of :mod:`exact_knn`: bfloat16 products in torch (AMX on CPUs that have it).

For a block of queries, the sources are read chunk by chunk. Each chunk's approximate scores
(bfloat16) are reduced to one maximum per group of ``GROUP`` sources; the best ``k`` group maxima
seen so far and the exact top ``k`` found so far give each query a lower bound ``L`` of its k-th
best exact score. Only groups whose maximum reaches ``L - eps`` are read again, and only their
sources at or above ``L - eps`` are scored exactly. A chunk read early is judged with the bound
known then, never a higher one, so nothing that could be in the top ``k`` is skipped.

Group maxima are taken over the bfloat16 bits as int16: for non-negative values the order is the
same; a group whose int16 maximum decodes to a negative value holds only negative scores (the
decoded value is then one of them, not their maximum), and such a group is read whenever the
threshold is not above zero.
"""

from __future__ import annotations

import math

import numpy as np

from smotext_private.audit.exact_knn import (GROUP, QUERY_BLOCK, SOURCE_CHUNK, _gamma, error_bound_bf16, exact_scores,
                                             merge_topk)


STATS = {"queries": 0, "rescored": 0}  # pairs scored exactly after the bfloat16 pass (what a report may quote)


class Bf16Base:
    """The sources as bfloat16 rows, with the norms the error bound needs (built once, reused per query block)."""

    def __init__(self, base: np.ndarray) -> None:
        import torch

        self.base = base
        self.rows = torch.from_numpy(base).to(torch.bfloat16)
        # Largest norms of the bfloat16 rows and of the rounding residuals, in float32 and then rounded up:
        # a bfloat16 value is a float32 one, and x - bf16(x) is exact in float32 (Sterbenz: bf16(x) is within
        # a factor 2 of x); the sums of squares err by at most gamma_d relatively, the square root by 2**-24.
        sq_norm, sq_resid = 0.0, 0.0
        for s in range(0, len(base), SOURCE_CHUNK):
            approx = self.rows[s : s + SOURCE_CHUNK].to(torch.float32).numpy()
            resid = base[s : s + SOURCE_CHUNK] - approx
            sq_norm = max(sq_norm, float(np.einsum("ij,ij->i", approx, approx).max(initial=0.0)))
            sq_resid = max(sq_resid, float(np.einsum("ij,ij->i", resid, resid).max(initial=0.0)))
        up = (1.0 + 2.0 * _gamma(base.shape[1] + 1, 2.0 ** -24)) * (1.0 + 2.0 ** -22)
        self.norm_max, self.resid_max = math.sqrt(sq_norm * up) * up, math.sqrt(sq_resid * up) * up


def _query_parts(queries: np.ndarray, base: Bf16Base) -> tuple:
    import torch

    q16 = torch.from_numpy(queries).to(torch.bfloat16)
    approx = q16.to(torch.float64).numpy()
    q_norm = np.linalg.norm(approx, axis=1)
    q_resid = np.linalg.norm(queries.astype(np.float64) - approx, axis=1)
    eps = error_bound_bf16(q_norm, q_resid, base.norm_max, base.resid_max, queries.shape[1])
    return q16, eps


def _group_max(tile, n_valid: int):
    """(maxima as float32 numpy array (B, groups), tile viewed as (B, groups, GROUP)); columns past ``n_valid`` are -inf."""
    import torch

    if n_valid < tile.shape[1]:
        tile[:, n_valid:] = -torch.inf
    grouped = tile.view(tile.shape[0], -1, GROUP)
    gmax = grouped.view(torch.int16).amax(dim=2).view(torch.bfloat16).to(torch.float32).numpy()
    return gmax, grouped


def _candidates(gmax: np.ndarray, grouped, thr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query, column in the chunk) of every approximate score at or above its query's threshold."""
    import torch

    survive = (gmax >= thr[:, None]) | ((gmax < 0) & (thr[:, None] <= 0))
    qi, gi = np.nonzero(survive)
    if len(qi) == 0:
        return qi, gi
    vals = grouped[torch.from_numpy(qi), torch.from_numpy(gi)].to(torch.float32).numpy()
    pi, pos = np.nonzero(vals >= thr[qi, None])
    return qi[pi], gi[pi] * GROUP + pos


def _block(base: Bf16Base, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` of one block of queries."""
    import torch

    from smotext_private.audit.exact_knn import _round_down

    q16, eps = _query_parts(queries, base)
    b = len(queries)
    run_s = np.full((b, k), -np.inf, np.float32)
    run_i = np.full((b, k), -1, np.int64)
    run_g = np.full((b, k), -np.inf, np.float32)  # the best k group maxima so far: k distinct sources' approximations
    n = len(base.base)
    tile = torch.empty((b, SOURCE_CHUNK), dtype=torch.bfloat16)
    for c0 in range(0, n, SOURCE_CHUNK):
        c1 = min(n, c0 + SOURCE_CHUNK)
        width = -(-(c1 - c0) // GROUP) * GROUP
        out = tile[:, :width] if width == SOURCE_CHUNK else torch.empty((b, width), dtype=torch.bfloat16)
        if c1 - c0 == width:
            torch.mm(q16, base.rows[c0:c1].T, out=out)
        else:
            out[:, : c1 - c0] = torch.mm(q16, base.rows[c0:c1].T)
        gmax, grouped = _group_max(out, c1 - c0)
        run_g = -np.sort(-np.concatenate([run_g, gmax], axis=1), axis=1)[:, :k] if gmax.shape[1] else run_g
        lower = np.maximum(run_g[:, k - 1].astype(np.float64) - eps, run_s[:, k - 1].astype(np.float64))
        qi, col = _candidates(gmax, grouped, _round_down(lower - eps))
        if len(qi):
            bj = col.astype(np.int64) + c0
            STATS["rescored"] += len(bj)
            s = exact_scores(queries, base.base, qi, bj)
            live = run_i >= 0
            rq = np.nonzero(live)[0]
            run_s, run_i = merge_topk(np.concatenate([rq, qi]), np.concatenate([run_i[live], bj]),
                                      np.concatenate([run_s[live], s]), b, k)
    return run_s, run_i


def topk_bf16(base: np.ndarray, queries: np.ndarray, k: int, *, prepared: Bf16Base | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` (scores, rows) of ``base`` for every query (no zero queries: see ``exact_knn.topk``)."""
    prepared = prepared if prepared is not None else Bf16Base(base)
    STATS["queries"] += len(queries)
    parts = [_block(prepared, np.ascontiguousarray(queries[s : s + QUERY_BLOCK]), k)
             for s in range(0, len(queries), QUERY_BLOCK)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
